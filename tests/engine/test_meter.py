"""OCPP 1.6 sampled values to readings, and the energy register's handling in the state."""

from __future__ import annotations

from datetime import UTC, datetime

from custom_components.ocpp_cs.engine.meter import ENERGY_REGISTER, MeterReading, meter_key
from custom_components.ocpp_cs.engine.state import ChargerState
from custom_components.ocpp_cs.engine.v16.translate import parse_meter_values

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
FALLBACK = datetime(2025, 1, 1, 11, 0, tzinfo=UTC)


def test_sampled_values_become_keyed_readings_oldest_first() -> None:
    readings = parse_meter_values(
        [
            {
                "timestamp": "2025-01-01T10:05:00Z",
                "sampledValue": [
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                    {"value": "231", "measurand": "Voltage", "phase": "L1-N"},
                    {"value": "31", "measurand": "Temperature", "location": "Body", "unit": "Celsius"},
                ],
            },
            # No measurand: the energy register (spec 7.31's default), in Wh by default.
            {"timestamp": "2025-01-01T10:00:00Z", "sampledValue": [{"value": "1500"}]},
        ],
        FALLBACK,
    )
    assert [key for key, _ in readings] == [
        ENERGY_REGISTER, "power_active_import", "current_import_l1", "voltage_l1_n", "temperature_body",
    ]
    register = readings[0][1]
    assert (register.value, register.unit, register.timestamp, register.as_wh()) == (1500.0, "Wh", T0, 1500.0)
    power = readings[1][1]
    assert (power.value, power.unit) == (7.2, "kW")


def test_unusable_sampled_values_are_skipped_not_refused() -> None:
    readings = parse_meter_values(
        [
            {
                "sampledValue": [
                    {"value": "abc"},
                    {"value": "nan"},
                    {"value": "0A1B", "format": "SignedData"},
                    {"value": "2.5", "unit": "KWH"},
                ]
            }
        ],
        FALLBACK,
    )
    ((key, reading),) = readings
    # No timestamp: the time it arrived; a unit spelt the charger's way is understood.
    assert (key, reading.timestamp, reading.as_wh()) == (ENERGY_REGISTER, FALLBACK, 2500.0)


def test_snake_case_sampled_values_read_the_same() -> None:
    as_sent = parse_meter_values([{"timestamp": "2025-01-01T10:00:00Z", "sampledValue": [{"value": "9"}]}], FALLBACK)
    converted = parse_meter_values([{"timestamp": "2025-01-01T10:00:00Z", "sampled_value": [{"value": "9"}]}], FALLBACK)
    assert as_sent == converted


def test_meter_keys_name_phase_and_only_some_locations() -> None:
    assert meter_key("Voltage", "L1-L2", None) == "voltage_l1_l2"
    assert meter_key("SoC", None, "EV") == "soc"
    assert meter_key("Temperature", None, "Cable") == "temperature_cable"


def wh(value: float, minute: int) -> MeterReading:
    return MeterReading(value, "Wh", T0.replace(minute=minute), "Energy.Active.Import.Register")


def test_a_lower_register_counts_only_once_confirmed() -> None:
    """One low reading is a glitch; the Energy dashboard must not count the register twice."""
    charger = ChargerState("CP-1", accepted=True)
    connector, _ = charger.connector(1)
    published: list[str] = []
    assert charger.apply_reading(connector, ENERGY_REGISTER, wh(5000, 0), published.append)
    charger.apply_reading(connector, ENERGY_REGISTER, wh(10, 1), published.append)
    assert connector.meters[ENERGY_REGISTER].value == 5000
    charger.apply_reading(connector, ENERGY_REGISTER, wh(5100, 2), published.append)
    assert connector.meters[ENERGY_REGISTER].value == 5100
    # Readings that stay low, again and again, are a meter reset after all.
    for minute in range(3, 10):
        charger.apply_reading(connector, ENERGY_REGISTER, wh(20 + minute, minute), published.append)
    assert connector.meters[ENERGY_REGISTER].value < 100
