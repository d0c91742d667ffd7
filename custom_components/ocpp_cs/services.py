"""Actions of the ocpp_cs domain, registered once for every entry.

`device_id` names the charger (or one of its connectors) of whichever entry it belongs to,
so with several entries loaded a command always reaches the charger that was named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
import json
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import VolDictType
from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.messages import MessageType
from ocpp.v16 import call
from ocpp.v16.enums import MessageTrigger
import probatio as vol

from . import commands
from .const import DOMAIN
from .engine.configuration import (
    AUTHORIZATION_KEY,
    PROFILE_LOCAL_AUTH,
    PROFILE_REMOTE_TRIGGER,
    PROFILE_RESERVATION,
    PROFILE_SMART_CHARGING,
    AuthorizationKeyError,
    authorization_key_value,
    is_authorization_key,
    password_of_authorization_key,
)
from .engine.schemas import validator
from .engine.smart_charging import (
    KINDS,
    LIMIT_PROFILE_ID_BASE,
    PURPOSE_CHARGE_POINT_MAX,
    PURPOSE_TX,
    PURPOSE_TX_DEFAULT,
    PURPOSES,
    RECURRENCY,
    TX_PROFILE_ID_BASE,
    UNIT_A,
    UNIT_W,
    ProfileError,
    allowed_units,
    limit_profile,
    measured_voltage,
    phases_in_use,
    to_charger_unit,
    validate_profile,
)
from .engine.state import ChargerState, ChargingLimit
from .engine.util import format_datetime, utcnow
from .errors import invalid, invalid_from
from .hub import OcppHub
from .local_list import get_local_list_version, send_local_list
from .reservations import aware, cancel_reservation, reserve_now
from .smart_charging import get_composite_schedule

ATTR_DEVICE_ID = "device_id"
ATTR_CONNECTOR_ID = "connector_id"
# Every action with a connector_id takes it: send to a connector the charger has not reported
# (yet); the charger answers (spec: it may have more than it said, or report them late).
ATTR_ALLOW_UNKNOWN_CONNECTOR = "allow_unknown_connector"
ALLOW_UNKNOWN_CONNECTOR = vol.Optional(ATTR_ALLOW_UNKNOWN_CONNECTOR, default=False)


def _trigger(value: Any) -> str:
    """Accept a MessageTrigger in the spec's spelling or in snake_case."""
    text = str(value).replace("_", "").lower()
    for trigger in MessageTrigger:
        if trigger.value.lower() == text:
            return str(trigger.value)
    raise vol.Invalid(f"must be one of {', '.join(t.value for t in MessageTrigger)}")


def bounded_string(length: int) -> vol.All[str]:
    """Return a validator of a string of 1 to `length` characters."""
    return vol.All(cv.string, vol.Length(min=1, max=length))


_CONNECTOR = vol.All(vol.Coerce(int), vol.Range(min=0))

