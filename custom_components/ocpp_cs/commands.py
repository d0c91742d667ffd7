"""Commands to chargers (central-system-initiated messages), shared by actions and entities.

Each command sends one OCPP call through the charger's session and turns every way it can
fail into a translated HomeAssistantError that names the charger and its answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import asdict
from decimal import Decimal
import json
import logging
from typing import Any

from homeassistant.const import CONF_PASSWORD
from homeassistant.exceptions import HomeAssistantError
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.v16 import call
from ocpp.v16.enums import AvailabilityType, ResetType
from websockets.exceptions import ConnectionClosed

from .const import DOMAIN
from .engine.configuration import (
    is_authorization_key,
    parse_configuration_keys,
    password_of_authorization_key,
)
from .engine.quirks import NO_QUIRKS
from .engine.session import DisconnectedBeforeAnswer, WrongOcppVersion
from .engine.state import Transaction
from .engine.v201.checks import OCPP_VERSION as OCPP_V201
from .engine.v201.requests import V201_TRIGGERS, from_v201, remote_start_typed, reset_evse, to_v201
from .errors import error, invalid
from .ports import Hub
from .settings import entry_config

_LOGGER = logging.getLogger(__name__)


def answer_dict(result: Any) -> dict[str, Any]:
    """Return a call result as a snake_case dict without empty fields."""
    return {key: value for key, value in asdict(result).items() if value is not None}


async def async_call(
    hub: Hub, charge_point_id: str, payload: Any, *, skip_schema_validation: bool = False
) -> Any:
    """Send a call to a charger and return its answer; raise HomeAssistantError on failure."""
    action = type(payload).__name__
    session = hub.central.sessions.get(charge_point_id)
    if session is None:
        raise error("not_connected", charge_point_id=charge_point_id, action=action)
    # The one place where the version is chosen: callers build 1.6 requests and read 1.6-shaped
    # answers; a 2.0.1 station gets the 2.0.1 equivalent, always checked against its schema.
    v201 = speaks_v201(hub, charge_point_id)
    try:
        if v201:
            return from_v201(await session.call(to_v201(payload), suppress=False))
        return await session.call(payload, suppress=False, skip_schema_validation=skip_schema_validation)
    except WrongOcppVersion as err:
        # An action without a 2.0.1 form (yet): said plainly, and nothing is sent.
        raise error("not_for_v201", charge_point_id=charge_point_id, action=action) from err
    except TimeoutError as err:
        raise error(
            "timeout", charge_point_id=charge_point_id, action=action, seconds=int(session.response_timeout)
        ) from err
    except DisconnectedBeforeAnswer as err:
        raise error("disconnected_before_answer", charge_point_id=charge_point_id, action=action) from err
    except ConnectionClosed as err:
        raise error("not_connected", charge_point_id=charge_point_id, action=action) from err
    except OCPPError as err:
        raise error(
            "call_error",
            charge_point_id=charge_point_id,
            action=action,
            code=getattr(err, "code", type(err).__name__),
            description=err.description or "",
        ) from err


def speaks_v201(hub: Hub, charge_point_id: str) -> bool:
    """Return True when the charger's connection speaks OCPP 2.0.1."""
    session = hub.central.sessions.get(charge_point_id)
    return session is not None and session.ocpp_version == OCPP_V201


def require_v201(hub: Hub, charge_point_id: str, action: str, what: str) -> None:
    """Refuse (before sending) what only a 2.0.1 station can do, asked of a connected 1.6 charger."""
    if charge_point_id in hub.central.sessions and not speaks_v201(hub, charge_point_id):
        raise invalid("v201_only", charge_point_id=charge_point_id, action=action, what=what)


def expect_status(charge_point_id: str, action: str, result: Any, accepted: tuple[str, ...] = ("Accepted",)) -> str:
    """Return the answer's status, or raise HomeAssistantError when the charger refused."""
    status = str(getattr(result, "status", ""))
    if status not in accepted:
        key = "reboot_required" if status == "RebootRequired" else "refused"
        raise error(key, charge_point_id=charge_point_id, action=action, status=status)
    return status


