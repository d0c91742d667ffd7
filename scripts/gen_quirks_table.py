#!/usr/bin/env python3
"""Write README's "Supported chargers" table from the quirk profiles (engine/quirk_table.py).

Run it (scripts/run .venv/bin/python scripts/gen_quirks_table.py) after changing the table;
tests/test_quirks_table.py checks that README.md holds what this writes, between the markers.
"""

from __future__ import annotations

from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.ocpp_cs.engine.quirks import PROFILES, markdown_table  # noqa: E402

README = ROOT / "README.md"
START = "<!-- quirks-table:start -->"
END = "<!-- quirks-table:end -->"


def generated() -> str:
    """Return the README text between the markers (newlines included)."""
    return "\n" + markdown_table(PROFILES)


def between_markers(text: str) -> str:
    """Return what README holds between the markers."""
    start = text.index(START) + len(START)
    return text[start : text.index(END, start)]


def main() -> None:
    """Rewrite the table in README.md."""
    text = README.read_text(encoding="utf-8")
    old = between_markers(text)
    README.write_text(text.replace(START + old + END, START + generated() + END), encoding="utf-8")


if __name__ == "__main__":
    main()
