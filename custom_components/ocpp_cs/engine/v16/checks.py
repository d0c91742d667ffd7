"""OCPP 1.6 requests from chargers: which actions exist, and schema violations as CALLERROR codes."""

from __future__ import annotations

from jsonschema.exceptions import ValidationError as SchemaValidationError, best_match
from ocpp.exceptions import (
    FormationViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import MessageType
from ocpp.v16.enums import Action

from ..payload import passes_schema
from ..schemas import validator

# Every action OCPP 1.6 (and its security extension) defines; others are unknown.
KNOWN_ACTIONS = frozenset(action.value for action in Action)
KNOWN_ACTIONS_FROM_CHARGERS = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
    "StopTransaction", "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
    "SignedFirmwareStatusNotification",
)

_SCHEMA_ERRORS: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,
    "required": ProtocolError,
    "enum": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "additionalProperties": FormationViolationError,
}


def tolerated(exc: SchemaValidationError) -> bool:
    """
    Return True for a schema violation that is let through: a sampled value's unit.

    Chargers spell units their own way ("kw" as in the spec's own table, "KWH", "Hz"); the
    meter parser understands them, and refusing MeterValues over it would lose the readings
    (spec 4.7: sanity checks should never stop the answer).
    """
    path = list(exc.absolute_path)
    return exc.validator == "enum" and len(path) > 1 and path[-1] == "unit" and "sampledValue" in path


def schema_error(exc: SchemaValidationError) -> OCPPError:
    """Map a JSON schema violation to the CALLERROR code OCPP 1.6 names for it."""
    path = ".".join(str(part) for part in exc.absolute_path)
    cause = f"{path}: {exc.message}" if path else exc.message
    error_type = _SCHEMA_ERRORS.get(str(exc.validator), FormationViolationError)
    return error_type(description=cause)


def request_error(action: str, payload: dict[str, object]) -> OCPPError | None:
    """Return the CALLERROR a request's payload earns per the schema (None: valid, or only tolerated faults)."""
    if passes_schema(action, payload):  # compiled check (payload.py); jsonschema names errors
        return None
    errors = validator(MessageType.Call, action).iter_errors(payload)
    error = best_match(e for e in errors if not tolerated(e))
    return schema_error(error) if error is not None else None