# --- Core profile commands ----------------------------------------------------------------


async def remote_start(
    hub: Hub,
    charge_point_id: str,
    connector_id: int | None,
    id_tag: str | None = None,
    charging_profile: dict[str, Any] | None = None,
    *,
    id_token_type: str | None = None,
) -> dict[str, Any]:
    """Ask the charger to start a transaction (RemoteStartTransaction; a typed id token: 2.0.1 only).

    Quirk profiles (engine/quirk_table.py): a charger may take only the id tag of one of its
    configuration keys, or fail when the profile comes with the request (it follows as the
    transaction's TxProfile once the transaction has started).
    """
    charger = hub.central.chargers.get(charge_point_id)
    quirks = charger.quirks if charger is not None else NO_QUIRKS
    if id_tag is None and quirks.remote_id_tag_key is not None and charger is not None:
        id_tag = charger.config_value(quirks.remote_id_tag_key)
    later = charging_profile if quirks.remote_start_without_profile else None
    payload = call.RemoteStartTransaction(
        id_tag=id_tag or hub.central.settings.remote_id_tag,
        connector_id=connector_id,
        charging_profile=None if later is not None else charging_profile,
    )
    request: Any = payload
    if id_token_type is not None:
        require_v201(hub, charge_point_id, "RemoteStartTransaction", "id_token_type")
        request = remote_start_typed(payload, id_token_type)
    # Watching before asking: the charger may start the transaction before its answer is read.
    watch = _StartWatch(hub, charge_point_id, connector_id, payload.id_tag) if later is not None else None
    handed_over = False
    try:
        result = await async_call(hub, charge_point_id, request)
        expect_status(charge_point_id, "RemoteStartTransaction", result)
        if watch is not None and later is not None:
            hub.hass.async_create_background_task(
                _profile_after_start(hub, watch, later), f"{DOMAIN} profile after remote start {charge_point_id}"
            )
            handed_over = True
    finally:
        # Refused, failed or cancelled: no listener stays behind.
        if watch is not None and not handed_over:
            watch.close()
    return answer_dict(result)


# How long a remote start's profile waits for the transaction (the driver may plug in late).
PROFILE_AFTER_START_SECONDS = 300.0


class _StartWatch:
    """
    The transaction a remote start begins, from the moment this is made.

    The next one on its connector (on any of the charger's when none was given) with the remote
    start's id tag, which the charger uses in its StartTransaction (5.11).
    """

    def __init__(self, hub: Hub, charge_point_id: str, connector_id: int | None, id_tag: str) -> None:
        self.hub = hub
        self.charge_point_id = charge_point_id
        self.connector_id = connector_id
        self.id_tag = id_tag.casefold()
        self.started: asyncio.Future[Transaction] = asyncio.get_running_loop().create_future()
        charger = hub.central.chargers.get(charge_point_id)
        connectors = charger.connectors.values() if charger is not None else ()
        self._before = {c.transaction.transaction_id for c in connectors if c.transaction is not None}
        hub.on_change.append(self._changed)

    def _changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        if (
            charge_point_id != self.charge_point_id
            or self.connector_id not in (None, connector_id)
            or "transaction" not in keys
            or self.started.done()
        ):
            return
        charger = self.hub.central.chargers.get(charge_point_id)
        connector = charger.connectors.get(connector_id) if charger is not None else None
        running = connector.transaction if connector is not None else None
        if (
            running is not None
            and running.transaction_id not in self._before
            and (running.id_tag or "").casefold() == self.id_tag
        ):
            self.started.set_result(running)

    def close(self) -> None:
        """Stop watching."""
        if self._changed in self.hub.on_change:
            self.hub.on_change.remove(self._changed)


