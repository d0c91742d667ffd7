"""Handlers of the smart charging actions: set_charging_profile, clear_charging_profile, get_composite_schedule."""

from __future__ import annotations

from decimal import Decimal
import json
from typing import Any

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.messages import MessageType
from ocpp.v16 import call

from .. import commands
from ..const import DOMAIN
from ..engine.configuration import (
    PROFILE_SMART_CHARGING,
)
from ..engine.schemas import validator
from ..engine.smart_charging import (
    KINDS,
    LIMIT_PROFILE_ID_BASE,
    PURPOSE_TX,
    PURPOSES,
    RECURRENCY,
    TX_PROFILE_ID_BASE,
    allowed_units,
    limit_profile,
    measured_voltage,
    phases_in_use,
    to_charger_unit,
    validate_profile,
)
from ..engine.state import ChargerState, ChargingLimit
from ..engine.util import format_datetime, utcnow
from ..errors import invalid
from .targets import Target


async def set_charging_profile(target: Target) -> dict[str, Any]:
    """Handle the `set_charging_profile` action."""
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
            await target.runtime.limits.async_set(
                target.charge_point_id, connector_id, ChargingLimit(float(data["limit"]), data["unit"]), force=True
            )
            profile_id = target.runtime.limits.limit_profile_id(connector_id)
            return {"status": "Accepted", "charging_profile_id": profile_id}
        profile = simple_profile(charger, connector_id, data)
    validate_profile(charger, connector_id, profile)  # a ProfileError is translated (translate_errors)
    result = await commands.async_call(
        target.hub,
        target.charge_point_id,
        call.SetChargingProfile(connector_id=connector_id, cs_charging_profiles=profile),
        skip_schema_validation=True,
    )
    commands.expect_status(target.charge_point_id, "SetChargingProfile", result)
    target.hub.hass.async_create_background_task(
        target.runtime.limits.async_refresh_composite(target.charge_point_id, connector_id),
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


async def clear_charging_profile(target: Target) -> dict[str, Any]:
    """Handle the `clear_charging_profile` action."""
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
    if status == "Accepted":
        target.runtime.limits.forget_cleared(
            target.charge_point_id,
            profile_id=data.get("id"),
            connector_id=connector_id,
            purpose=purpose,
            stack_level=data.get("stack_level"),
        )
    target.hub.hass.async_create_background_task(
        target.runtime.limits.async_refresh_composite(target.charge_point_id, connector_id or 0),
        f"{DOMAIN} composite {target.charge_point_id}",
    )
    return {"status": status}


async def get_composite_schedule(target: Target) -> dict[str, Any]:
    """Handle the `get_composite_schedule` action."""
    target.require_profile(PROFILE_SMART_CHARGING, "get_composite_schedule")
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    return await target.runtime.limits.get_composite_schedule(
        target.charge_point_id, connector_id, target.data["duration"], target.data.get("unit")
    )


# Every action a central system may send to a charger: OCPP 1.6 and its security extension.
