"""The OCPP 1.6 session under its former import path (v16/ holds it now)."""

from .v16.checks import KNOWN_ACTIONS, KNOWN_ACTIONS_FROM_CHARGERS, schema_error, tolerated
from .v16.framing import MAX_LOGGED_ERRORS, DisconnectedBeforeAnswer
from .v16.session import ChargePointSession, on

__all__ = [
    "KNOWN_ACTIONS",
    "KNOWN_ACTIONS_FROM_CHARGERS",
    "MAX_LOGGED_ERRORS",
    "ChargePointSession",
    "DisconnectedBeforeAnswer",
    "on",
    "schema_error",
    "tolerated",
]
