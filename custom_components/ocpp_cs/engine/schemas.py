"""
The OCPP 1.6 JSON schemas, read from disk once and off the event loop.

The `ocpp` library reads a schema file the first time its validator is asked for and keeps
it for the process, under the schema's name alone: whoever asks first also decides whether
its numbers parse as float or as Decimal. `preload` (blocking: run it in the executor before
any session or action needs a schema) reads every schema of every OCPP 1.6 action, each the
way the library's own validation parses it. After that `validator` never touches the disk,
and the Decimal schemas keep the `multipleOf: 0.1` check of charging limits exact.
"""

from __future__ import annotations

from decimal import Decimal

from jsonschema import Draft4Validator
from ocpp.messages import MessageType, get_validator
from ocpp.v16.enums import Action

from .v201.checks import preload as preload_v201

OCPP_VERSION = "1.6"

# The schemas the library validates with Decimal numbers (ocpp.messages._validate_payload):
# charging schedules, whose limits may have one decimal.
DECIMAL_SCHEMAS = frozenset(
    {
        (MessageType.Call, "SetChargingProfile"),
        (MessageType.Call, "RemoteStartTransaction"),
        (MessageType.CallResult, "GetCompositeSchedule"),
    }
)


def validator(message_type: int, action: str) -> Draft4Validator:
    """Return the validator of an action's request (Call) or answer (CallResult); `preload` read it."""
    parse_float = Decimal if (message_type, action) in DECIMAL_SCHEMAS else float
    found: Draft4Validator = get_validator(message_type, action, OCPP_VERSION, parse_float=parse_float)
    return found


def preload() -> None:
    """Read the request and answer schemas of every OCPP 1.6 action (blocking file reads: executor).

    The pinned ocpp release has both schemas of every action it names: a missing one fails setup
    (and every test), not a charger's message later.
    """
    for action in Action:
        for message_type in (MessageType.Call, MessageType.CallResult):
            validator(message_type, action.value)
    preload_v201()  # and those of OCPP 2.0.1 (v201/checks.py), read the same way
