"""Handlers of the core profile actions, configuration, `call` and the charger's password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
import json
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.messages import MessageType
from ocpp.v16 import call

from .. import commands
from ..engine.configuration import (
    AUTHORIZATION_KEY,
    PROFILE_REMOTE_TRIGGER,
    authorization_key_value,
    is_authorization_key,
    password_of_authorization_key,
)
from ..engine.schemas import validator
from ..errors import invalid
from .targets import Target

# --- handlers -------------------------------------------------------------------------------

type Handler = Callable[[Target], Awaitable[dict[str, Any]]]


async def remote_start(target: Target) -> dict[str, Any]:
    """Handle the `remote_start_transaction` action."""
    connector_id = target.connector_id(default=1)
    return await commands.remote_start(
        target.hub,
        target.charge_point_id,
        connector_id,
        target.data.get("id_tag"),
        target.data.get("charging_profile"),
        id_token_type=target.data.get("id_token_type"),
    )


async def remote_stop(target: Target) -> dict[str, Any]:
    """Handle the `remote_stop_transaction` action."""
    transaction_id = target.data.get("transaction_id")
    if transaction_id is None:
        connector_id = target.connector_id(default=None)
        open_transactions = [
            c.transaction
            for c in target.charger.connectors.values()
            if c.transaction is not None and (connector_id is None or c.connector_id == connector_id)
        ]
        if not open_transactions:
            raise invalid("no_transaction", charge_point_id=target.charge_point_id)
        transaction_id = max(open_transactions, key=lambda t: t.transaction_id).transaction_id
    return await commands.remote_stop(target.hub, target.charge_point_id, transaction_id)


async def unlock(target: Target) -> dict[str, Any]:
    """Handle the `unlock_connector` action."""
    connector_id = target.connector_id(default=1)
    assert connector_id is not None
    return await commands.unlock_connector(target.hub, target.charge_point_id, connector_id)


async def reset(target: Target) -> dict[str, Any]:
    """Handle the `reset` action (of one EVSE of a 2.0.1 station when `evse_id` is given)."""
    hard = target.data["type"] == "hard"
    return await commands.reset(target.hub, target.charge_point_id, hard, target.data.get("evse_id"))


async def change_availability(target: Target) -> dict[str, Any]:
    """Handle the `change_availability` action."""
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    operative = target.data["type"] == "operative"
    return await commands.change_availability(target.hub, target.charge_point_id, connector_id, operative)


async def get_configuration(target: Target) -> dict[str, Any]:
    """Handle the `get_configuration` action."""
    return await commands.get_configuration(target.hub, target.charge_point_id, target.data.get("keys"))


async def change_configuration(target: Target) -> dict[str, Any]:
    """Handle the `change_configuration` action."""
    key, value = target.data["key"], target.data["value"]
    if is_authorization_key(key):
        # Refused before sending: a key the charger took but we refuse would lock it out.
        password_of_authorization_key(value)
    return await commands.change_configuration(target.hub, target.charge_point_id, key, value)


async def clear_cache(target: Target) -> dict[str, Any]:
    """Handle the `clear_cache` action."""
    return await commands.clear_cache(target.hub, target.charge_point_id)


async def trigger_message(target: Target) -> dict[str, Any]:
    """Handle the `trigger_message` action."""
    target.require_profile(PROFILE_REMOTE_TRIGGER, "trigger_message")
    connector_id = target.connector_id(default=None, minimum=0)
    return await commands.trigger_message(
        target.hub, target.charge_point_id, target.data["requested_message"], connector_id or None
    )


async def data_transfer(target: Target) -> dict[str, Any]:
    """Handle the `data_transfer` action."""
    return await commands.data_transfer(
        target.hub,
        target.charge_point_id,
        target.data["vendor_id"],
        target.data.get("message_id"),
        target.data.get("data"),
    )


CS_TO_CHARGER_ACTIONS = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
        "ClearChargingProfile", "DataTransfer", "DeleteCertificate", "ExtendedTriggerMessage",
        "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics", "GetInstalledCertificateIds",
        "GetLocalListVersion", "GetLog", "InstallCertificate", "RemoteStartTransaction",
        "RemoteStopTransaction", "ReserveNow", "Reset", "SendLocalList", "SetChargingProfile",
        "SignedUpdateFirmware", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
    }
)


async def call_action(target: Target) -> dict[str, Any]:
    """Send any central-system action with an OCPP JSON payload, checked against its schema first."""
    action = target.data["action"]
    if action not in CS_TO_CHARGER_ACTIONS:
        matches = [name for name in CS_TO_CHARGER_ACTIONS if name.casefold() == action.replace("_", "").casefold()]
        if not matches:
            raise invalid("unknown_action", action=action)
        action = matches[0]
    camel = snake_to_camel_case(target.data["payload"])
    payload = json.loads(json.dumps(camel), parse_float=Decimal)
    try:
        validator(MessageType.Call, action).validate(payload)  # read at setup (schemas.preload)
    except SchemaValidationError as err:
        field = ".".join(str(part) for part in err.absolute_path) or "payload"
        raise invalid("invalid_payload", action=action, field=field, error=err.message) from err
    password = None
    if action == "ChangeConfiguration" and is_authorization_key(camel["key"]):
        password = password_of_authorization_key(camel["value"])  # the same password as change_configuration's
    request = getattr(call, action)(**camel_to_snake_case(json.loads(json.dumps(camel))))
    result = await commands.async_call(target.hub, target.charge_point_id, request)
    if password is not None and str(result.status) in commands.CONFIGURATION_TAKEN:
        commands.adopt_password(target.hub, target.charge_point_id, password)
    return commands.answer_dict(result)


async def set_charger_password(target: Target) -> dict[str, Any]:
    """Give a charger its own HTTP Basic password; push it first when the charger has AuthorizationKey."""
    hub, charge_point_id = target.hub, target.charge_point_id
    password: str = target.data["password"]
    # The 1.6 security whitepaper: the password is AuthorizationKey, 16 to 20 bytes, in hexadecimal.
    value = authorization_key_value(password)  # an AuthorizationKeyError is translated (translate_errors)
    pushed = any(is_authorization_key(key) for key in target.charger.configuration)
    if pushed:
        # Only expect it once the charger took it, or the charger could no longer log in.
        payload = call.ChangeConfiguration(key=AUTHORIZATION_KEY, value=value)
        result = await commands.async_call(hub, charge_point_id, payload)
        commands.expect_status(charge_point_id, "ChangeConfiguration", result, commands.CONFIGURATION_TAKEN)
    commands.adopt_password(hub, charge_point_id, password)
    return {"status": "Accepted", "pushed": pushed}
