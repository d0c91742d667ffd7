"""Handlers of the core profile actions, configuration, `call` and the charger's password."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.messages import MessageType
from ocpp.v16 import call

from .. import commands, commands201
from ..engine.configuration import (
    AUTHORIZATION_KEY,
    PROFILE_REMOTE_TRIGGER,
    authorization_key_value,
    is_authorization_key,
    password_of_authorization_key,
)
from ..engine.history_record import EARLIEST
from ..engine.schemas import validator
from ..engine.state import Transaction
from ..errors import invalid
from ..ports import Hub
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


def newest(transactions: list[Transaction]) -> Transaction:
    """Return the newest of a charger's running transactions: ours count up, a 2.0.1 station's by start."""
    if all(isinstance(t.transaction_id, int) for t in transactions):
        return max(transactions, key=lambda t: t.transaction_id)
    # A station's own ids (strings, often UUIDs) say nothing of their order.
    return max(transactions, key=lambda t: t.start or EARLIEST)


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
        transaction_id = newest(open_transactions).transaction_id
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
    """Handle the `get_configuration` action (2.0.1: GetVariables on the device model)."""
    hub, charge_point_id = target.hub, target.charge_point_id
    return await commands201.by_version(
        hub, charge_point_id, commands.get_configuration, commands201.get_configuration,
        hub, charge_point_id, target.data.get("keys"),
    )


async def change_configuration(target: Target) -> dict[str, Any]:
    """Handle the `change_configuration` action (2.0.1: SetVariables on the device model).

    Either command refuses a password it could not expect before sending (AuthorizationKey,
    BasicAuthPassword): a key the charger took but we refuse would lock it out.
    """
    hub, charge_point_id = target.hub, target.charge_point_id
    return await commands201.by_version(
        hub, charge_point_id, commands.change_configuration, commands201.change_configuration,
        hub, charge_point_id, target.data["key"], target.data["value"],
    )


async def get_variables(target: Target) -> dict[str, Any]:
    """Handle the `get_variables` action (2.0.1 only)."""
    return await commands201.get_variables(target.hub, target.charge_point_id, target.data["variables"])


async def set_variables(target: Target) -> dict[str, Any]:
    """Handle the `set_variables` action (2.0.1 only)."""
    return await commands201.set_variables(target.hub, target.charge_point_id, target.data["variables"])


async def get_base_report(target: Target) -> dict[str, Any]:
    """Handle the `get_base_report` action (2.0.1 only)."""
    return await commands201.get_base_report(target.hub, target.charge_point_id, target.data["report_base"])


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
    hub, charge_point_id = target.hub, target.charge_point_id
    return await commands201.by_version(
        hub, charge_point_id, commands.data_transfer, commands201.data_transfer,
        hub, charge_point_id, target.data["vendor_id"], target.data.get("message_id"), target.data.get("data"),
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
    """Send any central-system action of the charger's OCPP version, its payload checked against its schema first."""
    hub, charge_point_id = target.hub, target.charge_point_id
    return await commands201.by_version(
        hub, charge_point_id, _call16, commands201.call_action,
        hub, charge_point_id, target.data["action"], target.data["payload"],
    )


async def _call16(hub: Hub, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send any OCPP 1.6 central-system action, its payload checked against the 1.6 schema first."""
    action, camel = commands.checked_payload(
        action,
        payload,
        CS_TO_CHARGER_ACTIONS,
        lambda name: validator(MessageType.Call, name),  # read at setup (schemas.preload)
        unknown_key="unknown_action",
        invalid_key="invalid_payload",
    )
    password = None
    if action == "ChangeConfiguration" and is_authorization_key(camel["key"]):
        password = password_of_authorization_key(camel["value"])  # the same password as change_configuration's
    request = getattr(call, action)(**camel_to_snake_case(json.loads(json.dumps(snake_to_camel_case(payload)))))
    result = await commands.async_call(hub, charge_point_id, request)
    if password is not None and str(result.status) in commands.CONFIGURATION_TAKEN:
        commands.adopt_password(hub, charge_point_id, password)
    return commands.answer_dict(result)


async def set_charger_password(target: Target) -> dict[str, Any]:
    """Give a charger its own HTTP Basic password; push it first (1.6: when the charger has AuthorizationKey)."""
    hub, charge_point_id = target.hub, target.charge_point_id
    return await commands201.by_version(
        hub, charge_point_id, _set_password16, commands201.set_charger_password,
        hub, charge_point_id, target.data["password"],
    )


async def _set_password16(hub: Hub, charge_point_id: str, password: str) -> dict[str, Any]:
    """Give a 1.6 charger its password: AuthorizationKey first when it has the key."""
    # The 1.6 security whitepaper: the password is AuthorizationKey, 16 to 20 bytes, in hexadecimal.
    value = authorization_key_value(password)  # an AuthorizationKeyError is translated (translate_errors)
    charger = hub.central.chargers[charge_point_id]
    pushed = any(is_authorization_key(key) for key in charger.configuration)
    if pushed:
        # Only expect it once the charger took it, or the charger could no longer log in.
        payload = call.ChangeConfiguration(key=AUTHORIZATION_KEY, value=value)
        result = await commands.async_call(hub, charge_point_id, payload)
        commands.expect_status(charge_point_id, "ChangeConfiguration", result, commands.CONFIGURATION_TAKEN)
    commands.adopt_password(hub, charge_point_id, password)
    return {"status": "Accepted", "pushed": pushed}
