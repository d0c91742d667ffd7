"""Configuration and device model commands to OCPP 2.0.1 stations, in the 1.6 commands' answers.

The actions' handlers stay version-neutral: each calls `by_version`, which picks the 1.6
command (commands.py) or the 2.0.1 one here by the charger's OCPP version. The 2.0.1 calls are
built by engine/v201/device_model_requests.py; the answers come back in the shape the 1.6 path
returns (GetConfiguration's `configuration_key` / `unknown_key`, ChangeConfiguration's
`status`), with 2.0.1's own statuses beside them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
import json
from typing import Any

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.messages import MessageType
from ocpp.v201 import call as call201

from . import commands
from .engine.configuration import ConfigurationValue
from .engine.session import V201Session
from .engine.v201 import device_model_requests as requests
from .engine.v201.checks import OCPP_VERSION as V201, validator
from .engine.v201.notifications import report_values
from .errors import error, invalid
from .ports import Hub

# Seconds a station has to send the parts of a report an action asked for.
REPORT_SECONDS = 60.0
# The variable that holds a 2.0.1 station's HTTP Basic password (A01), and its length bounds.
BASIC_AUTH_PASSWORD = requests.VariableRef("SecurityCtrlr", "BasicAuthPassword")
PASSWORD_LENGTH = (16, 40)


def is_v201(hub: Hub, charge_point_id: str) -> bool:
    """Return whether the charger speaks OCPP 2.0.1 (its session's, else its last connection's version)."""
    session = hub.central.sessions.get(charge_point_id)
    if session is not None:
        return isinstance(session, V201Session)
    charger = hub.central.chargers.get(charge_point_id)
    return charger is not None and charger.ocpp_version == V201


async def by_version[**P](
    hub: Hub,
    charge_point_id: str,
    v16: Callable[P, Awaitable[dict[str, Any]]],
    v201: Callable[P, Awaitable[dict[str, Any]]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> dict[str, Any]:
    """Run the command of the charger's OCPP version with the same arguments."""
    return await (v201 if is_v201(hub, charge_point_id) else v16)(*args, **kwargs)


def pick[T](hub: Hub, charge_point_id: str, v16: T, v201: T) -> T:
    """Return the request builder (or anything else) of the charger's OCPP version."""
    return v201 if is_v201(hub, charge_point_id) else v16


def require_v201(hub: Hub, charge_point_id: str, action: str) -> None:
    """Refuse an action of the 2.0.1 device model for a 1.6 charger (nothing is sent)."""
    if not is_v201(hub, charge_point_id):
        raise invalid("only_for_v201", charge_point_id=charge_point_id, action=action)


def _parse(key: str) -> requests.VariableRef:
    ref = requests.parse_key(key)
    if ref is None:
        raise invalid("invalid_variable_name", name=key)
    return ref


def _readonly_names(hub: Hub, charge_point_id: str) -> list[str]:
    charger = hub.central.chargers.get(charge_point_id)
    return [name for name, value in charger.configuration.items() if value.readonly] if charger else []


def _keep(hub: Hub, charge_point_id: str, values: Mapping[str, str | None]) -> None:
    """Keep the values a station read or took (by variable name) with its configuration."""
    readonly = set(_readonly_names(hub, charge_point_id))
    kept = {
        name: ConfigurationValue(value=value, readonly=name in readonly)
        for name, value in values.items()
        if name != BASIC_AUTH_PASSWORD.name  # a secret is not kept among the configuration values
    }
    if kept:
        hub.central.update_configuration(charge_point_id, kept)


async def _get_variables(hub: Hub, charge_point_id: str, refs: list[requests.VariableRef]) -> list[dict[str, Any]]:
    """Send GetVariables in messages the station takes (DeviceDataCtrlr.ItemsPerMessage); return every result."""
    results: list[dict[str, Any]] = []
    for chunk in _chunks(hub, charge_point_id, "GetVariables", refs):
        result = await commands.async_call(hub, charge_point_id, requests.get_variables_request(chunk))
        results += result.get_variable_result
    return results


async def _set_variables(
    hub: Hub, charge_point_id: str, values: list[tuple[requests.VariableRef, str]]
) -> list[dict[str, Any]]:
    """Send SetVariables in messages the station takes (DeviceDataCtrlr.ItemsPerMessage); return every result."""
    results: list[dict[str, Any]] = []
    for chunk in _chunks(hub, charge_point_id, "SetVariables", values):
        result = await commands.async_call(hub, charge_point_id, requests.set_variables_request(chunk))
        results += result.set_variable_result
    return results