async def _profile_after_start(hub: Hub, watch: _StartWatch, profile: dict[str, Any]) -> None:
    """Set a remote start's profile as the TxProfile of the transaction it started, once it runs."""
    charge_point_id = watch.charge_point_id
    try:
        transaction = await asyncio.wait_for(watch.started, PROFILE_AFTER_START_SECONDS)
    except TimeoutError:
        _LOGGER.info("%s: the remote start began no transaction: profile not set", charge_point_id)
        return
    finally:
        watch.close()
    tx_profile = {**profile, "transaction_id": transaction.transaction_id}
    try:
        result = await async_call(
            hub,
            charge_point_id,
            call.SetChargingProfile(connector_id=transaction.connector_id, cs_charging_profiles=tx_profile),
        )
        expect_status(charge_point_id, "SetChargingProfile", result)
    except HomeAssistantError as err:
        _LOGGER.warning("%s: the remote start's profile was not set: %s", charge_point_id, err)


async def remote_stop(hub: Hub, charge_point_id: str, transaction_id: int | str) -> dict[str, Any]:
    """Ask the charger to stop a transaction (RemoteStopTransaction); a string id is a 2.0.1 one."""
    if isinstance(transaction_id, str):
        require_v201(hub, charge_point_id, "RemoteStopTransaction", f"transaction_id {transaction_id}")
    result = await async_call(hub, charge_point_id, call.RemoteStopTransaction(transaction_id=transaction_id))
    expect_status(charge_point_id, "RemoteStopTransaction", result)
    return answer_dict(result)


async def unlock_connector(hub: Hub, charge_point_id: str, connector_id: int) -> dict[str, Any]:
    """Ask the charger to unlock a connector (UnlockConnector)."""
    result = await async_call(hub, charge_point_id, call.UnlockConnector(connector_id=connector_id))
    expect_status(charge_point_id, "UnlockConnector", result, ("Unlocked",))
    return answer_dict(result)


async def reset(hub: Hub, charge_point_id: str, hard: bool, evse_id: int | None = None) -> dict[str, Any]:
    """Ask the charger to reboot (Reset Soft or Hard); only a 2.0.1 station resets one EVSE."""
    payload: Any = call.Reset(type=ResetType.hard if hard else ResetType.soft)
    if evse_id is not None:
        require_v201(hub, charge_point_id, "Reset", "evse_id")
        payload = reset_evse(payload, evse_id)
    result = await async_call(hub, charge_point_id, payload)
    expect_status(charge_point_id, "Reset", result)
    return answer_dict(result)


async def change_availability(
    hub: Hub, charge_point_id: str, connector_id: int, operative: bool
) -> dict[str, Any]:
    """Make a connector (0 = the whole charger) operative or inoperative; Scheduled is a success."""
    payload = call.ChangeAvailability(
        connector_id=connector_id, type=AvailabilityType.operative if operative else AvailabilityType.inoperative
    )
    result = await async_call(hub, charge_point_id, payload)
    status = expect_status(charge_point_id, "ChangeAvailability", result, ("Accepted", "Scheduled"))
    hub.set_availability_request(charge_point_id, connector_id, operative, scheduled=status == "Scheduled")
    return answer_dict(result)


async def clear_cache(hub: Hub, charge_point_id: str) -> dict[str, Any]:
    """Ask the charger to clear its authorization cache (ClearCache)."""
    result = await async_call(hub, charge_point_id, call.ClearCache())
    expect_status(charge_point_id, "ClearCache", result)
    return answer_dict(result)


async def trigger_message(
    hub: Hub, charge_point_id: str, requested_message: str, connector_id: int | None = None
) -> dict[str, Any]:
    """Ask the charger to send a message now (TriggerMessage)."""
    if requested_message in V201_TRIGGERS:
        require_v201(hub, charge_point_id, "TriggerMessage", requested_message)
    # The name as given: to_v201 spells it for a 2.0.1 station.
    payload = call.TriggerMessage(requested_message=requested_message, connector_id=connector_id)
    result = await async_call(hub, charge_point_id, payload)
    expect_status(charge_point_id, "TriggerMessage", result)
    return answer_dict(result)


