"""Small helpers shared by the engine: names, times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
import re

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Spellings the generic rule would split wrongly.
_SPECIAL = {"SoC": "soc", "kWh": "kwh", "kW": "kw"}


@lru_cache(maxsize=1024)
def snake(value: str) -> str:
    """Return an OCPP enum value in snake_case (`SuspendedEVSE` -> `suspended_evse`)."""
    if value in _SPECIAL:
        return _SPECIAL[value]
    parts = []
    for part in re.split(r"[.\-\s]+", value):
        if not part:
            continue
        parts.append(_SPECIAL.get(part) or _CAMEL_BOUNDARY.sub("_", part).lower())
    return "_".join(parts)


def utcnow() -> datetime:
    """Return the current time, timezone aware."""
    return datetime.now(UTC)


def parse_datetime(value: str | None) -> datetime | None:
    """Parse an OCPP dateTime (ISO 8601, `Z` or offset); naive values are taken as UTC."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def format_datetime(value: datetime) -> str:
    """Format a datetime as OCPP expects: UTC, ISO 8601, `Z` suffix."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
