"""Power and current in the core: they end with the session or the charging, expire when stale, and after a restart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from custom_components.ocpp_cs.engine.central import CentralSettings, CentralSystem
from custom_components.ocpp_cs.engine.configuration import ConfigurationValue
from custom_components.ocpp_cs.engine.v16.translate import parse_meter_values

from .core import CP, at, central, start, status, stop

POWER = "power_active_import"
CURRENT = "current_import_l1"
REGISTER = "energy_active_import_register"


def charging(minute: int, watts: float = 7000.0, amps: float = 10.0, wh: float = 2000.0) -> list[Any]:
    """Return a MeterValues of a charging connector: power, a phase current, the register."""
    sampled = [
        {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"},
        {"value": str(amps), "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "230", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        {"value": "0.98", "measurand": "Power.Factor"},
    ]
    return parse_meter_values([{"timestamp": at(minute).isoformat(), "sampledValue": sampled}], at(59))


def values(system: CentralSystem, connector_id: int = 1) -> dict[str, float]:
    """Return a connector's readings by key."""
    return {key: reading.value for key, reading in system.chargers[CP].connectors[connector_id].meters.items()}


async def test_power_and_current_end_with_the_session_and_the_register_keeps_its_value() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=1000, minute=0))
    system.meter_values(CP, 1, charging(10), transaction_id)
    assert values(system)[POWER] == 7000

    await system.stop_transaction(CP, stop(transaction_id, 2000, minute=20))
    assert values(system) == {POWER: 0, CURRENT: 0, REGISTER: 2000, "voltage_l1_n": 230, "power_factor": 0.98}
    # The sensors hear of it with the stop.
    assert {POWER, CURRENT} <= recorder.changes[-1][2]


async def test_power_ends_when_charging_stops_unless_the_charger_reports_it_afterwards() -> None:
    system, recorder = central()
    system.status_notification(CP, status(1, "Charging", 0))
    system.meter_values(CP, 1, charging(5), None)
    system.status_notification(CP, status(1, "SuspendedEV", 6))
    assert values(system)[POWER] == 7000  # suspended by the EV: still its last word
    system.status_notification(CP, status(1, "Finishing", 7))
    assert values(system)[POWER] == 0
    assert {POWER, CURRENT} <= recorder.changes[-1][2]
    # A reading taken after the status is the charger's: it stands (connector 0 is left alone).
    system.meter_values(CP, 1, charging(9, watts=150), None)
    system.status_notification(CP, status(1, "Available", 8))
    assert values(system)[POWER] == 150


async def test_a_stale_reading_of_an_idle_connector_becomes_zero_after_three_sample_intervals() -> None:
    system, _recorder = central()
    system.meter_values(CP, 1, charging(0), None)  # idle: no transaction, no status
    system.meter_values(CP, 0, charging(0, watts=3000), None)
    system.expire_readings(at(2, hour=10) + timedelta(seconds=59))
    assert values(system)[POWER] == 7000  # the default interval is 60 s: not three yet
    system.expire_readings(at(3, hour=10) + timedelta(seconds=1))
    assert values(system)[POWER] == 0
    assert values(system, 0)[POWER] == 0  # connector 0: no connector charges
    assert values(system)[REGISTER] == 2000


async def test_staleness_follows_the_chargers_sample_interval_and_spares_charging_connectors() -> None:
    system, recorder = central()
    system.update_configuration(CP, {"MeterValueSampleInterval": ConfigurationValue("300", readonly=False)})
    system.meter_values(CP, 2, charging(0), None)
    transaction_id, _ = await system.start_transaction(CP, start(connector_id=1, minute=0))
    system.meter_values(CP, 1, charging(0), transaction_id)
    system.meter_values(CP, 0, charging(0, watts=3000), None)
    system.expire_readings(at(14))
    assert values(system, 2)[POWER] == 7000
    changes = len(recorder.changes)
    system.expire_readings(at(16))
    assert values(system, 2)[POWER] == 0
    assert (CP, 2, frozenset({POWER, CURRENT})) in recorder.changes[changes:]
    # Charging: its last reading stays, however old (the charger reports when it changes).
    assert values(system, 1)[POWER] == 7000
    assert values(system, 0)[POWER] == 3000
    # The 0 keeps the reading's time: the charger's next reading, on a clock behind ours, still counts.
    system.meter_values(CP, 2, charging(1, watts=500), None)
    assert values(system, 2)[POWER] == 500


async def test_after_a_restart_power_of_an_idle_connector_is_not_shown_as_current() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(connector_id=1, minute=0))
    system.meter_values(CP, 1, charging(5), transaction_id)
    system.meter_values(CP, 2, charging(5, watts=6987), None)
    system.status_notification(CP, status(2, "Charging", 4))
    saved = system.snapshot()
    saved["chargers"][0]["connectors"][2]["status"] = "Available"  # it stopped; HA was down

    restored = CentralSystem(CentralSettings(), recorder, recorder)
    restored.restore(saved)
    assert values(restored, 2)[POWER] == 0
    assert values(restored, 2)[REGISTER] == 2000
    assert values(restored, 1)[POWER] == 7000  # its transaction runs on
