"""How a measurand is shown: HA unit, device and state class, suggested unit and precision.

A meter sensor keeps the unit the charger sends (CONTRACT.md, meter keys); what changes with
the unit is only how Home Assistant shows it: Wh as kWh to 0.01, W as kW to 0.1, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    PERCENTAGE,
    REVOLUTIONS_PER_MINUTE,
    UnitOfApparentPower,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
    UnitOfTemperature,
)

# unit as OCPP sends it -> (HA unit, factor to apply to the value)
_UNIT_MAP: dict[str, tuple[str | None, float]] = {
    "Wh": (UnitOfEnergy.WATT_HOUR, 1.0),
    "kWh": (UnitOfEnergy.KILO_WATT_HOUR, 1.0),
    "varh": (UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR, 1.0),
    "kvarh": (UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR, 1.0),
    "W": (UnitOfPower.WATT, 1.0),
    "kW": (UnitOfPower.KILO_WATT, 1.0),
    "VA": (UnitOfApparentPower.VOLT_AMPERE, 1.0),
    "kVA": (UnitOfApparentPower.VOLT_AMPERE, 1000.0),
    "var": (UnitOfReactivePower.VOLT_AMPERE_REACTIVE, 1.0),
    "kvar": (UnitOfReactivePower.VOLT_AMPERE_REACTIVE, 1000.0),
    "A": (UnitOfElectricCurrent.AMPERE, 1.0),
    "V": (UnitOfElectricPotential.VOLT, 1.0),
    "Celsius": (UnitOfTemperature.CELSIUS, 1.0),
    "Fahrenheit": (UnitOfTemperature.FAHRENHEIT, 1.0),
    "K": (UnitOfTemperature.KELVIN, 1.0),
    "Percent": (PERCENTAGE, 1.0),
    "Hz": (UnitOfFrequency.HERTZ, 1.0),
    "RPM": (REVOLUTIONS_PER_MINUTE, 1.0),
}
# Units that measure the same thing in different scales: unit -> (base unit, size in the base
# unit). A sensor keeps the unit of its first reading; later readings are converted to it.
_SCALED_UNITS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0), "kWh": ("Wh", 1000.0),
    "W": ("W", 1.0), "kW": ("W", 1000.0),
    "varh": ("varh", 1.0), "kvarh": ("varh", 1000.0),
    "VA": ("VA", 1.0), "kVA": ("VA", 1000.0),
    "var": ("var", 1.0), "kvar": ("var", 1000.0),
}
_BY_UNIT: dict[str | None, SensorDeviceClass] = {
    UnitOfPower.WATT: SensorDeviceClass.POWER,
    UnitOfPower.KILO_WATT: SensorDeviceClass.POWER,
    UnitOfApparentPower.VOLT_AMPERE: SensorDeviceClass.APPARENT_POWER,
    UnitOfReactivePower.VOLT_AMPERE_REACTIVE: SensorDeviceClass.REACTIVE_POWER,
    UnitOfElectricCurrent.AMPERE: SensorDeviceClass.CURRENT,
    UnitOfElectricPotential.VOLT: SensorDeviceClass.VOLTAGE,
    UnitOfFrequency.HERTZ: SensorDeviceClass.FREQUENCY,
    UnitOfTemperature.CELSIUS: SensorDeviceClass.TEMPERATURE,
    UnitOfTemperature.FAHRENHEIT: SensorDeviceClass.TEMPERATURE,
    UnitOfTemperature.KELVIN: SensorDeviceClass.TEMPERATURE,
}
_ENERGY_CLASSES: dict[str | None, SensorDeviceClass] = {
    UnitOfEnergy.WATT_HOUR: SensorDeviceClass.ENERGY,
    UnitOfEnergy.KILO_WATT_HOUR: SensorDeviceClass.ENERGY,
    UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR: SensorDeviceClass.REACTIVE_ENERGY,
    UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR: SensorDeviceClass.REACTIVE_ENERGY,
}
# What a homeowner reads: energy to 0.01 kWh, power to 0.1 kW, current to 0.1 A, voltage to 1 V.
# HA unit -> (unit it is shown in, decimals in that unit). The suggested unit applies to sensors
# registered from now on; the precision also to those registered before, in their unit.
_DISPLAY: dict[str | None, tuple[str | None, int]] = {
    UnitOfEnergy.WATT_HOUR: (UnitOfEnergy.KILO_WATT_HOUR, 2),
    UnitOfEnergy.KILO_WATT_HOUR: (None, 2),
    UnitOfReactiveEnergy.VOLT_AMPERE_REACTIVE_HOUR: (UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR, 2),
    UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR: (None, 2),
    UnitOfPower.WATT: (UnitOfPower.KILO_WATT, 1),
    UnitOfPower.KILO_WATT: (None, 1),
    UnitOfApparentPower.VOLT_AMPERE: (UnitOfApparentPower.KILO_VOLT_AMPERE, 1),
    UnitOfReactivePower.VOLT_AMPERE_REACTIVE: (UnitOfReactivePower.KILO_VOLT_AMPERE_REACTIVE, 1),
    UnitOfElectricCurrent.AMPERE: (None, 1),
    UnitOfElectricPotential.VOLT: (None, 0),
    UnitOfFrequency.HERTZ: (None, 1),
    UnitOfTemperature.CELSIUS: (None, 1),
    UnitOfTemperature.FAHRENHEIT: (None, 1),
    UnitOfTemperature.KELVIN: (None, 1),
    PERCENTAGE: (None, 0),
    REVOLUTIONS_PER_MINUTE: (None, 0),
}
POWER_FACTOR_PRECISION = 2


def convert_scale(value: float, from_unit: str | None, to_unit: str | None) -> float:
    """Convert a value between two scales of one unit (W and kW); other pairs are left alone."""
    source = _SCALED_UNITS.get(from_unit or "")
    target = _SCALED_UNITS.get(to_unit or "")
    if source is None or target is None or source[0] != target[0]:
        return value
    return value * source[1] / target[1]


def unit_factor(unit: str | None) -> float:
    """Return the factor from a value in an OCPP unit to the sensor's HA unit (kVA -> VA)."""
    return _UNIT_MAP[unit][1] if unit in _UNIT_MAP else 1.0


