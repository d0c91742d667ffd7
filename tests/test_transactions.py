"""Chargers run transactions: ids, replays, unknown stops, meter glitches, restarts, several chargers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import (
    DOMAIN,
    EVENT_ID_TAG_PRESENTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import entity_id, find_device, full_state, has_entity, sampled, state, wait_for

STARTED_FIELDS = {"charge_point_id", "connector_id", "transaction_id", "id_tag", "meter_start", "timestamp"}
STOPPED_FIELDS = STARTED_FIELDS | {"meter_stop", "energy", "duration", "reason"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def register(wh: float) -> list[dict[str, str]]:
    return [sampled(str(wh), "Energy.Active.Import.Register", "Wh")]


def stored(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    data: dict[str, Any] = hass_storage[f"{DOMAIN}.{entry_id}"]["data"]
    return data


async def test_transaction_ids_are_unique_and_increasing(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    ids: list[int] = []
    async with charger(port, "CP-1") as one, charger(port, "CP-2") as two:
        await one.boot()
        await two.boot()
        for round_ in range(3):
            started_one = await one.start_transaction(1, "CARD-A", 100 * round_)
            started_two = await two.start_transaction(1, "CARD-B", 100 * round_)
            ids += [started_one.transaction_id, started_two.transaction_id]
            await one.stop_transaction(started_one.transaction_id, 100 * round_ + 50)
            await two.stop_transaction(started_two.transaction_id, 100 * round_ + 50)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, int) and i > 0 for i in ids)


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_replayed_start_transaction_gets_the_same_id(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)
    when = iso(datetime.now(UTC) - timedelta(minutes=5))
    async with charger(port_of(entry), "CP-RP") as cp:
        await cp.boot()
        first = await cp.start_transaction(1, "CARD", 1234, timestamp=when)
        # The answer got lost; the charger sends the same StartTransaction again.
        again = await cp.start_transaction(1, "CARD", 1234, timestamp=when)
        assert again.transaction_id == first.transaction_id
        assert again.id_tag_info["status"] == "Accepted"
        # Once written, the counter and the open transaction are on disk.
        data = stored(hass_storage, entry.entry_id)
        assert data["next_transaction_id"] == first.transaction_id + 1
        assert [t["transaction_id"] for t in data["open_transactions"]] == [first.transaction_id]

        # A different start (other meterStart) is a new transaction.
        other = await cp.start_transaction(2, "CARD", 1234, timestamp=when)
        assert other.transaction_id > first.transaction_id

        await cp.stop_transaction(first.transaction_id, 2000)
        # Replayed after its stop: still the same id, and it does not open again.
        late = await cp.start_transaction(1, "CARD", 1234, timestamp=when)
        assert late.transaction_id == first.transaction_id
        await hass.async_block_till_done()

    central = hub_of(entry).central
    assert first.transaction_id not in central.open_transactions
    assert list(central.open_transactions) == [other.transaction_id]
    assert [e.data["transaction_id"] for e in started] == [first.transaction_id, other.transaction_id]
    assert len([e for e in presented if e.data.get("connector_id") is not None]) == 2


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_stop_transaction_events_and_sensors(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    begin = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    end = begin + timedelta(hours=1, seconds=30)
    async with charger(port_of(entry), "CP-E") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        start = await cp.start_transaction(1, "CARD-E", 10_000, timestamp=iso(begin))
        tx = start.transaction_id
        await hass.async_block_till_done()
        assert state(hass, "CP-E_1_transaction_id") == str(tx)
        assert state(hass, "CP-E_1_id_tag") == "CARD-E"
        assert datetime.fromisoformat(state(hass, "CP-E_1_session_start")) == begin
        assert float(state(hass, "CP-E_1_session_energy")) == 0
        assert state(hass, "CP-E_1_stop_reason") == "unknown"

        answer = await cp.send(
            call.StopTransaction(
                transaction_id=tx,
                meter_stop=17_250,
                timestamp=iso(end),
                reason="EVDisconnected",
                transaction_data=[
                    {
                        "timestamp": iso(begin),
                        "sampledValue": [sampled("10000", "Energy.Active.Import.Register", "Wh",
                                                 context="Transaction.Begin")],
                    },
                    {
                        "timestamp": iso(begin + timedelta(minutes=30)),
                        "sampledValue": [sampled("13.5", "Energy.Active.Import.Register", "kWh"),
                                         sampled("7200", "Power.Active.Import", "W")],
                    },
                    {
                        "timestamp": iso(end),
                        "sampledValue": [sampled("17250", "Energy.Active.Import.Register", "Wh",
                                                 context="Transaction.End")],
                    },
                ],
            )
        )
        # No idTag in the stop: no idTagInfo in the answer.
        assert answer.id_tag_info is None
        await hass.async_block_till_done()
        assert float(state(hass, "CP-E_1_session_energy")) == 7.25
        assert state(hass, "CP-E_1_stop_reason") == "ev_disconnected"
        assert float(state(hass, "CP-E_1_energy_active_import_register")) == 17.25
        # The power read during the session (W, shown in kW) ended with it (issue 19: no stale power).
        power = full_state(hass, "CP-E_1_power_active_import")
        assert (float(power.state), power.attributes["unit_of_measurement"]) == (0, "kW")
        # The last session stays visible.
        assert state(hass, "CP-E_1_transaction_id") == str(tx)

        second = await cp.start_transaction(1, "CARD-E", 17_250)
        await cp.stop_transaction(second.transaction_id, 18_250)
        await hass.async_block_till_done()
        assert state(hass, "CP-E_1_stop_reason") == "local"
        assert float(state(hass, "CP-E_1_session_energy")) == 1.0

    assert set(started[0].data) == STARTED_FIELDS
    assert started[0].data == {
        "charge_point_id": "CP-E",
        "connector_id": 1,
        "transaction_id": tx,
        "id_tag": "CARD-E",
        "meter_start": 10_000,
        "timestamp": begin.isoformat(),
    }
    first_stop = stopped[0].data
    assert set(first_stop) >= STOPPED_FIELDS
    assert first_stop["transaction_id"] == tx
    assert first_stop["meter_stop"] == 17_250
    assert first_stop["energy"] == 7.25
    assert first_stop["duration"] == 3630
    assert first_stop["reason"] == "ev_disconnected"
    assert first_stop["timestamp"] == begin.isoformat()
    assert stopped[1].data["reason"] == "local"


async def test_stop_for_an_unknown_transaction_is_answered_and_recorded(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    hub_of(entry).central.set_id_tag(IdTag("KNOWN"))
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port_of(entry), "CP-UK") as cp:
        await cp.boot()
        # The charger ran a session while this central system did not know it (another backend).
        answer = await cp.stop_transaction(777, 5000, reason="PowerLoss", id_tag="KNOWN")
        assert answer.id_tag_info["status"] == "Accepted"
        # Replayed: answered again, recorded once.
        again = await cp.stop_transaction(777, 5000, reason="PowerLoss", id_tag="KNOWN")
        assert again.id_tag_info["status"] == "Accepted"
        unknown_tag = await cp.stop_transaction(
            778,
            10,
            id_tag="STRANGER",
            transaction_data=[{"timestamp": iso(datetime.now(UTC)), "sampledValue": register(10)}],
        )
        assert unknown_tag.id_tag_info["status"] == "Invalid"
        await hass.async_block_till_done()
        # Its readings belong to a connector nobody knows: they are not the charger's main meter.
        assert not has_entity(hass, "CP-UK_0_energy_active_import_register")

    recorded = [t for t in hub_of(entry).central.recent_transactions if t.transaction_id == 777]
    assert len(recorded) == 1
    assert recorded[0].meter_stop == 5000
    assert recorded[0].reason == "PowerLoss"
    assert not recorded[0].start_seen
    assert [e.data["transaction_id"] for e in stopped] == [777, 778]
    event = stopped[0].data
    assert event["charge_point_id"] == "CP-UK"
    assert event["meter_stop"] == 5000
    assert event["reason"] == "power_loss"
    assert event["energy"] is None
    assert event["meter_start"] is None


async def test_register_glitch_to_zero_does_not_drop_energy(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port_of(entry), "CP-G") as cp:
        await cp.boot()
        start = await cp.start_transaction(1, "CARD", 1000)
        tx = start.transaction_id
        await cp.meter(1, register(5000), transaction_id=tx)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_energy_active_import_register")) == 5.0
        assert float(state(hass, "CP-G_1_session_energy")) == 4.0

        # The meter glitches to 0 for one reading (without transactionId: the connector's session).
        await cp.meter(1, register(0))
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_energy_active_import_register")) == 5.0
        assert float(state(hass, "CP-G_1_session_energy")) == 4.0

        # It recovers: the register goes on from where it was.
        await cp.meter(1, register(5200), transaction_id=tx)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_energy_active_import_register")) == 5.2
        assert float(state(hass, "CP-G_1_session_energy")) == 4.2

        # A real reset (the lower value keeps coming) is shown once it is confirmed.
        await cp.meter(1, register(100), transaction_id=tx)
        await cp.meter(1, register(150), transaction_id=tx)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_energy_active_import_register")) == 5.2
        await cp.meter(1, register(200), transaction_id=tx)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_energy_active_import_register")) == 0.2
        # The session never goes negative nor backwards.
        assert float(state(hass, "CP-G_1_session_energy")) == 4.2

        # meterStop below meterStart (the reset): the session keeps the energy it saw.
        await cp.stop_transaction(tx, 300)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_session_energy")) == 4.2

        # No readings at all and a meterStop below meterStart: zero, not negative.
        other = await cp.start_transaction(1, "CARD", 9000)
        await cp.stop_transaction(other.transaction_id, 100)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-G_1_session_energy")) == 0
    assert stopped[0].data["energy"] == 4.2
    assert stopped[1].data["energy"] == 0


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_restart_keeps_open_transactions_and_the_counter(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port, "CP-RS") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        start = await cp.start_transaction(1, "CARD-R", 20_000)
        tx = start.transaction_id
        await cp.meter(1, register(23_000), transaction_id=tx)
        await cp.meter(1, [sampled("11000", "Power.Active.Import", "W")], transaction_id=tx)
        await hass.async_block_till_done()

    # Home Assistant restarts (the entry is reloaded); the charger keeps charging meanwhile.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # The charger's entities are back before it says anything.
    assert state(hass, "CP-RS_0_connected", "binary_sensor") == "off"
    assert state(hass, "CP-RS_1_transaction_id") == str(tx)
    assert state(hass, "CP-RS_1_id_tag") == "CARD-R"
    assert float(state(hass, "CP-RS_1_session_energy")) == 3.0
    assert hub_of(entry).central.open_transactions[tx].meter_start == 20_000

    async with charger(port, "CP-RS") as cp:
        # It reconnects without a BootNotification and carries on.
        await wait_for(lambda: state(hass, "CP-RS_0_connected", "binary_sensor") == "on", what="reconnect")
        await cp.status(1, "Charging")
        await cp.meter(1, register(24_000), transaction_id=tx)
        await hass.async_block_till_done()
        assert state(hass, "CP-RS_1_status") == "charging"
        assert float(state(hass, "CP-RS_1_power_active_import")) == pytest.approx(11.0)  # W, shown in kW
        assert float(state(hass, "CP-RS_1_session_energy")) == 4.0

        answer = await cp.stop_transaction(tx, 25_500, reason="EVDisconnected", id_tag="CARD-R")
        assert answer.id_tag_info["status"] == "Accepted"
        await hass.async_block_till_done()
        assert float(state(hass, "CP-RS_1_session_energy")) == 5.5
        assert state(hass, "CP-RS_1_stop_reason") == "ev_disconnected"

        following = await cp.start_transaction(1, "CARD-R", 25_500)
        assert following.transaction_id > tx

    assert len(stopped) == 1
    assert stopped[0].data["transaction_id"] == tx
    assert stopped[0].data["energy"] == 5.5
    assert stopped[0].data["meter_start"] == 20_000

    # Twice more, with nothing open: the counter never goes back.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port, "CP-RS") as cp:
        await cp.stop_transaction(following.transaction_id, 26_000)
        third = await cp.start_transaction(1, "CARD-R", 26_000)
        assert third.transaction_id > following.transaction_id


async def test_known_charger_is_restored_with_its_devices(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-K") as cp:
        await cp.boot(firmware_version="2.1")
        await cp.status(1, "Available")
        await cp.status(2, "Preparing")
        await cp.meter(2, register(900))
        await hass.async_block_till_done()

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    charger_device = find_device(hass, "CP-K")
    assert charger_device is not None
    assert charger_device.sw_version == "2.1"
    second = find_device(hass, "CP-K_2")
    assert second is not None
    assert second.via_device_id == charger_device.id
    # Live values need the charger; they come back with it, from the stored state.
    assert state(hass, "CP-K_2_status") == "unavailable"
    assert state(hass, "CP-K_2_energy_active_import_register") == "unavailable"
    assert state(hass, "CP-K_2_session_energy") == "unknown"

    async with charger(port_of(entry), "CP-K"):
        await wait_for(lambda: state(hass, "CP-K_2_status") == "preparing", what="restored status")
        assert state(hass, "CP-K_1_status") == "available"
        assert float(state(hass, "CP-K_2_energy_active_import_register")) == 0.9
        assert state(hass, "CP-K_0_connected", "binary_sensor") == "on"


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_multi_connector_charger_and_single_connector_charger(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "DUO") as duo, charger(port, "SOLO") as solo:
        await duo.boot()
        await solo.boot()
        await duo.status(1, "Available")
        await solo.status(1, "Available")
        await duo.status(2, "Charging")
        tx_duo = (await duo.start_transaction(2, "CARD-D", 0)).transaction_id
        tx_solo = (await solo.start_transaction(1, "CARD-S", 500)).transaction_id
        await duo.meter(2, register(1500), transaction_id=tx_duo)
        await solo.meter(1, register(700), transaction_id=tx_solo)
        await hass.async_block_till_done()

        entities = er.async_get(hass)
        duo_device = find_device(hass, "DUO")
        solo_device = find_device(hass, "SOLO")
        assert duo_device is not None
        assert solo_device is not None
        for number in (1, 2):
            connector = find_device(hass, f"DUO_{number}")
            assert connector is not None
            assert connector.name == f"DUO Connector {number}"
            assert connector.via_device_id == duo_device.id
            status = entities.async_get(entity_id(hass, f"DUO_{number}_status"))
            assert status is not None
            assert status.device_id == connector.id
        assert find_device(hass, "SOLO_1") is None
        solo_status = entities.async_get(entity_id(hass, "SOLO_1_status"))
        assert solo_status is not None
        assert solo_status.device_id == solo_device.id
        charger_status = entities.async_get(entity_id(hass, "DUO_0_status"))
        assert charger_status is not None
        assert charger_status.device_id == duo_device.id

        # The two chargers keep their own state.
        assert state(hass, "DUO_1_status") == "available"
        assert state(hass, "DUO_2_status") == "charging"
        assert float(state(hass, "DUO_2_session_energy")) == 1.5
        assert float(state(hass, "SOLO_1_session_energy")) == 0.2
        assert state(hass, "DUO_1_transaction_id") == "unknown"

        # A third connector reported later gets its device at once.
        await duo.status(3, "Available")
        await hass.async_block_till_done()
        third = find_device(hass, "DUO_3")
        assert third is not None
        assert third.via_device_id == duo_device.id
        assert state(hass, "DUO_3_status") == "available"

        # One charger leaving does not affect the other.
        await duo.connection.close()
        await wait_for(lambda: state(hass, "DUO_0_connected", "binary_sensor") == "off", what="DUO offline")
        assert state(hass, "SOLO_0_connected", "binary_sensor") == "on"
        await solo.stop_transaction(tx_solo, 900)
        await hass.async_block_till_done()
        assert float(state(hass, "SOLO_1_session_energy")) == 0.4


async def test_second_connector_moves_the_first_onto_its_own_device(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "GROW") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await cp.meter(1, [sampled("16", "Current.Import", "A")])
        await hass.async_block_till_done()
        entities = er.async_get(hass)
        charger_device = find_device(hass, "GROW")
        assert charger_device is not None
        first = entities.async_get(entity_id(hass, "GROW_1_status"))
        assert first is not None
        assert first.device_id == charger_device.id
        assert full_state(hass, "GROW_1_status").attributes["friendly_name"] == "GROW Connector 1 Status"
        assert full_state(hass, "GROW_1_current_import").attributes["friendly_name"] == "GROW Connector 1 Current"

        await cp.status(2, "Available")
        await hass.async_block_till_done()
        connector_1 = find_device(hass, "GROW_1")
        assert connector_1 is not None
        assert connector_1.via_device_id == charger_device.id
        for key in ("status", "current_import", "session_energy"):
            moved = entities.async_get(entity_id(hass, f"GROW_1_{key}"))
            assert moved is not None
            assert moved.device_id == connector_1.id, key
        assert full_state(hass, "GROW_1_status").state == "available"
        # The name follows the move: the connector device carries the "Connector 1" part now.
        assert full_state(hass, "GROW_1_status").attributes["friendly_name"] == "GROW Connector 1 Status"
        assert full_state(hass, "GROW_2_status").attributes["friendly_name"] == "GROW Connector 2 Status"
        assert full_state(hass, "GROW_0_status").attributes["friendly_name"] == "GROW Status"
        assert full_state(hass, "GROW_1_current_import").attributes["friendly_name"] == "GROW Connector 1 Current"


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_a_charger_cannot_touch_another_chargers_transaction(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port, "OWNER") as owner, charger(port, "STRAY") as stray:
        await owner.boot()
        await stray.boot()
        tx = (await owner.start_transaction(1, "CARD-O", 1000)).transaction_id
        await owner.meter(1, register(2000), transaction_id=tx)

        # Another charger uses the same id (left over from another central system, say).
        await stray.meter(1, register(90_000), transaction_id=tx)
        answer = await stray.stop_transaction(tx, 95_000, id_tag="CARD-S")
        assert answer.id_tag_info["status"] == "Accepted"
        await hass.async_block_till_done()

        central = hub_of(entry).central
        assert tx in central.open_transactions
        assert central.open_transactions[tx].charge_point_id == "OWNER"
        assert float(state(hass, "OWNER_1_session_energy")) == 1.0
        assert state(hass, "OWNER_1_transaction_id") == str(tx)
        assert state(hass, "OWNER_1_stop_reason") == "unknown"

        await owner.stop_transaction(tx, 3000)
        await hass.async_block_till_done()
        assert float(state(hass, "OWNER_1_session_energy")) == 2.0

    assert [(e.data["charge_point_id"], e.data["transaction_id"]) for e in stopped] == [
        ("STRAY", tx),
        ("OWNER", tx),
    ]
    assert stopped[1].data["energy"] == 2.0


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_restore_from_stored_state_never_reuses_an_id(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    started = iso(datetime.now(UTC) - timedelta(hours=1))
    # State written by an earlier run, with a counter that lags behind the ids in use and a few
    # entries this version cannot read.
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "next_transaction_id": 1,
            "chargers": [
                {
                    "charge_point_id": "OLD",
                    "accepted": True,
                    "boot": {"vendor": "Acme", "model": "W1", "unknown_field": 1},
                    "number_of_connectors": 1,
                    "connectors": [
                        {"connector_id": 0},
                        {
                            "connector_id": 1,
                            "status": "Charging",
                            "error_code": "NoError",
                            "status_timestamp": started,
                            "meters": {
                                "energy_active_import_register": {
                                    "value": 4000, "unit": "Wh", "timestamp": started,
                                    "measurand": "Energy.Active.Import.Register",
                                },
                                "voltage": {"value": "not a number", "timestamp": started},
                                "current_import": {"value": 16},
                            },
                        },
                    ],
                }
            ],
            "id_tags": [{"id_tag": "CARD-OLD", "status": "SomethingElse"}, {"id_tag": "CARD-OK"}],
            "open_transactions": [
                {"transaction_id": 41, "charge_point_id": "OLD", "connector_id": 1, "id_tag": "CARD-OK",
                 "meter_start": 1000, "start": started, "last_register_wh": 4000},
                {"transaction_id": 12, "charge_point_id": "GONE", "connector_id": 1, "id_tag": "CARD-OK",
                 "meter_start": 0, "start": started},
            ],
            "recent_transactions": [
                {"transaction_id": 40, "charge_point_id": "OLD", "connector_id": 1, "id_tag": "CARD-OK",
                 "meter_start": 0, "start": started, "meter_stop": 1000, "stop": started, "reason": "Local"},
                {"transaction_id": 900, "charge_point_id": "OLD", "connector_id": 0, "id_tag": None,
                 "meter_start": None, "start": None, "meter_stop": 5, "stop": started, "start_seen": False},
            ],
        },
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert state(hass, "OLD_1_transaction_id") == "41"
    assert float(state(hass, "OLD_1_session_energy")) == 3.0
    device = find_device(hass, "OLD")
    assert device is not None
    assert device.manufacturer == "Acme"
    central = hub_of(entry).central
    assert set(central.chargers["OLD"].connectors[1].meters) == {"energy_active_import_register"}

    async with charger(port_of(entry), "OLD") as cp:
        # Ids 41 (open) and 40 (stopped) were handed out; 900 was only ever seen in a stop.
        fresh = await cp.start_transaction(2, "CARD-OK", 0)
        assert fresh.transaction_id == 42
        # A stored id tag with a status this version does not know is not accepted.
        assert (await cp.authorize("CARD-OLD")).id_tag_info["status"] == "Invalid"
        await cp.stop_transaction(41, 6000)
        await hass.async_block_till_done()
        assert float(state(hass, "OLD_1_session_energy")) == 5.0
