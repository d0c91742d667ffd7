"""OCPP 2.0.1 transactions: TransactionEvents on the same entities, history and events as 1.6 sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import Event, HomeAssistant
import pytest

from custom_components.ocpp_cs.const import (
    EVENT_ID_TAG_PRESENTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)
from custom_components.ocpp_cs.engine.state import IdTag

from .charger201 import charger201, sampled201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import state


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def readings(
    register_kwh: float, context: str = "Sample.Periodic", moment: datetime | None = None
) -> list[dict[str, Any]]:
    """A 2.0.1 meterValue: the register in kWh (unitOfMeasure), power in kW as 10^3 W, a phase current."""
    return [
        {
            "timestamp": iso(moment or datetime.now(UTC)),
            "sampledValue": [
                sampled201(register_kwh, "Energy.Active.Import.Register", "kWh", context=context),
                sampled201(7.36, "Power.Active.Import", "W", multiplier=3, context=context),
                sampled201(10.6, "Current.Import", "A", phase="L1", context=context),
                sampled201(231.2, "Voltage", "V", phase="L1-N", context=context),
            ],
        }
    ]


def listen(hass: HomeAssistant) -> dict[str, list[Event]]:
    events: dict[str, list[Event]] = {
        EVENT_TRANSACTION_STARTED: [], EVENT_TRANSACTION_STOPPED: [], EVENT_ID_TAG_PRESENTED: []
    }
    for name, bucket in events.items():
        hass.bus.async_listen(name, bucket.append)
    return events


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_full_session_of_transaction_events(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    events = listen(hass)
    central = hub_of(entry).central
    async with charger201(port_of(entry), "CS-1") as cs:
        await cs.boot()
        await cs.status(1, "Available")
        assert (await cs.authorize("CARD-1")).id_token_info["status"] == "Accepted"
        await cs.status(1, "Occupied")
        started = await cs.transaction_event(
            "Started", "TX-7f3a", "Authorized", id_token="CARD-1", charging_state="EVConnected",
            meter_value=readings(1.0, "Transaction.Begin"),
        )
        assert started.id_token_info["status"] == "Accepted"
        await hass.async_block_till_done()
        assert state(hass, "CS-1_1_status") == "preparing"
        assert state(hass, "CS-1_1_transaction_id") == "TX-7f3a"
        assert state(hass, "CS-1_1_id_tag") == "CARD-1"

        await cs.transaction_event("Updated", "TX-7f3a", "ChargingStateChanged", charging_state="Charging")
        await cs.transaction_event("Updated", "TX-7f3a", "MeterValuePeriodic", meter_value=readings(1.5))
        await hass.async_block_till_done()
        assert state(hass, "CS-1_1_status") == "charging"
        assert float(state(hass, "CS-1_1_session_energy")) == 0.5
        assert float(state(hass, "CS-1_1_energy_active_import_register")) == 1.5
        # unitOfMeasure's multiplier: 7.36 x 10^3 W.
        assert central.chargers["CS-1"].connectors[1].meters["power_active_import"].value == 7360
        assert float(state(hass, "CS-1_1_current_import_l1")) == 10.6
        assert float(state(hass, "CS-1_1_voltage_l1_n")) == 231.2

        await cs.transaction_event("Updated", "TX-7f3a", "ChargingStateChanged", charging_state="SuspendedEV")
        await hass.async_block_till_done()
        assert state(hass, "CS-1_1_status") == "suspended_ev"

        ended = await cs.transaction_event(
            "Ended", "TX-7f3a", "EVCommunicationLost", stopped_reason="EVDisconnected", charging_state="Idle",
            meter_value=readings(3.5, "Transaction.End"),
        )
        assert ended.id_token_info is None
        await hass.async_block_till_done()
        assert float(state(hass, "CS-1_1_session_energy")) == 2.5
        assert state(hass, "CS-1_1_stop_reason") == "ev_disconnected"
        assert state(hass, "CS-1_1_status") == "finishing"
        await cs.status(1, "Available")
        await hass.async_block_till_done()
        assert state(hass, "CS-1_1_status") == "available"

    assert central.chargers["CS-1"].connectors[1].energy_wh == 2500
    record = next(r for r in central.history if r.charge_point_id == "CS-1")
    assert (record.transaction_id, record.id_tag) == ("TX-7f3a", "CARD-1")
    started_event = events[EVENT_TRANSACTION_STARTED][0].data
    assert (started_event["transaction_id"], started_event["connector_id"], started_event["meter_start"]) == (
        "TX-7f3a", 1, 1000,
    )
    stopped_event = events[EVENT_TRANSACTION_STOPPED][0].data
    assert (stopped_event["transaction_id"], stopped_event["meter_stop"], stopped_event["energy"]) == (
        "TX-7f3a", 3500, 2.5,
    )
    assert stopped_event["reason"] == "ev_disconnected"
    assert central.observed_transactions == {}


async def test_offline_queue_and_its_replay_are_recorded_once(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    events = listen(hass)
    central = hub_of(entry).central
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    async with charger201(port_of(entry), "CS-OFF") as cs:
        await cs.boot()
        queue: list[dict[str, Any]] = [
            {"event_type": "Started", "trigger_reason": "CablePluggedIn", "seq_no": 0, "timestamp": iso(hour_ago),
             "meter_value": readings(10.0, "Transaction.Begin", hour_ago)},
            {"event_type": "Updated", "trigger_reason": "Authorized", "seq_no": 1, "id_token": "CARD-9",
             "timestamp": iso(hour_ago + timedelta(minutes=1)), "charging_state": "Charging"},
            {"event_type": "Updated", "trigger_reason": "MeterValuePeriodic", "seq_no": 2,
             "timestamp": iso(hour_ago + timedelta(minutes=30)),
             "meter_value": readings(13.0, moment=hour_ago + timedelta(minutes=30))},
            {"event_type": "Ended", "trigger_reason": "EVDeparted", "seq_no": 3, "stopped_reason": "ImmediateReset",
             "timestamp": iso(hour_ago + timedelta(minutes=50)),
             "meter_value": readings(14.0, "Transaction.End", hour_ago + timedelta(minutes=50))},
        ]
        # Sent once as the offline queue, then again (the station lost our answers).
        for _ in range(2):
            for event in queue:
                fields = dict(event)
                answer = await cs.transaction_event(
                    fields.pop("event_type"), "OFF-1", fields.pop("trigger_reason"), offline=True, **fields
                )
                if "id_token" in event:
                    assert answer.id_token_info["status"] == "Accepted"
        await hass.async_block_till_done()
    records = [r for r in central.history if r.charge_point_id == "CS-OFF"]
    assert len(records) == 1
    assert records[0].transaction_id == "OFF-1"
    assert records[0].id_tag == "CARD-9"
    assert records[0].start == hour_ago.replace(microsecond=hour_ago.microsecond)
    assert central.chargers["CS-OFF"].connectors[1].energy_wh == 4000
    assert len(events[EVENT_TRANSACTION_STARTED]) == len(events[EVENT_TRANSACTION_STOPPED]) == 1
    # ImmediateReset is 1.6's HardReset.
    assert events[EVENT_TRANSACTION_STOPPED][0].data["reason"] == "hard_reset"


async def test_authorize_id_tokens_of_any_type_under_the_same_policies(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    central = hub_of(entry).central
    central.set_id_tag(IdTag("CARD-OK", status="Accepted", parent_id_tag="FAMILY"))
    central.set_id_tag(IdTag("CARD-BAD", status="Blocked"))
    async with charger201(port_of(entry), "CS-A") as cs:
        await cs.boot()
        ok = await cs.authorize("CARD-OK", "eMAID")
        assert ok.id_token_info["status"] == "Accepted"
        assert ok.id_token_info["group_id_token"] == {"id_token": "FAMILY", "type": "Central"}
        assert (await cs.authorize("CARD-BAD", "ISO15693")).id_token_info["status"] == "Blocked"
        assert (await cs.authorize("STRANGER", "Central")).id_token_info["status"] == "Invalid"
        # The same answer in a TransactionEvent's idTokenInfo.
        answer = await cs.transaction_event("Started", "TX-B", "Authorized", id_token="CARD-BAD")
        assert answer.id_token_info["status"] == "Blocked"
        # Meter values outside a transaction: EVSE 0 is the station's main meter.
        await cs.meter(0, [sampled201(1234.0, "Energy.Active.Import.Register")])
        assert central.chargers["CS-A"].connectors[0].meters["energy_active_import_register"].value == 1234.0


async def test_a_station_clock_behind_ours_keeps_its_statuses(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    behind = datetime.now(UTC) - timedelta(minutes=2)
    async with charger201(port_of(entry), "CS-CLK") as cs:
        await cs.boot()
        await cs.status(1, "Occupied", timestamp=iso(behind))
        await cs.transaction_event("Started", "T-1", "Authorized", id_token="CARD", charging_state="Charging")
        await hass.async_block_till_done()
        assert state(hass, "CS-CLK_1_status") == "charging"
        await cs.transaction_event("Ended", "T-1", "EVDeparted", stopped_reason="EVDisconnected")
        await cs.status(1, "Available", timestamp=iso(behind + timedelta(seconds=30)))
        await hass.async_block_till_done()
        assert state(hass, "CS-CLK_1_status") == "available"
