"""Id tags limited to some chargers, their groups, and stored authorization data that cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of


async def test_a_card_for_other_chargers_may_still_end_its_own_and_its_groups_sessions(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    central = hub_of(entry).central
    central.set_id_tag(IdTag("MASTER", charge_point_ids=("CP-ELSEWHERE",)))
    central.set_id_tag(IdTag("CHILD", parent_id_tag="MASTER"))
    central.set_id_tag(IdTag("TRAVEL", charge_point_ids=("CP-ELSEWHERE",)))
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        # Not for this charger.
        assert (await cp.authorize("MASTER")).id_tag_info["status"] == "Invalid"
        assert (await cp.authorize("TRAVEL")).id_tag_info["status"] == "Invalid"

        # The child's session runs here: the master card (its parent) may stop it.
        started = await cp.start_transaction(1, "CHILD", 0)
        assert started.id_tag_info["status"] == "Accepted"
        assert (await cp.authorize("MASTER")).id_tag_info["status"] == "Accepted"
        stopped = await cp.stop_transaction(started.transaction_id, 1000, id_tag="MASTER")
        assert stopped.id_tag_info is not None and stopped.id_tag_info["status"] == "Accepted"

        # A session this central system never saw start, ended with the card that started it.
        stopped = await cp.stop_transaction(777, 2000, id_tag="TRAVEL")
        assert stopped.id_tag_info is not None and stopped.id_tag_info["status"] == "Accepted"


async def test_stored_reservations_and_presented_tags_that_cannot_be_read_are_dropped(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    now = datetime.now(UTC).isoformat()
    good = {"reservation_id": 5, "charge_point_id": "CP-1", "connector_id": 1, "id_tag": "CARD", "expiry_date": later}
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "next_transaction_id": 1,
            "authorization": {
                "reservations": [
                    good,
                    {**good, "reservation_id": 6, "expiry_date": None},  # no expiry
                    {**good, "reservation_id": "seven"},  # no number
                    {key: value for key, value in good.items() if key != "id_tag"},  # no id tag
                ],
                "next_reservation_id": 2,
                "presented_id_tags": [
                    {"id_tag": "SEEN", "charge_point_id": "CP-1", "timestamp": now, "status": "Invalid"},
                    {"id_tag": "NO-TIME", "charge_point_id": "CP-1", "status": "Invalid"},
                    {"charge_point_id": "CP-1", "timestamp": now, "status": "Invalid"},
                ],
            },
        },
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    auth = hub_of(entry).central.auth
    assert list(auth.reservations) == [5]
    assert [presented.id_tag for presented in auth.presented] == ["SEEN"]
    # The next reservation id is above every one in use, whatever was stored.
    assert auth.reservation_id(None) == 6
