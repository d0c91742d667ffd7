#!/usr/bin/env python3
"""Write the meter-sensor names of translations/en.json (every measurand x phase x location).

The names of all other strings are kept as they are in en.json; run this after adding a
measurand, phase or location to the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ocpp.v16.enums import Measurand, Phase  # noqa: E402

from custom_components.ocpp_cs.engine.meter import meter_key  # noqa: E402

TRANSLATIONS = ROOT / "custom_components" / "ocpp_cs" / "translations" / "en.json"
LOCATIONS = {None: "", "Body": " (body)", "Cable": " (cable)", "Inlet": " (inlet)"}
NAMES = {"SoC": "State of charge", "RPM": "Fan speed", "Power.Factor": "Power factor"}


def measurand_name(measurand: str) -> str:
    """Return the readable name of a measurand."""
    if measurand in NAMES:
        return NAMES[measurand]
    return " ".join(measurand.split(".")).capitalize()


def meter_names() -> dict[str, dict[str, str]]:
    """Return the sensor translations of every meter key."""
    names: dict[str, dict[str, str]] = {}
    for measurand in Measurand:
        for phase in [None, *Phase]:
            for location, location_name in LOCATIONS.items():
                key = meter_key(measurand.value, phase.value if phase else None, location)
                phase_name = f" {phase.value}" if phase else ""
                names[key] = {"name": "{connector}" + measurand_name(measurand.value) + phase_name + location_name}
    return names


def main() -> None:
    """Rewrite en.json with the meter names merged in."""
    data = json.loads(TRANSLATIONS.read_text())
    sensors = data["entity"]["sensor"]
    sensors.update(meter_names())
    TRANSLATIONS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