async def data_transfer(
    hub: Hub, charge_point_id: str, vendor_id: str, message_id: str | None, data: str | None
) -> dict[str, Any]:
    """Send a vendor-specific message (DataTransfer) and return the answer."""
    payload = call.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data)
    result = await async_call(hub, charge_point_id, payload)
    expect_status(charge_point_id, "DataTransfer", result)
    return answer_dict(result)


async def get_configuration(hub: Hub, charge_point_id: str, keys: list[str] | None = None) -> dict[str, Any]:
    """Read configuration keys (all when none are named) and remember them.

    The answer is not schema-validated: chargers send integer booleans and values longer
    than the 500 characters the schema allows, and both must be read.
    """
    payload = call.GetConfiguration(key=keys or None)
    result = await async_call(hub, charge_point_id, payload, skip_schema_validation=True)
    configuration = result.configuration_key or []
    hub.central.update_configuration(charge_point_id, parse_configuration_keys(configuration))
    return {
        "configuration_key": [
            {"key": item.get("key"), "readonly": bool(item.get("readonly")), "value": item.get("value")}
            for item in configuration
            if isinstance(item, dict)
        ],
        "unknown_key": list(result.unknown_key or []),
    }


# The answers to ChangeConfiguration with which the charger took the new value.
CONFIGURATION_TAKEN = ("Accepted", "RebootRequired")


def adopt_password(hub: Hub, charge_point_id: str, password: str) -> None:
    """
    Expect a new HTTP Basic password from a charger (it took it as AuthorizationKey, or has no such key).

    The previous one (its own, else the entry's) stays valid until the charger has used the new one:
    a charger that takes the key after a reboot, or while connected, still gets back in.
    """
    previous = hub.central.password_of(charge_point_id) or entry_config(hub.entry).get(CONF_PASSWORD) or None
    hub.central.change_password(charge_point_id, password, previous)


async def change_configuration(hub: Hub, charge_point_id: str, key: str, value: str) -> dict[str, Any]:
    """
    Change a configuration key (ChangeConfiguration); RebootRequired is reported as such.

    AuthorizationKey is the charger's password: once the charger takes it, the password it stands
    for is the one expected from the charger (as `set_charger_password` does), and the secret is not
    kept among the configuration values. Its value must be valid (`password_of_authorization_key`).
    """
    password = password_of_authorization_key(value) if is_authorization_key(key) else None
    result = await async_call(hub, charge_point_id, call.ChangeConfiguration(key=key, value=value))
    status = str(result.status)
    if status in CONFIGURATION_TAKEN and password is not None:
        adopt_password(hub, charge_point_id, password)
    elif status in CONFIGURATION_TAKEN:
        charger = hub.central.chargers.get(charge_point_id)
        readonly = bool(charger and key in charger.configuration and charger.configuration[key].readonly)
        hub.central.update_configuration(
            charge_point_id, parse_configuration_keys([{"key": key, "value": value, "readonly": readonly}])
        )
    expect_status(charge_point_id, "ChangeConfiguration", result)
    return answer_dict(result)


def checked_payload(
    action: str,
    payload: dict[str, Any],
    known: Collection[str],
    schema_of: Callable[[str], Any],
    *,
    unknown_key: str,
    invalid_key: str,
) -> tuple[str, dict[str, Any]]:
    """Return a `call` action's name as the spec spells it and its payload in camelCase, schema-checked.

    `remote_start_transaction` and `RemoteStartTransaction` name the same action; a payload the
    charger would refuse is a validation error naming the field, before anything is sent.
    """
    if action not in known:
        matches = [name for name in known if name.casefold() == action.replace("_", "").casefold()]
        if not matches:
            raise invalid(unknown_key, action=action)
        action = matches[0]
    camel: dict[str, Any] = json.loads(json.dumps(snake_to_camel_case(payload)), parse_float=Decimal)
    try:
        schema_of(action).validate(camel)
    except SchemaValidationError as err:
        field = ".".join(str(part) for part in err.absolute_path) or "payload"
        raise invalid(invalid_key, action=action, field=field, error=err.message) from err
    return action, camel
