"""Energy and cost corrections: 2.0.1 sessions without a start reading or superseded, late real stops."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.engine.orphans import DEFAULT_GRACE
from custom_components.ocpp_cs.engine.state import IdTag
from custom_components.ocpp_cs.engine.util import utcnow

from .charger201 import charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, state
from .test_restart_reconcile import charging_values, connected
from .test_v201_transactions import readings

# A 2.0.1 idToken may be 36 characters long (a 1.6 idTag 20).
LONG_TOKEN = "0123456789abcdef0123456789abcdef0123"


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_v201_per_session_register_without_started_reading(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    async with charger201(port_of(entry), "CS-1") as cs:
        await cs.boot()
        await cs.status(1, "Occupied")
        await cs.transaction_event(
            "Started", "TX-1", "Authorized", id_token="CARD-1", meter_value=readings(0.0, "Transaction.Begin")
        )
        await cs.transaction_event("Updated", "TX-1", "MeterValuePeriodic", meter_value=readings(5.0))
        await cs.transaction_event(
            "Ended", "TX-1", "EVDeparted", stopped_reason="EVDisconnected",
            meter_value=readings(5.0, "Transaction.End"),
        )
        # The register restarts per session; this Started carries no reading of it.
        await cs.transaction_event("Started", "TX-2", "Authorized", id_token="CARD-1")
        await cs.transaction_event("Updated", "TX-2", "MeterValuePeriodic", meter_value=readings(2.0))
        await cs.transaction_event(
            "Ended", "TX-2", "EVDeparted", stopped_reason="EVDisconnected",
            meter_value=readings(3.0, "Transaction.End"),
        )
        await hass.async_block_till_done()
        record = central.history.get("CS-1", "TX-2")
        assert record is not None and record.energy_wh == 3000.0
        assert float(state(hass, "CS-1_1_energy")) == 8.0


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_v201_superseded_session_energy_counted_and_closed(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger201(port_of(entry), "CS-1") as cs:
        await cs.boot()
        await cs.status(1, "Occupied")
        await cs.transaction_event(
            "Started", "TX-A", "Authorized", id_token="CARD-1", meter_value=readings(10.0, "Transaction.Begin")
        )
        await cs.transaction_event("Updated", "TX-A", "MeterValuePeriodic", meter_value=readings(12.0))
        cs.seq_no = 0
        await cs.transaction_event(
            "Started", "TX-B", "Authorized", id_token="CARD-1", meter_value=readings(12.0, "Transaction.Begin")
        )
        await cs.transaction_event("Updated", "TX-B", "MeterValuePeriodic", meter_value=readings(13.0))
        await hass.async_block_till_done()
        assert float(state(hass, "CS-1_1_energy")) == 3.0
        central = hub_of(entry).central
        assert ("CS-1", "TX-A") not in central.observed_transactions
        record = central.history.get("CS-1", "TX-A")
        assert record is not None and (record.stop_seen, record.energy_wh) == (False, 2000)
    # After a restart the EVSE shows the session that runs, not the superseded one.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    central = hub_of(entry).central
    transaction = central.chargers["CS-1"].connectors[1].transaction
    assert transaction is not None and transaction.transaction_id == "TX-B"
    async with charger201(port_of(entry), "CS-1") as cs:
        await cs.boot()
        # The superseded session's Ended comes after all: its real end, the rest of its energy.
        await cs.transaction_event(
            "Ended", "TX-A", "EVDeparted", stopped_reason="EVDisconnected", seq_no=50,
            meter_value=readings(12.5, "Transaction.End"),
        )
        await hass.async_block_till_done()
        record = central.history.get("CS-1", "TX-A")
        assert record is not None and (record.stop_seen, record.energy_wh) == (True, 2500)
        assert float(state(hass, "CS-1_1_energy")) == 3.5
        transaction = central.chargers["CS-1"].connectors[1].transaction
        assert transaction is not None and transaction.transaction_id == "TX-B"
    assert stopped == []  # neither ended by the station in the order it ran them


@pytest.mark.usefixtures("config_dir")
async def test_a_v201_session_is_in_the_statement(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(fixed_price=0.25)
    async with charger201(port_of(entry), "CS-S") as cs:
        await cs.boot()
        await cs.status(1, "Occupied")
        await cs.transaction_event(
            "Started", "TX-S", "Authorized", id_token=LONG_TOKEN, meter_value=readings(10.0, "Transaction.Begin")
        )
        await cs.transaction_event(
            "Ended", "TX-S", "EVDeparted", stopped_reason="EVDisconnected",
            meter_value=readings(14.0, "Transaction.End"),
        )
        await hass.async_block_till_done()
    today = str(dt_util.now().date())
    statement = await action(
        hass, "get_statement", config_entry_id=entry.entry_id, start=today, end=today, id_tag=LONG_TOKEN
    )
    assert statement["tags"] == [
        {"id_tag": LONG_TOKEN, "sessions": 1, "energy": 4.0, "cost": 1.0, "uncosted_sessions": 0}
    ]


async def test_the_late_real_stop_of_a_reconstructed_session_corrects_its_cost(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(fixed_price=0.25)
    central = hub_of(entry).central
    central.set_id_tag(IdTag("CARD"))
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with connected(entry, "CP-L") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        started = await cp.start_transaction(1, "CARD", 1000)
        await cp.meter(1, charging_values(7000, 5000), started.transaction_id)
        await cp.boot()  # it rebooted: its stop did not come
        await cp.status(1, "Preparing")
        await hass.async_block_till_done()
    central.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    await hass.async_block_till_done()
    record = central.history.get("CP-L", started.transaction_id)
    assert record is not None and (record.stop_seen, record.energy_wh, record.cost) == (False, 4000, 1.0)
    async with connected(entry, "CP-L") as cp:
        await cp.boot()
        # The real stop after all: 4.5 kWh at 0.25 = 1.125, rounded half up.
        await cp.stop_transaction(started.transaction_id, 5500, reason="EVDisconnected")
        await hass.async_block_till_done()
        record = central.history.get("CP-L", started.transaction_id)
        assert record is not None and (record.stop_seen, record.energy_wh, record.cost) == (True, 4500, 1.13)
        assert float(state(hass, f"{entry.entry_id}_id_tag_cost_CARD")) == 1.13
        assert float(state(hass, "CP-L_1_session_cost")) == 1.13
        # Sent again (its offline queue): nothing moves.
        await cp.stop_transaction(started.transaction_id, 5500, reason="EVDisconnected")
        await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    async with connected(entry, "CP-L") as cp:
        await cp.boot()
        await hass.async_block_till_done()
        assert float(state(hass, f"{entry.entry_id}_id_tag_cost_CARD")) == 1.13
    assert len(stopped) == 1
