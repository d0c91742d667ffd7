#!/usr/bin/env python3
"""Write the meter-sensor names of translations/en.json (every measurand x phase x location).

The names of all other strings are kept as they are in en.json; run this (scripts/run
.venv/bin/python scripts/gen_translations.py) after changing a name below or adding a
measurand, phase or location to the engine. tests/test_translations.py checks that en.json
holds what this writes.

Names are plain words for the people who read the dashboard: "Power", "Current phase 1",
"Lifetime energy", "Cable temperature". The keys (and so the unique ids) stay the spec's.
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

MEASURANDS = {
    # A register counts up for the meter's whole life; `session_energy` is the session's part.
    "Energy.Active.Import.Register": "Lifetime energy",
    "Energy.Active.Export.Register": "Lifetime energy exported",
    "Energy.Reactive.Import.Register": "Lifetime reactive energy",
    "Energy.Reactive.Export.Register": "Lifetime reactive energy exported",
    # The energy of the last sample interval only.
    "Energy.Active.Import.Interval": "Interval energy",
    "Energy.Active.Export.Interval": "Interval energy exported",
    "Energy.Reactive.Import.Interval": "Interval reactive energy",
    "Energy.Reactive.Export.Interval": "Interval reactive energy exported",
    "Power.Active.Import": "Power",
    "Power.Active.Export": "Power exported",
    "Power.Reactive.Import": "Reactive power",
    "Power.Reactive.Export": "Reactive power exported",
    "Power.Offered": "Offered power",
    "Power.Factor": "Power factor",
    "Current.Import": "Current",
    "Current.Export": "Current exported",
    "Current.Offered": "Offered current",
    "Voltage": "Voltage",
    "Frequency": "Frequency",
    "Temperature": "Temperature",
    "SoC": "State of charge",
    "RPM": "Fan speed",
}
# A phase's voltage is measured against neutral (L1-N) or, on some chargers, given as L1 alone:
# both are "phase 1". Between two phases: "phase 1-2".
PHASES = {
    None: "",
    "L1": " phase 1",
    "L2": " phase 2",
    "L3": " phase 3",
    "N": " neutral",
    "L1-N": " phase 1",
    "L2-N": " phase 2",
    "L3-N": " phase 3",
    "L1-L2": " phase 1-2",
    "L2-L3": " phase 2-3",
    "L3-L1": " phase 3-1",
}
# Where it was measured, for the locations that have keys of their own (Outlet and EV add
# nothing): "Body temperature", "Inlet power".
LOCATIONS = {None: "", "Body": "Body", "Cable": "Cable", "Inlet": "Inlet"}


def meter_name(measurand: str, phase: str | None, location: str | None) -> str:
    """Return the plain name of a measurand measured on a phase at a location."""
    name = MEASURANDS[measurand] + PHASES[phase]
    if location:
        name = f"{LOCATIONS[location]} {name[0].lower()}{name[1:]}"
    return name


def meter_names() -> dict[str, dict[str, str]]:
    """Return the sensor translations of every meter key."""
    names: dict[str, dict[str, str]] = {}
    for measurand in Measurand:
        for phase in [None, *Phase]:
            for location in LOCATIONS:
                key = meter_key(measurand.value, phase.value if phase else None, location)
                name = meter_name(measurand.value, phase.value if phase else None, location)
                # The prefix is "Connector N " for a connector's entities on the charger's device.
                names[key] = {"name": "{connector}" + name}
    return names


def main() -> None:
    """Rewrite en.json with the meter names merged in."""
    data = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))
    sensors = data["entity"]["sensor"]
    sensors.update(meter_names())
    TRANSLATIONS.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
