"""Reservations: accepted, refused (faulted, occupied, ...), used, expired, cancelled, persisted ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from ocpp.v16 import call
import pytest

from .auth_charger import AuthCharger, boot_and_read
from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, device_id, state, wait_for


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


async def test_reservation_accepted_then_used(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-R", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp, connectors=2)
        connector_2 = device_id(hass, "CP-R_2")
        expiry = in_minutes(30)
        answer = await action(hass, "reserve_now", device_id=connector_2, id_tag="GUEST", expiry_date=expiry)
        assert answer["status"] == "Accepted"
        assert answer["reservation_id"] == 1
        assert answer["connector_id"] == 2
        assert cp.reservations[1]["connector_id"] == 2
        assert cp.reservations[1]["id_tag"] == "GUEST"
        # The connector shows Reserved at once, whether or not the charger reports it.
        await hass.async_block_till_done()
        assert state(hass, "CP-R_2_status") == "reserved"
        assert state(hass, "CP-R_1_status") == "available"
        await cp.status(2, "Reserved")
        assert state(hass, "CP-R_2_status") == "reserved"

        second = await action(
            hass, "reserve_now", device_id=device_id(hass, "CP-R"), connector_id=1, id_tag="HOST",
            parent_id_tag="TEAM", expiry_date=in_minutes(60),
        )
        assert (second["reservation_id"], second["parent_id_tag"]) == (2, "TEAM")
        assert set(hub.central.auth.reservations) == {1, 2}

        # The guest arrives: StartTransaction with the reservation id ends the reservation.
        await cp.status(2, "Preparing")
        start = await cp.send(
            call.StartTransaction(connector_id=2, id_tag="GUEST", meter_start=0, timestamp=now_iso(), reservation_id=1)
        )
        assert start.id_tag_info["status"] == "Accepted"
        assert set(hub.central.auth.reservations) == {2}
        assert hub.central.open_transactions[start.transaction_id].reservation_id == 1
        await hass.async_block_till_done()
        assert state(hass, "CP-R_2_status") == "preparing"


async def test_refusals_name_the_answer(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-N", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-N")
        for answer, key in (
            ("Faulted", "reservation_faulted"),
            ("Occupied", "reservation_occupied"),
            ("Unavailable", "reservation_unavailable"),
            ("Rejected", "reservation_rejected"),
        ):
            cp.answers["ReserveNow"] = answer
            with pytest.raises(HomeAssistantError) as raised:
                await action(hass, "reserve_now", device_id=dev, id_tag="X", expiry_date=in_minutes(5))
            assert raised.value.translation_key == key
            assert raised.value.translation_placeholders["status"] == answer
            assert raised.value.translation_placeholders["charge_point_id"] == "CP-N"
        assert hub_of(entry).central.auth.reservations == {}
        assert state(hass, "CP-N_1_status") == "available"
        # Every refused request used up its id: the next one is new.
        cp.answers["ReserveNow"] = "Accepted"
        answer = await action(hass, "reserve_now", device_id=dev, id_tag="X", expiry_date=in_minutes(5))
        assert answer["reservation_id"] == 5


async def test_reservation_expires(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-E", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-E")
        expiry = datetime.now(UTC) + timedelta(seconds=1)
        await action(hass, "reserve_now", device_id=dev, id_tag="LATE", expiry_date=expiry.isoformat())
        hub = hub_of(entry)
        assert 1 in hub.central.auth.reservations
        await hass.async_block_till_done()
        assert state(hass, "CP-E_1_status") == "reserved"
        await wait_for(lambda: not hub.central.auth.reservations, timeout=5, what="expiry")
        await hass.async_block_till_done()
        assert state(hass, "CP-E_1_status") == "available"


async def test_reservation_cancelled(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-C", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-C")
        answer = await action(hass, "reserve_now", device_id=dev, id_tag="A", expiry_date=in_minutes(10))
        reservation_id = answer["reservation_id"]
        await cp.status(1, "Reserved")
        cancelled = await action(hass, "cancel_reservation", device_id=dev, reservation_id=reservation_id)
        assert cancelled == {"status": "Accepted", "reservation_id": reservation_id}
        assert ("CancelReservation", {"reservation_id": reservation_id}) in cp.received
        assert hub.central.auth.reservations == {}
        # The charger reported Reserved itself: its Available follows from the charger.
        await cp.status(1, "Available")
        assert state(hass, "CP-C_1_status") == "available"

        # A reservation the charger does not know: Rejected is an error (and it is forgotten).
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "cancel_reservation", device_id=dev, reservation_id=reservation_id)
        assert raised.value.translation_key == "cancel_reservation_rejected"

        answer = await action(hass, "reserve_now", device_id=dev, id_tag="B", expiry_date=in_minutes(10))
        cp.reservations.clear()  # the charger lost it
        with pytest.raises(HomeAssistantError):
            await action(hass, "cancel_reservation", device_id=dev, reservation_id=answer["reservation_id"])
        assert hub.central.auth.reservations == {}
        await hass.async_block_till_done()
        assert state(hass, "CP-C_1_status") == "available"


async def test_faulted_connector_ends_its_reservation(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-F", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        await action(hass, "reserve_now", device_id=device_id(hass, "CP-F"), id_tag="A", expiry_date=in_minutes(10))
        await cp.status(1, "Faulted", error_code="GroundFailure")
        assert hub_of(entry).central.auth.reservations == {}
        assert state(hass, "CP-F_1_status") == "faulted"


async def test_connector_zero_and_bad_input(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-Z", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp, connectors=2)
        dev = device_id(hass, "CP-Z")
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "reserve_now", device_id=dev, connector_id=0, id_tag="A", expiry_date=in_minutes(5))
        assert raised.value.translation_key == "reserve_connector_zero"
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "reserve_now", device_id=dev, connector_id=1, id_tag="A", expiry_date=in_minutes(-5))
        assert raised.value.translation_key == "expiry_in_past"
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "reserve_now", device_id=dev, connector_id=3, id_tag="A", expiry_date=in_minutes(5))
        assert raised.value.translation_key == "invalid_connector"
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "reserve_now", device_id=dev, id_tag="A" * 21, expiry_date=in_minutes(5))
        assert raised.value.translation_key == "invalid_field"
        assert not any(name == "ReserveNow" for name, _ in cp.received)

        cp.set_config("ReserveConnectorZeroSupported", "1")
        await action(hass, "get_configuration", device_id=dev)
        answer = await action(hass, "reserve_now", device_id=dev, connector_id=0, id_tag="A", expiry_date=in_minutes(5))
        assert answer["connector_id"] == 0
        # Connector 0 reserves "any connector": no connector shows Reserved by itself.
        assert state(hass, "CP-Z_1_status") == "available"

        # An explicit id replaces that reservation (spec 5.13).
        answer = await action(
            hass, "reserve_now", device_id=dev, connector_id=2, id_tag="B", expiry_date=in_minutes(5),
            reservation_id=answer["reservation_id"],
        )
        reservations = hub_of(entry).central.auth.reservations
        assert list(reservations) == [answer["reservation_id"]]
        assert reservations[answer["reservation_id"]].connector_id == 2

        cp.set_config("SupportedFeatureProfiles", "Core,LocalAuthListManagement")
        await action(hass, "get_configuration", device_id=dev)
        for name, data in (("reserve_now", {"id_tag": "A", "expiry_date": in_minutes(5)}),
                           ("cancel_reservation", {"reservation_id": 1})):
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, name, device_id=dev, **data)
            assert raised.value.translation_key == "feature_not_supported"


async def test_reservations_and_ids_survive_a_restart(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-P", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-P")
        first = await action(hass, "reserve_now", device_id=dev, id_tag="A", expiry_date=in_minutes(30))
        await action(hass, "cancel_reservation", device_id=dev, reservation_id=first["reservation_id"])
        kept = await action(hass, "reserve_now", device_id=dev, id_tag="B", expiry_date=in_minutes(30))
        assert kept["reservation_id"] == 2

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = hub_of(entry)
    assert list(hub.central.auth.reservations) == [2]
    assert hub.central.auth.reservations[2].id_tag == "B"
    async with charger(port, "CP-P", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-P")
        # Ids are never handed out twice, not even the cancelled one.
        third = await action(hass, "reserve_now", device_id=dev, id_tag="C", expiry_date=in_minutes(30))
        assert third["reservation_id"] == 3
        # A reservation of another charger cannot be cancelled through this one.
        async with charger(port, "CP-Q", cls=AuthCharger) as other:
            assert isinstance(other, AuthCharger)
            await boot_and_read(hass, entry, other)
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "cancel_reservation", device_id=device_id(hass, "CP-Q"), reservation_id=3)
            assert raised.value.translation_key == "reservation_other_charger"


async def test_expired_while_home_assistant_was_down(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-D", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        await action(hass, "reserve_now", device_id=device_id(hass, "CP-D"), id_tag="A", expiry_date=in_minutes(30))
    hub = hub_of(entry)
    hub.central.auth.reservations[1].expiry_date = datetime.now(UTC) - timedelta(minutes=1)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: not hub_of(entry).central.auth.reservations, what="expired at start")