SCHEMAS: dict[str, VolDictType] = {
    "remote_start_transaction": {
        vol.Optional("id_tag"): bounded_string(20),
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Optional("charging_profile"): dict,
    },
    "remote_stop_transaction": {
        vol.Optional("transaction_id"): vol.Coerce(int),
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "unlock_connector": {
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "reset": {vol.Optional("type", default="soft"): vol.In(["soft", "hard"])},
    "change_availability": {
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("type"): vol.In(["operative", "inoperative"]),
    },
    "get_configuration": {vol.Optional("keys"): vol.All(cv.ensure_list, [bounded_string(50)])},
    "change_configuration": {
        vol.Required("key"): bounded_string(50),
        vol.Required("value"): vol.All(cv.string, vol.Length(max=500)),
    },
    "clear_cache": {},
    "trigger_message": {
        vol.Required("requested_message"): _trigger,
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "set_charging_profile": {
        vol.Optional("limit"): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("unit", default=UNIT_A): vol.In([UNIT_A, UNIT_W]),
        vol.Optional("purpose"): vol.In(list(PURPOSES)),
        vol.Optional("stack_level"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        vol.Optional("kind"): vol.In(list(KINDS)),
        vol.Optional("recurrency"): vol.In(list(RECURRENCY)),
        vol.Optional("duration"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("valid_from"): cv.datetime,
        vol.Optional("valid_to"): cv.datetime,
        vol.Optional("number_phases"): vol.All(vol.Coerce(int), vol.Range(min=1, max=3)),
        vol.Optional("min_charging_rate"): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("charging_profile"): dict,
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "clear_charging_profile": {
        vol.Optional("id"): vol.Coerce(int),
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Optional("purpose"): vol.In(list(PURPOSES)),
        vol.Optional("stack_level"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    },
    "get_composite_schedule": {
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("duration"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("unit"): vol.In([UNIT_A, UNIT_W]),
    },
    # 16 to 20 bytes: checked by authorization_key_value (the message names the rule).
    "set_charger_password": {vol.Required("password"): cv.string},
    "call": {
        vol.Required("action"): cv.string,
        vol.Optional("payload", default=dict): dict,
    },
    "data_transfer": {
        vol.Required("vendor_id"): bounded_string(255),
        vol.Optional("message_id"): bounded_string(50),
        vol.Optional("data"): cv.string,
    },
    "reserve_now": {
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("id_tag"): bounded_string(20),
        vol.Required("expiry_date"): cv.datetime,
        vol.Optional("parent_id_tag"): bounded_string(20),
        vol.Optional("reservation_id"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    },
    "cancel_reservation": {vol.Required("reservation_id"): vol.All(vol.Coerce(int), vol.Range(min=0))},
    "send_local_list": {
        vol.Optional("update_type", default="full"): vol.All(cv.string, vol.Lower, vol.In(["full", "differential"])),
        vol.Optional("local_authorization_list"): vol.All(cv.ensure_list, [dict]),
        vol.Optional("list_version"): vol.All(vol.Coerce(int), vol.Range(min=1)),
    },
    "get_local_list_version": {},
}


@dataclass(frozen=True, slots=True)
class Target:
    """The charger (and connector) an action names, with its validated fields."""

    hub: OcppHub
    charge_point_id: str
    device_connector_id: int | None
    data: dict[str, Any]

    @property
    def charger(self) -> ChargerState:
        """Return the charger's state."""
        return self.hub.central.chargers[self.charge_point_id]

    def connector_id(self, *, default: int | None, minimum: int = 1) -> int | None:
        """
        Return the connector: the field, else the connector device, else `default`; validated.

        One the charger has not reported is refused unless the caller allows unknown connectors;
        even then not above the highest id a charger's messages may name (`max_connector_id`).
        """
        explicit = self.data.get(ATTR_CONNECTOR_ID)
        if explicit is not None and self.device_connector_id is not None and explicit != self.device_connector_id:
            raise invalid(
                "connector_mismatch", connector_id=explicit, device_connector_id=self.device_connector_id
            )
        connector_id = explicit if explicit is not None else self.device_connector_id
        if connector_id is None:
            connector_id = default
        if connector_id is None:
            return None
        if connector_id < minimum:
            raise invalid("connector_zero")
        maximum = self.hub.central.max_connector_id(self.charge_point_id)
        if connector_id > maximum:
            raise invalid(
                "connector_above_maximum",
                charge_point_id=self.charge_point_id,
                connector_id=connector_id,
                maximum=maximum,
            )
        known = self.charger.number_of_connectors
        if known > 0 and connector_id > known and not self.data.get(ATTR_ALLOW_UNKNOWN_CONNECTOR):
            raise invalid(
                "invalid_connector", charge_point_id=self.charge_point_id, connector_id=connector_id, connectors=known
            )
        return connector_id

    def require_profile(self, profile: str, action: str) -> None:
        """Refuse an action the charger's SupportedFeatureProfiles says it cannot do."""
        if not self.charger.supports(profile):
            raise invalid(
                "feature_not_supported", charge_point_id=self.charge_point_id, action=action, profile=profile
            )


def resolve_target(hass: HomeAssistant, action: str, service_data: dict[str, Any]) -> Target:
    """Validate the action's fields and find the charger its `device_id` names."""
    device_id = service_data.get(ATTR_DEVICE_ID)
    if isinstance(device_id, list) and len(device_id) == 1:
        device_id = device_id[0]
    if not isinstance(device_id, str) or not device_id:
        raise invalid("device_required")
    fields = {k: v for k, v in service_data.items() if k != ATTR_DEVICE_ID}
    try:
        data = vol.Schema(SCHEMAS[action])(fields)
    except vol.Invalid as err:
        raise invalid("invalid_field", action=action, error=str(err)) from err
    device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
    if device is None:
        raise invalid("unknown_device", device_id=device_id)
    hubs: list[OcppHub] = [
        entry.runtime_data
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        if entry.entry_id == device.config_entry_id
    ]
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        for hub in hubs:
            chargers = hub.central.chargers
            if identifier in chargers:
                return Target(hub, identifier, None, data)
            charge_point_id, _, suffix = identifier.rpartition("_")
            if charge_point_id in chargers and suffix.isdigit():
                return Target(hub, charge_point_id, int(suffix), data)
    raise invalid("unknown_device", device_id=device_id)


# --- handlers -------------------------------------------------------------------------------

type Handler = Callable[[Target], Awaitable[dict[str, Any]]]


async def _remote_start(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=1)
    return await commands.remote_start(
        target.hub, target.charge_point_id, connector_id, target.data.get("id_tag"), target.data.get("charging_profile")
    )


async def _remote_stop(target: Target) -> dict[str, Any]:
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
    return await commands.remote_stop(target.hub, target.charge_point_id, int(transaction_id))


async def _unlock(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=1)
    assert connector_id is not None
    return await commands.unlock_connector(target.hub, target.charge_point_id, connector_id)


async def _reset(target: Target) -> dict[str, Any]:
    return await commands.reset(target.hub, target.charge_point_id, target.data["type"] == "hard")


async def _change_availability(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    operative = target.data["type"] == "operative"
    return await commands.change_availability(target.hub, target.charge_point_id, connector_id, operative)


async def _get_configuration(target: Target) -> dict[str, Any]:
    return await commands.get_configuration(target.hub, target.charge_point_id, target.data.get("keys"))


def checked_password(value: str) -> str:
    """Return the password an AuthorizationKey value stands for; refuse one the charger could not use."""
    try:
        return password_of_authorization_key(value)
    except AuthorizationKeyError as err:
        raise invalid_from(err) from err


async def _change_configuration(target: Target) -> dict[str, Any]:
    key, value = target.data["key"], target.data["value"]
    if is_authorization_key(key):
        checked_password(value)  # before sending: a key the charger took but we refuse locks it out
    return await commands.change_configuration(target.hub, target.charge_point_id, key, value)


async def _clear_cache(target: Target) -> dict[str, Any]:
    return await commands.clear_cache(target.hub, target.charge_point_id)


async def _trigger_message(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_REMOTE_TRIGGER, "trigger_message")
    connector_id = target.connector_id(default=None, minimum=0)
    return await commands.trigger_message(
        target.hub, target.charge_point_id, target.data["requested_message"], connector_id or None
    )


async def _data_transfer(target: Target) -> dict[str, Any]:
    return await commands.data_transfer(
        target.hub,
        target.charge_point_id,
        target.data["vendor_id"],
        target.data.get("message_id"),
        target.data.get("data"),
    )


async def _set_charging_profile(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_SMART_CHARGING, "set_charging_profile")
    data = target.data
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    if ("charging_profile" in data) == ("limit" in data):
        raise invalid("profile_or_limit")
    charger = target.charger
    if "charging_profile" in data:
        profile = normalize_profile(data["charging_profile"], connector_id)
    else:
        scope_purpose = "charge_point_max" if connector_id == 0 else "tx_default"
        purpose = data.get("purpose", scope_purpose)
        extra = {
            "stack_level",
            "kind",
            "recurrency",
            "duration",
            "valid_from",
            "valid_to",
            "number_phases",
            "min_charging_rate",
        }
        if purpose == scope_purpose and extra.isdisjoint(data):
            # The plain limit of a scope: the same path as the number entities (and persisted).
            await target.hub.limits.async_set(
                target.charge_point_id, connector_id, ChargingLimit(float(data["limit"]), data["unit"]), force=True
            )
            profile_id = target.hub.limits.limit_profile_id(connector_id)
            return {"status": "Accepted", "charging_profile_id": profile_id}
        profile = simple_profile(charger, connector_id, data)
    try:
        validate_profile(charger, connector_id, profile)
    except ProfileError as err:
        raise invalid_from(err) from err
    result = await commands.async_call(
        target.hub,
        target.charge_point_id,
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile),
        skip_schema_validation=True,
    )
    commands.expect_status(target.charge_point_id, "SetChargingProfile", result)
    target.hub.hass.async_create_background_task(
        target.hub.limits.async_refresh_composite(target.charge_point_id, connector_id),
        f"{DOMAIN} composite {target.charge_point_id}",
    )
    return {"status": str(result.status), "charging_profile_id": profile["charging_profile_id"]}


def simple_profile(charger: ChargerState, connector_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Build a profile from the action's `limit` + `unit` form and its optional fields."""
    purpose = PURPOSES[data.get("purpose", "charge_point_max" if connector_id == 0 else "tx_default")]
    units = allowed_units(charger)
    voltage = measured_voltage(charger, connector_id)
    phases = phases_in_use(charger, connector_id, charger.phases)
    conversion = to_charger_unit(ChargingLimit(float(data["limit"]), data["unit"]), units, voltage, phases)
    stack_level = data.get("stack_level", 0)
    transaction_id = None
    if purpose == PURPOSE_TX:
        connector = charger.connectors.get(connector_id)
        if connector is None or connector.transaction is None:
            raise invalid("tx_profile_no_transaction", connector_id=connector_id)
        transaction_id = connector.transaction.transaction_id
    base = TX_PROFILE_ID_BASE if purpose == PURPOSE_TX else LIMIT_PROFILE_ID_BASE
    profile_id = base + connector_id + 100 * stack_level
    profile = limit_profile(
        purpose,
        connector_id,
        conversion.value,
        conversion.unit,
        profile_id=profile_id,
        stack_level=stack_level,
        transaction_id=transaction_id,
        number_phases=data.get("number_phases"),
    )
    schedule = profile["charging_schedule"]
    if "kind" in data:
        profile["charging_profile_kind"] = KINDS[data["kind"]]
    if profile["charging_profile_kind"] == "Relative":
        schedule.pop("start_schedule", None)
    elif "start_schedule" not in schedule:
        schedule["start_schedule"] = format_datetime(utcnow())
    if "recurrency" in data:
        profile["recurrency_kind"] = RECURRENCY[data["recurrency"]]
    if "duration" in data:
        schedule["duration"] = data["duration"]
    if "min_charging_rate" in data:
        schedule["min_charging_rate"] = round(float(data["min_charging_rate"]), 1)
    for field_name in ("valid_from", "valid_to"):
        if field_name in data:
            profile[field_name] = format_datetime(data[field_name])
    return profile


def normalize_profile(raw: dict[str, Any], connector_id: int) -> dict[str, Any]:
    """Return an OCPP ChargingProfile (camelCase or snake_case) in snake_case, schema-checked."""
    camel = snake_to_camel_case(raw)
    payload = json.loads(json.dumps({"connectorId": connector_id, "csChargingProfiles": camel}), parse_float=Decimal)
    try:
        # Read with Decimal numbers at setup (schemas.preload): limits have one decimal at most.
        validator(MessageType.Call, "SetChargingProfile").validate(payload)
    except SchemaValidationError as err:
        if err.validator == "multipleOf":
            raise invalid("limit_decimals", limit=err.instance) from err
        path = ".".join(str(part) for part in err.absolute_path)
        raise invalid("invalid_profile", error=f"{path}: {err.message}" if path else err.message) from err
    profile: dict[str, Any] = camel_to_snake_case(json.loads(json.dumps(camel)))
    return profile


async def _clear_charging_profile(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_SMART_CHARGING, "clear_charging_profile")
    data = target.data
    connector_id = target.connector_id(default=None, minimum=0)
    purpose = PURPOSES.get(data.get("purpose", ""))
    payload = call.ClearChargingProfile(
        id=data.get("id"),
        connector_id=connector_id,
        charging_profile_purpose=purpose,
        stack_level=data.get("stack_level"),
    )
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    status = commands.expect_status(target.charge_point_id, "ClearChargingProfile", result, ("Accepted", "Unknown"))
    limits = target.charger.limits
    for scope in list(limits):
        scope_purpose = PURPOSE_CHARGE_POINT_MAX if scope == 0 else PURPOSE_TX_DEFAULT
        if data.get("id") is not None:
            cleared = data["id"] == target.hub.limits.limit_profile_id(scope)
        else:
            cleared = (
                (purpose in (None, scope_purpose))
                and connector_id in (None, scope)
                and (data.get("stack_level") in (None, target.hub.limits.stack_level_of(target.charger)))
            )
        if cleared and status == "Accepted":
            del limits[scope]
            target.hub.central.changed(target.charge_point_id, scope, frozenset({"limit"}))
    target.hub.hass.async_create_background_task(
        target.hub.limits.async_refresh_composite(target.charge_point_id, connector_id or 0),
        f"{DOMAIN} composite {target.charge_point_id}",
    )
    return {"status": status}


async def _get_composite_schedule(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_SMART_CHARGING, "get_composite_schedule")
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    return await get_composite_schedule(
        target.hub, target.charge_point_id, connector_id, target.data["duration"], target.data.get("unit")
    )


# Every action a central system may send to a charger: OCPP 1.6 and its security extension.
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


async def _call(target: Target) -> dict[str, Any]:
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
        password = checked_password(camel["value"])  # the same password as change_configuration's
    request = getattr(call, action)(**camel_to_snake_case(json.loads(json.dumps(camel))))
    result = await commands.async_call(target.hub, target.charge_point_id, request)
    if password is not None and str(result.status) in commands.CONFIGURATION_TAKEN:
        commands.adopt_password(target.hub, target.charge_point_id, password)
    return commands.answer_dict(result)


async def _reserve_now(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_RESERVATION, "reserve_now")
    connector_id = target.connector_id(default=1, minimum=0)
    assert connector_id is not None
    if connector_id == 0 and target.charger.config_bool("ReserveConnectorZeroSupported") is not True:
        raise invalid("reserve_connector_zero", charge_point_id=target.charge_point_id)
    expiry = aware(target.data["expiry_date"])
    if expiry <= utcnow():
        raise invalid("expiry_in_past", expiry_date=format_datetime(expiry))
    return await reserve_now(
        target.hub,
        target.charge_point_id,
        connector_id,
        target.data["id_tag"],
        expiry,
        parent_id_tag=target.data.get("parent_id_tag"),
        reservation_id=target.data.get("reservation_id"),
    )


async def _cancel_reservation(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_RESERVATION, "cancel_reservation")
    reservation_id = target.data["reservation_id"]
    known = target.hub.central.auth.reservations.get(reservation_id)
    if known is not None and known.charge_point_id != target.charge_point_id:
        raise invalid(
            "reservation_other_charger", reservation_id=reservation_id, charge_point_id=known.charge_point_id
        )
    return await cancel_reservation(target.hub, target.charge_point_id, reservation_id)


async def _send_local_list(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_LOCAL_AUTH, "send_local_list")
    return await send_local_list(
        target.hub,
        target.charge_point_id,
        target.data["update_type"],
        target.data.get("local_authorization_list"),
        target.data.get("list_version"),
    )


async def _get_local_list_version(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_LOCAL_AUTH, "get_local_list_version")
    return await get_local_list_version(target.hub, target.charge_point_id)


async def _set_charger_password(target: Target) -> dict[str, Any]:
    """Give a charger its own HTTP Basic password; push it first when the charger has AuthorizationKey."""
    hub, charge_point_id = target.hub, target.charge_point_id
    password: str = target.data["password"]
    try:
        # The 1.6 security whitepaper: the password is AuthorizationKey, 16 to 20 bytes, in hexadecimal.
        value = authorization_key_value(password)
    except AuthorizationKeyError as err:
        raise invalid_from(err) from err
    pushed = any(is_authorization_key(key) for key in target.charger.configuration)
    if pushed:
        # Only expect it once the charger took it, or the charger could no longer log in.
        payload = call.ChangeConfiguration(key=AUTHORIZATION_KEY, value=value)
        result = await commands.async_call(hub, charge_point_id, payload)
        commands.expect_status(charge_point_id, "ChangeConfiguration", result, commands.CONFIGURATION_TAKEN)
    commands.adopt_password(hub, charge_point_id, password)
    return {"status": "Accepted", "pushed": pushed}


HANDLERS: dict[str, Handler] = {
    "remote_start_transaction": _remote_start,
    "remote_stop_transaction": _remote_stop,
    "unlock_connector": _unlock,
    "reset": _reset,
    "change_availability": _change_availability,
    "get_configuration": _get_configuration,
    "change_configuration": _change_configuration,
    "clear_cache": _clear_cache,
    "trigger_message": _trigger_message,
    "data_transfer": _data_transfer,
    "call": _call,
    "set_charger_password": _set_charger_password,
    "set_charging_profile": _set_charging_profile,
    "clear_charging_profile": _clear_charging_profile,
    "get_composite_schedule": _get_composite_schedule,
    "reserve_now": _reserve_now,
    "cancel_reservation": _cancel_reservation,
    "send_local_list": _send_local_list,
    "get_local_list_version": _get_local_list_version,
}


async def _async_handle(hass: HomeAssistant, action: str, call: ServiceCall) -> ServiceResponse:
    target = resolve_target(hass, action, dict(call.data))
    answer = await HANDLERS[action](target)
    return answer if call.return_response else None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action once; fields are validated in the handler (translated errors)."""
    for action in HANDLERS:
        hass.services.async_register(
            DOMAIN, action, partial(_async_handle, hass, action), supports_response=SupportsResponse.OPTIONAL
        )
