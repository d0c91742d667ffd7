"""MeterValues: sampled values to keyed readings (spec 4.7, 7.31-7.35, 7.43, 7.45)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .util import parse_datetime, snake

DEFAULT_MEASURAND = "Energy.Active.Import.Register"
ENERGY_REGISTER = "energy_active_import_register"

# Locations that add a suffix to the key; Outlet (the default) and EV add nothing.
_KEYED_LOCATIONS = {"Body": "body", "Cable": "cable", "Inlet": "inlet"}

# The spec's units, matched without regard to case (chargers send "kw", "KWH", "celsius").
_UNITS = {
    unit.lower(): unit
    for unit in (
        "Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar",
        "A", "V", "K", "Celsius", "Fahrenheit", "Percent",
    )
}
# OCPP 1.6's JSON schema spells two units its own way ("Celcius", "Hertz"); some chargers send
# other spellings of the spec's units.
_UNITS.update(
    {
        "celcius": "Celsius", "c": "Celsius", "°c": "Celsius", "%": "Percent", "f": "Fahrenheit",
        "hertz": "Hz", "hz": "Hz", "rpm": "RPM",
    }
)


def default_unit(measurand: str) -> str | None:
    """Return the unit a sampled value of this measurand has when the charger gives none."""
    if measurand.startswith("Energy.Reactive"):
        return "varh"
    if measurand.startswith("Energy."):
        return "Wh"
    if measurand.startswith("Current."):
        return "A"
    if measurand.startswith("Power.Reactive"):
        return "var"
    if measurand.startswith("Power.") and measurand != "Power.Factor":
        return "W"
    return {
        "Voltage": "V",
        "SoC": "Percent",
        "Temperature": "Celsius",
        "Frequency": "Hz",
        "RPM": "RPM",
    }.get(measurand)


def normalize_unit(unit: str | None, measurand: str) -> str | None:
    """Return the spec's spelling of a unit, or the measurand's default unit."""
    if not unit:
        return default_unit(measurand)
    return _UNITS.get(unit.strip().lower(), unit)


def drop_key(key: str) -> str:
    """
    Return the change key that comes with a meter key when its register drops.

    Announced with the values on either side of the drop: the sensor writes them at once,
    not coalesced with the readings around them (state_writes.py), so that Home Assistant's
    statistics see the reset.
    """
    return f"{key}:drop"


def meter_key(measurand: str, phase: str | None, location: str | None) -> str:
    """Return the entity key of a measurand, phase and location (CONTRACT.md, meter keys)."""
    key = snake(measurand)
    if phase:
        key = f"{key}_{snake(phase)}"
    if location and location in _KEYED_LOCATIONS:
        key = f"{key}_{_KEYED_LOCATIONS[location]}"
    return key


@dataclass(slots=True)
class MeterReading:
    """One sampled value as the charger reported it."""

    value: float
    unit: str | None
    timestamp: datetime
    measurand: str
    phase: str | None = None
    location: str | None = None
    context: str | None = None

    def as_wh(self) -> float | None:
        """Return an active energy value in Wh, or None when the unit is not energy."""
        if self.unit == "Wh":
            return self.value
        if self.unit == "kWh":
            return self.value * 1000.0
        return None

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence and diagnostics."""
        return {
            "value": self.value,
            "unit": self.unit,
            "timestamp": self.timestamp.isoformat(),
            "measurand": self.measurand,
            "phase": self.phase,
            "location": self.location,
            "context": self.context,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MeterReading | None:
        """Restore a persisted reading; None when it is unreadable."""
        timestamp = parse_datetime(data.get("timestamp"))
        if timestamp is None:
            return None
        try:
            return cls(
                value=float(data["value"]),
                unit=data.get("unit"),
                timestamp=timestamp,
                measurand=str(data.get("measurand") or DEFAULT_MEASURAND),
                phase=data.get("phase"),
                location=data.get("location"),
                context=data.get("context"),
            )
        except (KeyError, TypeError, ValueError):
            return None