def _chunks[T](hub: Hub, charge_point_id: str, action: str, items: list[T]) -> list[list[T]]:
    # B05/B06: a station may refuse more entries than its ItemsPerMessage (read after boot).
    charger = hub.central.chargers.get(charge_point_id)
    limit = charger.config_int(f"DeviceDataCtrlr/ItemsPerMessage[{action}]") if charger is not None else None
    size = limit if limit is not None and limit > 0 else max(len(items), 1)
    return [items[start : start + size] for start in range(0, len(items), size)]


# --- configuration (the 1.6 actions) -------------------------------------------------------


async def get_configuration(hub: Hub, charge_point_id: str, keys: list[str] | None = None) -> dict[str, Any]:
    """Read configuration keys as device model variables (GetVariables); all: the configuration report."""
    if not keys:
        report = await get_base_report(hub, charge_point_id, "ConfigurationInventory")
        values = report_values(snake_to_camel_case(report["report_data"]))
        return {
            "configuration_key": [
                {"key": name, "readonly": value.readonly, "value": value.value} for name, value in values.items()
            ],
            "unknown_key": [],
        }
    asked = {key: ref for key in keys if (ref := requests.parse_key(key)) is not None}
    answer: dict[str, Any] = {"configuration_key": [], "unknown_key": []}
    if asked:
        results = await _get_variables(hub, charge_point_id, list(asked.values()))
        answer = requests.configuration_answer(asked, results, _readonly_names(hub, charge_point_id))
        _keep(hub, charge_point_id, _values_of(results))
    # Names that are no device model variable could not be asked for: unknown, as 1.6 says.
    answer["unknown_key"] += [key for key in keys if key not in asked]
    return answer


def _values_of(results: list[dict[str, Any]]) -> dict[str, str | None]:
    """Return the accepted Actual values of GetVariables / SetVariables results, by variable name."""
    values: dict[str, str | None] = {}
    for entry in requests.variable_results(results):
        if entry["attribute_status"] in ("Accepted", "RebootRequired") and entry["attribute_type"] == "Actual":
            values[entry["key"]] = entry.get("value")
    return values


async def change_configuration(hub: Hub, charge_point_id: str, key: str, value: str) -> dict[str, Any]:
    """Write a configuration key as its device model variable (SetVariables); RebootRequired is a success.

    AuthorizationKey is 2.0.1's BasicAuthPassword: the password itself (16 to 40 characters),
    expected from the station once it took it (as `set_charger_password` does).
    """
    ref = _parse(key)
    password = ref.name == BASIC_AUTH_PASSWORD.name
    if password:
        check_password(value)
    result = await commands.async_call(hub, charge_point_id, requests.set_variables_request([(ref, value)]))
    answer = requests.change_answer(result.set_variable_result[0])
    if answer["status"] in commands.CONFIGURATION_TAKEN:
        if password:
            commands.adopt_password(hub, charge_point_id, value)
        else:
            _keep(hub, charge_point_id, {ref.name: value})
    # As for 1.6: RebootRequired is taken, but said (an error) so that the user reboots the charger.
    commands.expect_status(charge_point_id, "SetVariables", _Status(answer["status"]))
    return answer


class _Status:
    """An answer's status, for `commands.expect_status` (which reads `.status`)."""

    def __init__(self, status: str) -> None:
        self.status = status


def check_password(password: str) -> None:
    """Refuse a BasicAuthPassword outside 2.0.1's bounds (A01: 16 to 40 characters)."""
    low, high = PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise invalid("basic_auth_password_length", minimum=low, maximum=high, length=len(password))


async def set_charger_password(hub: Hub, charge_point_id: str, password: str) -> dict[str, Any]:
    """Give a 2.0.1 station its HTTP Basic password: SecurityCtrlr.BasicAuthPassword, then expect it."""
    check_password(password)
    result = await commands.async_call(
        hub, charge_point_id, requests.set_variables_request([(BASIC_AUTH_PASSWORD, password)])
    )
    answer = requests.change_answer(result.set_variable_result[0])
    commands.expect_status(charge_point_id, "SetVariables", _Status(answer["status"]), commands.CONFIGURATION_TAKEN)
    # Only expected once the station took it, or it could no longer log in.
    commands.adopt_password(hub, charge_point_id, password)
    return {"status": answer["status"], "pushed": True, "attribute_status": answer["attribute_status"]}


# --- the device model (2.0.1's own actions) ------------------------------------------------


def _refuse_password(refs: list[requests.VariableRef]) -> None:
    # Written only through set_charger_password: a password the station took unknown to us locks it out.
    if any(ref.name == BASIC_AUTH_PASSWORD.name for ref in refs):
        raise invalid("use_set_charger_password", name=BASIC_AUTH_PASSWORD.name)