@dataclass(frozen=True, slots=True)
class MeterPresentation:
    """How a measurand in a unit is shown in Home Assistant."""

    device_class: SensorDeviceClass | None
    state_class: SensorStateClass | None
    unit: str | None
    suggested_unit: str | None = None
    precision: int | None = None


def _shown(
    device_class: SensorDeviceClass | None, state_class: SensorStateClass | None, unit: str | None
) -> MeterPresentation:
    suggested_unit, precision = _DISPLAY.get(unit, (None, None))
    if device_class is None:
        suggested_unit = None  # HA converts units only within a device class
    return MeterPresentation(device_class, state_class, unit, suggested_unit, precision)


def meter_presentation(measurand: str, unit: str | None) -> MeterPresentation:
    """Return how a measurand is shown, given the unit the charger reports it in."""
    ha_unit = _UNIT_MAP.get(unit, (unit, 1.0))[0] if unit else None
    measurement = SensorStateClass.MEASUREMENT
    if measurand.startswith("Energy."):
        state_class = SensorStateClass.TOTAL_INCREASING if measurand.endswith(".Register") else None
        return _shown(_ENERGY_CLASSES.get(ha_unit), state_class, ha_unit)
    if measurand == "Power.Factor":
        return MeterPresentation(SensorDeviceClass.POWER_FACTOR, measurement, None, None, POWER_FACTOR_PRECISION)
    if measurand == "SoC":
        return _shown(SensorDeviceClass.BATTERY, measurement, PERCENTAGE)
    if measurand == "Frequency":
        return _shown(SensorDeviceClass.FREQUENCY, measurement, UnitOfFrequency.HERTZ)
    return _shown(_BY_UNIT.get(ha_unit), measurement, ha_unit)
