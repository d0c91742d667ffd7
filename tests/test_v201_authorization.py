"""Reservations and local authorization lists for OCPP 2.0.1 stations (H01, H02, D01, D02)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.ocpp_cs.engine.util import format_datetime, utcnow

from .charger201 import Sim201Charger, charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, wait_for
from .test_local_list import add_tags
from .test_v201_device_model import booted


def last(cs: Sim201Charger, name: str) -> dict[str, Any]:
    """Return the last request `name` the station received."""
    return [data for action_name, data in cs.received if action_name == name][-1]


async def test_reservations(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger201(port_of(entry), "CS-R") as cs:
        # One EVSE: its connector is the station's device (reserve_now's default connector is 1).
        connector = await booted(hass, cs)
        expiry = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
        answer = await action(
            hass, "reserve_now", device_id=connector, id_tag="TAG1", expiry_date=expiry.isoformat(),
            parent_id_tag="GROUP",
        )
        reservation_id = answer["reservation_id"]
        assert answer["status"] == "Accepted"
        assert last(cs, "ReserveNow") == {
            "id": reservation_id,
            "expiry_date_time": format_datetime(expiry),
            "id_token": {"id_token": "TAG1", "type": "ISO14443"},
            "evse_id": 1,
            "group_id_token": {"id_token": "GROUP", "type": "Central"},
        }
        assert reservation_id in hub.central.auth.reservations

        # 2.0.1's own fields: the token's type and the connector type.
        answer = await action(
            hass, "reserve_now", device_id=connector, id_tag="TAG2", expiry_date=expiry.isoformat(),
            id_token_type="ISO15693", connector_type="cType2", reservation_id=77,
        )
        assert last(cs, "ReserveNow") == {
            "id": 77, "expiry_date_time": format_datetime(expiry),
            "id_token": {"id_token": "TAG2", "type": "ISO15693"}, "evse_id": 1, "connector_type": "cType2",
        }
        cs.answers["ReserveNow"] = "Occupied"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "reserve_now", device_id=connector, id_tag="TAG3", expiry_date=expiry.isoformat())
        assert raised.value.translation_key == "reservation_occupied"
        # Any EVSE (connector 0) only where the device model says the station takes it.
        dev = connector
        with pytest.raises(ServiceValidationError) as invalid:
            await action(hass, "reserve_now", device_id=dev, connector_id=0, id_tag="T", expiry_date=expiry.isoformat())
        assert invalid.value.translation_key == "reserve_connector_zero"

        answer = await action(hass, "cancel_reservation", device_id=dev, reservation_id=reservation_id)
        assert answer == {"status": "Accepted", "reservation_id": reservation_id}
        assert last(cs, "CancelReservation") == {"reservation_id": reservation_id}
        assert reservation_id not in hub.central.auth.reservations


async def test_local_lists(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-L") as cs:
        dev = await booted(hass, cs)
        answer = await action(
            hass, "send_local_list", device_id=dev, update_type="full",
            local_authorization_list=[
                {"id_tag": "CARD1", "id_tag_info": {"status": "Accepted", "expiry_date": "2030-01-01T00:00:00Z",
                                                    "parent_id_tag": "FAMILY"}},
                {"id_tag": "CARD2", "id_tag_info": {"status": "Blocked"}},
            ],
        )
        assert answer == {"status": "Accepted", "list_version": 1, "update_type": "full", "messages": 1}
        assert last(cs, "SendLocalList") == {
            "version_number": 1,
            "update_type": "Full",
            "local_authorization_list": [
                {"id_token": {"id_token": "CARD1", "type": "ISO14443"},
                 "id_token_info": {"status": "Accepted", "cache_expiry_date_time": "2030-01-01T00:00:00.000Z",
                                   "group_id_token": {"id_token": "FAMILY", "type": "Central"}}},
                {"id_token": {"id_token": "CARD2", "type": "ISO14443"}, "id_token_info": {"status": "Blocked"}},
            ],
        }
        # Differential: an entry without id_tag_info deletes the tag.
        answer = await action(
            hass, "send_local_list", device_id=dev, update_type="differential",
            local_authorization_list=[{"id_tag": "CARD2"}],
        )
        assert answer["list_version"] == 2
        assert last(cs, "SendLocalList") == {
            "version_number": 2, "update_type": "Differential",
            "local_authorization_list": [{"id_token": {"id_token": "CARD2", "type": "ISO14443"}}],
        }
        assert await action(hass, "get_local_list_version", device_id=dev) == {"list_version": 2}
        cs.answers["SendLocalList"] = "Failed"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "send_local_list", device_id=dev, update_type="full", local_authorization_list=[])
        assert raised.value.translation_placeholders["status"] == "Failed"
        assert last(cs, "SendLocalList") == {"version_number": 3, "update_type": "Full"}


async def test_local_list_sync_reaches_a_201_station(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(sync_local_list=True)
    await add_tags(hass, entry.entry_id, "ALICE")
    async with charger201(port_of(entry), "CS-Y") as cs:
        await booted(hass, cs, forget=False)
        await wait_for(lambda: any(name == "SendLocalList" for name, _ in cs.received), what="the list")
        sent = last(cs, "SendLocalList")
        assert sent["update_type"] == "Full"
        assert [entry["id_token"]["id_token"] for entry in sent["local_authorization_list"]] == ["ALICE"]
        # A new tag: only the change.
        await add_tags(hass, entry.entry_id, "BOB")
        await wait_for(lambda: last(cs, "SendLocalList")["update_type"] == "Differential", what="the change")
        assert last(cs, "SendLocalList")["local_authorization_list"] == [
            {"id_token": {"id_token": "BOB", "type": "ISO14443"}, "id_token_info": {"status": "Accepted"}}
        ]
