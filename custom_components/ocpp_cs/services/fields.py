"""Fields that several actions share, and their validators."""

from __future__ import annotations

from typing import Any

from homeassistant.helpers import config_validation as cv
from ocpp.v16.enums import MessageTrigger
import probatio as vol

from ..engine.v201.requests import V201_TRIGGERS

ATTR_DEVICE_ID = "device_id"
ATTR_CONNECTOR_ID = "connector_id"
# Every action with a connector_id takes it: send to a connector the charger has not reported
# (yet); the charger answers (spec: it may have more than it said, or report them late).
ATTR_ALLOW_UNKNOWN_CONNECTOR = "allow_unknown_connector"
ALLOW_UNKNOWN_CONNECTOR = vol.Optional(ATTR_ALLOW_UNKNOWN_CONNECTOR, default=False)


def trigger(value: Any) -> str:
    """Accept a MessageTrigger (or a 2.0.1-only one) in the spec's spelling or in snake_case."""
    text = str(value).replace("_", "").lower()
    names = [str(t.value) for t in MessageTrigger] + list(V201_TRIGGERS)
    for name in names:
        if name.lower() == text:
            return name
    raise vol.Invalid(f"must be one of {', '.join(names)}")


def transaction_id(value: Any) -> int | str:
    """Accept a 1.6 transaction id (an integer) or a 2.0.1 one (a string of up to 36 characters)."""
    text = str(value).strip()
    if text.isdigit() and str(int(text)) == text:
        return int(text)
    if not 1 <= len(text) <= 36:
        raise vol.Invalid("must be an integer or a 2.0.1 transaction id of 1 to 36 characters")
    return text


def bounded_string(length: int) -> vol.All[str]:
    """Return a validator of a string of 1 to `length` characters."""
    return vol.All(cv.string, vol.Length(min=1, max=length))


CONNECTOR = vol.All(vol.Coerce(int), vol.Range(min=0))
