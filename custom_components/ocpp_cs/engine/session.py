"""The sessions: OCPP 1.6 under its former import path (v16/ holds it now) and OCPP 2.0.1 (v201/)."""

from .v16.checks import KNOWN_ACTIONS, KNOWN_ACTIONS_FROM_CHARGERS, schema_error, tolerated
from .v16.framing import MAX_LOGGED_ERRORS, DisconnectedBeforeAnswer
from .v16.session import ChargePointSession, on
from .v201.session import V201Session, WrongOcppVersion

# A charger's session, whichever OCPP version it speaks.
type AnySession = ChargePointSession | V201Session

__all__ = [
    "KNOWN_ACTIONS",
    "KNOWN_ACTIONS_FROM_CHARGERS",
    "MAX_LOGGED_ERRORS",
    "AnySession",
    "ChargePointSession",
    "DisconnectedBeforeAnswer",
    "V201Session",
    "WrongOcppVersion",
    "on",
    "schema_error",
    "tolerated",
]
