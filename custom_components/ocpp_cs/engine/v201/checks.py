"""OCPP 2.0.1 requests from chargers: which actions exist, their schemas, violations as CALLERROR codes."""

from __future__ import annotations

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError as SchemaValidationError, best_match
from ocpp.exceptions import (
    FormationViolationError,
    OccurrenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.messages import MessageType, get_validator
from ocpp.v201.enums import Action

OCPP_VERSION = "2.0.1"

# Every action OCPP 2.0.1 defines (either direction); others are unknown (NotImplemented).
KNOWN_ACTIONS = frozenset(action.value for action in Action)

# OCPP-J 2.0.1 section 4.3: a missing required field is an occurrence constraint violation.
_SCHEMA_ERRORS: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,
    "required": OccurrenceConstraintViolationError,
    "minItems": OccurrenceConstraintViolationError,
    "maxItems": OccurrenceConstraintViolationError,
    "enum": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "additionalProperties": FormationViolationError,
}


def validator(message_type: int, action: str) -> Draft4Validator:
    """Return the validator of a 2.0.1 action's request (Call) or answer (CallResult); `preload` read it."""
    found: Draft4Validator = get_validator(message_type, action, OCPP_VERSION)
    return found


def preload() -> None:
    """Read the request and answer schemas of every OCPP 2.0.1 action (blocking file reads: executor)."""
    for action in Action:
        for message_type in (MessageType.Call, MessageType.CallResult):
            validator(message_type, action.value)


def schema_error(exc: SchemaValidationError) -> OCPPError:
    """Map a JSON schema violation to the CALLERROR code OCPP-J 2.0.1 names for it."""
    path = ".".join(str(part) for part in exc.absolute_path)
    cause = f"{path}: {exc.message}" if path else exc.message
    return _SCHEMA_ERRORS.get(str(exc.validator), FormationViolationError)(description=cause)


def request_error(action: str, payload: dict[str, object]) -> OCPPError | None:
    """Return the CALLERROR a request's payload earns per its 2.0.1 schema (None: valid)."""
    error = best_match(validator(MessageType.Call, action).iter_errors(payload))
    return schema_error(error) if error is not None else None
