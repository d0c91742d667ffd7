"""
Issue 19, items 3 and 4, with real chargers: no stale power or current, and no transaction left
open by a restart (Home Assistant's or the charger's).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from ocpp.v16 import call
from pytest_homeassistant_custom_component.common import async_capture_events, async_fire_time_changed

from custom_components.ocpp_cs import commands
from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.engine.orphans import DEFAULT_GRACE
from custom_components.ocpp_cs.engine.util import utcnow

from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import state, wait_for
from .test_smart_charging import profiles_sent, ready, set_number, with_units


def charging_values(watts: float, wh: float) -> list[dict[str, Any]]:
    """Return the sampled values of a charging connector."""
    return [
        {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "10.5", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
    ]


def connected(entry: Any, charge_point_id: str, **kwargs: Any) -> Any:
    """Connect a simulated charger that sends no keepalive pings (the frozen clock jumps)."""
    return charger(port_of(entry), charge_point_id, ping_interval=None, **kwargs)


async def restart(hass: HomeAssistant, entry: Any) -> None:
    """Restart Home Assistant's side: unload the entry (its state written) and set it up again."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    """
    Move the clock on and let the timers that fall due run.

    Only with no charger connected: the timers run early include the connections' own (keepalive,
    answer timeouts), which would end them. Entities are unavailable meanwhile: the engine's
    state, the events and the history are checked then, the entities once the charger is back.
    """
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_ha_restarts_while_charging_and_the_charger_reports_available_without_a_stop(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with connected(entry, "CP-R") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        started = await cp.start_transaction(1, "CARD", 1000)
        await cp.meter(1, charging_values(10984, 5000), started.transaction_id)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-R_1_power_active_import")) == 10.984  # W, shown in kW

    await restart(hass, entry)
    async with connected(entry, "CP-R") as cp:
        # Still charging, as far as anyone knows; the restored power is that of a running session.
        await hass.async_block_till_done()
        assert state(hass, "CP-R_1_charging", "switch") == "on"
        assert float(state(hass, "CP-R_1_power_active_import")) == 10.984
        # The charger stopped while Home Assistant was down; its StopTransaction never comes.
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        assert float(state(hass, "CP-R_1_power_active_import")) == 0
        assert float(state(hass, "CP-R_1_current_import_l1")) == 0
        assert float(state(hass, "CP-R_1_energy_active_import_register")) == 5
        assert state(hass, "CP-R_1_charging", "switch") == "on"  # the grace for its queued stop
        assert hub_of(entry).central.transaction_in_doubt(hub_of(entry).central.open_transactions[1])

    # The grace passes (the engine's clock input; the timer that feeds it is tested below: with a
    # restart, the frozen clock would hold up the closing connections).
    hub_of(entry).central.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    await hass.async_block_till_done()
    (event,) = stopped
    assert (event.data["transaction_id"], event.data["reason"], event.data["meter_stop"]) == (
        started.transaction_id, "reconstructed", 5000,
    )
    assert event.data["energy"] == 4
    (record,) = hub_of(entry).central.history.query(charge_point_id="CP-R")
    assert (record.stop_seen, record.energy_wh) == (False, 4000)
    async with connected(entry, "CP-R") as cp:
        await hass.async_block_till_done()
        assert state(hass, "CP-R_1_charging", "switch") == "off"
        assert state(hass, "CP-R_1_stop_reason") == "reconstructed"
        assert float(state(hass, "CP-R_1_session_energy")) == 4
        # Its queued StopTransaction comes after all: the history takes it, counted once.
        await cp.stop_transaction(started.transaction_id, 5500, reason="EVDisconnected")
        await hass.async_block_till_done()
        assert float(state(hass, "CP-R_1_energy")) == 4.5
        assert state(hass, "CP-R_1_stop_reason") == "ev_disconnected"
    assert len(stopped) == 1
    (record,) = hub_of(entry).central.history.query(charge_point_id="CP-R")
    assert (record.stop_seen, record.energy_wh, record.reason_snake) == (True, 4500, "ev_disconnected")


async def test_a_charger_that_rebooted_without_its_stop_has_it_closed_by_the_timer(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with connected(entry, "CP-B") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        started = await cp.start_transaction(1, "CARD", 1000)
        await cp.meter(1, charging_values(7000, 1500), started.transaction_id)
        await cp.boot()  # it rebooted, and lost its transaction with no stop queued
        await cp.status(1, "Preparing")
    await tick(hass, freezer, DEFAULT_GRACE - timedelta(seconds=5))
    assert stopped == []
    await tick(hass, freezer, timedelta(seconds=10))
    assert [(e.data["reason"], e.data["energy"]) for e in stopped] == [("reconstructed", 0.5)]
    async with connected(entry, "CP-B"):
        await hass.async_block_till_done()
        assert state(hass, "CP-B_1_charging", "switch") == "off"
        assert float(state(hass, "CP-B_1_power_active_import")) == 0


async def test_a_charger_that_rebooted_delivers_its_queued_stop_within_the_grace(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with connected(entry, "CP-Q") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        started = await cp.start_transaction(1, "CARD", 1000)
    async with connected(entry, "CP-Q") as cp:
        await cp.boot()  # its own: it rebooted
        await cp.status(1, "Available")
        await cp.stop_transaction(started.transaction_id, 3000, reason="PowerLoss")  # from its queue
    await tick(hass, freezer, DEFAULT_GRACE * 2)
    assert [(e.data["reason"], e.data["energy"]) for e in stopped] == [("power_loss", 2)]
    assert hub_of(entry).central.history.query(charge_point_id="CP-Q")[0].stop_seen


async def test_a_boot_we_asked_for_is_no_reboot(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry()
    async with connected(entry, "CP-T", cls=ControlCharger) as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        started = await cp.start_transaction(1, "CARD", 1000)
        session = hub_of(entry).central.sessions["CP-T"]
        # (What boot.on_connected does with a charger that reconnects without booting.)
        await commands.async_call(hub_of(entry), "CP-T", call.TriggerMessage(requested_message="BootNotification"))
        assert session.boot_requested
        await cp.boot()
        assert not session.boot_requested
        assert not hub_of(entry).central.transaction_in_doubt(hub_of(entry).central.open_transactions[1])
    await tick(hass, freezer, DEFAULT_GRACE * 2)
    assert hub_of(entry).central.open_transactions[started.transaction_id].stop is None


async def test_no_tx_profile_for_a_transaction_the_rebooted_charger_no_longer_has(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-L", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        await set_number(hass, "CP-L_1_current_limit", 10)
        assert profiles_sent(cp)[-1]["profile"].get("transaction_id") == started.transaction_id
        # The limit's composite schedule is read back: let that finish before the reboot.
        await wait_for(lambda: cp.received[-1][0] == "GetCompositeSchedule", what="the limit read back")
        sent = len(profiles_sent(cp))
        composites = sum(name == "GetCompositeSchedule" for name, _ in cp.received)
        await cp.boot()  # it rebooted: the limits go again, but no TxProfile for the old session
        # The TxDefaultProfile, then the composite schedule read back: its TxProfile would be between.
        await wait_for(
            lambda: sum(name == "GetCompositeSchedule" for name, _ in cp.received) > composites, what="limits resent"
        )
        purposes = [r["profile"]["charging_profile_purpose"] for r in profiles_sent(cp)[sent:]]
        assert purposes == ["TxDefaultProfile"]


async def test_stale_power_of_an_idle_connector_becomes_zero(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry()
    async with connected(entry, "CP-S") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await cp.meter(1, charging_values(6987, 2000), timestamp=now_iso())  # no transaction: idle
        await hass.async_block_till_done()
        assert float(state(hass, "CP-S_1_power_active_import")) == 6.987
    connector = hub_of(entry).central.chargers["CP-S"].connectors[1]
    await tick(hass, freezer, timedelta(seconds=150))
    assert connector.meters["power_active_import"].value == 6987  # 60 s interval: not 3 yet
    await tick(hass, freezer, timedelta(seconds=40))
    assert connector.meters["power_active_import"].value == 0
    async with connected(entry, "CP-S") as cp:
        await hass.async_block_till_done()
        assert float(state(hass, "CP-S_1_power_active_import")) == 0
        assert float(state(hass, "CP-S_1_energy_active_import_register")) == 2


async def test_after_a_restart_an_idle_connector_shows_no_power(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with connected(entry, "CP-I") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await cp.meter(1, charging_values(6987, 2100))
        await hass.async_block_till_done()
        assert float(state(hass, "CP-I_1_power_active_import")) == 6.987
    await restart(hass, entry)
    async with connected(entry, "CP-I"):
        await hass.async_block_till_done()
        assert float(state(hass, "CP-I_1_power_active_import")) == 0
        assert float(state(hass, "CP-I_1_energy_active_import_register")) == 2.1