async def get_variables(hub: Hub, charge_point_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Read device model variables (GetVariables, B06); each result as the station answered."""
    require_v201(hub, charge_point_id, "get_variables")
    refs = [requests.variable_ref(item) for item in items]
    results = await _get_variables(hub, charge_point_id, refs)
    _keep(hub, charge_point_id, _values_of(results))
    return {"get_variable_result": requests.variable_results(results)}


async def set_variables(hub: Hub, charge_point_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Write device model variables (SetVariables, B05); each result as the station answered."""
    require_v201(hub, charge_point_id, "set_variables")
    refs = [requests.variable_ref(item) for item in items]
    _refuse_password(refs)
    values = [(ref, str(item["value"])) for ref, item in zip(refs, items, strict=True)]
    results = await _set_variables(hub, charge_point_id, values)
    # Matched by the variable each result names: 2.0.1 does not promise the request's order.
    requested = {ref.name: value for ref, value in values if ref.attribute_type == "Actual"}
    taken = {
        entry["key"]: requested[entry["key"]]
        for entry in requests.variable_results(results)
        if entry["attribute_status"] in commands.CONFIGURATION_TAKEN
        and entry["attribute_type"] == "Actual"
        and entry["key"] in requested
    }
    _keep(hub, charge_point_id, taken)
    return {"set_variable_result": requests.variable_results(results)}


async def get_base_report(hub: Hub, charge_point_id: str, report_base: str) -> dict[str, Any]:
    """Ask for a base report (GetBaseReport, B07) and return its NotifyReport parts' data once complete.

    `complete` is false when the station did not send the last part in time (REPORT_SECONDS) or
    the connection ended: what came is returned.
    """
    require_v201(hub, charge_point_id, "get_base_report")
    session = hub.central.sessions.get(charge_point_id)
    if not isinstance(session, V201Session):
        raise error("not_connected", charge_point_id=charge_point_id, action="GetBaseReport")
    request_id = next(requests.REQUEST_IDS)
    # Expected before asking: the first part may come before the answer is read.
    complete = session.expect_report(request_id, collect=True)
    try:
        result = await commands.async_call(
            hub, charge_point_id, requests.base_report_request(request_id, report_base)
        )
        commands.expect_status(charge_point_id, "GetBaseReport", result)
        waiting = asyncio.ensure_future(complete.wait())
        try:
            await session.wait_unless_ended(waiting, REPORT_SECONDS)
        finally:
            waiting.cancel()
    finally:
        parts = session.collected_report(request_id)
    return {"status": str(result.status), "complete": complete.is_set(), "report_data": camel_to_snake_case(parts)}


# --- any call, vendor messages -------------------------------------------------------------

# The CSMS-to-station actions of OCPP 2.0.1 (`ocpp.v201.call` holds both directions).
CSMS_ACTIONS = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache", "ClearChargingProfile",
        "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated", "CustomerInformation", "DataTransfer",
        "DeleteCertificate", "GetBaseReport", "GetChargingProfiles", "GetCompositeSchedule",
        "GetDisplayMessages", "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog",
        "GetMonitoringReport", "GetReport", "GetTransactionStatus", "GetVariables", "InstallCertificate",
        "PublishFirmware", "RequestStartTransaction", "RequestStopTransaction", "ReserveNow", "Reset",
        "SendLocalList", "SetChargingProfile", "SetDisplayMessage", "SetMonitoringBase", "SetMonitoringLevel",
        "SetNetworkProfile", "SetVariableMonitoring", "SetVariables", "TriggerMessage", "UnlockConnector",
        "UnpublishFirmware", "UpdateFirmware",
    }
)


async def call_action(hub: Hub, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send any 2.0.1 CSMS action with a payload checked against the library's 2.0.1 request schema."""
    action, camel = commands.checked_payload(
        action,
        payload,
        CSMS_ACTIONS,
        lambda name: validator(MessageType.Call, name),
        unknown_key="unknown_action_v201",
        invalid_key="invalid_payload_v201",
    )
    if action == "SetVariables":
        _refuse_password([requests.variable_ref(_flat(item)) for item in payload_items(camel)])
    request = getattr(call201, action)(**camel_to_snake_case(json.loads(json.dumps(snake_to_camel_case(payload)))))
    result = await commands.async_call(hub, charge_point_id, request)
    return commands.answer_dict(result)


def payload_items(camel: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a SetVariables payload's entries (camelCase)."""
    return list(camel.get("setVariableData") or ())


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    return {"component": item["component"]["name"], "variable": item["variable"]["name"]}


async def data_transfer(
    hub: Hub, charge_point_id: str, vendor_id: str, message_id: str | None, data: str | None
) -> dict[str, Any]:
    """Send a vendor-specific message (2.0.1 DataTransfer, P01) and return the answer."""
    payload = call201.DataTransfer(vendor_id=vendor_id, message_id=message_id, data=data)
    result = await commands.async_call(hub, charge_point_id, payload)
    commands.expect_status(charge_point_id, "DataTransfer", result)
    return commands.answer_dict(result)
