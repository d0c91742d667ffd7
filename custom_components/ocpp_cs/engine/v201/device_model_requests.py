"""OCPP 2.0.1 device model requests (GetVariables, SetVariables, GetBaseReport) and their answers.

The configuration actions' arguments become the calls, and the answers come back in the shapes
the 1.6 actions return. A 1.6 configuration key is read and written as the device model variable the 2.0.1
specification's migration notes name for it (`HeartbeatInterval` is
`OCPPCommCtrlr/HeartbeatInterval`); any variable is named as the device model read keeps it
(`Component[instance]@evse.connector/Variable[instance]`, notifications.variable_name), with
`.` accepted for the `/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import itertools
import re
from typing import Any

from ocpp.v201 import call

from .notifications import variable_name

# Request ids of our GetBaseReport calls (the NotifyReport messages answering them carry it),
# shared by the after-boot read and the actions so that two reports never share an id.
REQUEST_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class VariableRef:
    """A device model variable (and which of its attributes) that a request names."""

    component: str
    variable: str
    evse: int | None = None
    connector: int | None = None
    component_instance: str | None = None
    variable_instance: str | None = None
    attribute_type: str = "Actual"

    def wire(self) -> dict[str, Any]:
        """Return the request's component and variable (snake_case, as `ocpp.v201.call` takes them)."""
        component: dict[str, Any] = {"name": self.component}
        if self.component_instance is not None:
            component["instance"] = self.component_instance
        if self.evse is not None:
            component["evse"] = {"id": self.evse}
            if self.connector is not None:
                component["evse"]["connector_id"] = self.connector
        variable: dict[str, Any] = {"name": self.variable}
        if self.variable_instance is not None:
            variable["instance"] = self.variable_instance
        return {"component": component, "variable": variable}

    @property
    def name(self) -> str:
        """Return the name the charger's configuration keeps the variable under."""
        wire = self.wire()
        evse = wire["component"].get("evse")
        if evse is not None and "connector_id" in evse:
            wire["component"]["evse"] = {"id": evse["id"], "connectorId": evse["connector_id"]}
        return variable_name(wire["component"], wire["variable"])


# OCPP 1.6 configuration keys and the 2.0.1 variables that took their place (the 2.0.1
# specification's Referenced Components and Variables, and its migration notes from 1.6).
MIGRATED_KEYS: Mapping[str, VariableRef] = {
    key: VariableRef(component, variable, variable_instance=instance)
    for key, (component, variable, instance) in {
        "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval", None),
        "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval", None),
        "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands", None),
        "StopTxnSampledData": ("SampledDataCtrlr", "TxEndedMeasurands", None),
        "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval", None),
        "MeterValuesAlignedData": ("AlignedDataCtrlr", "Measurands", None),
        "StopTxnAlignedData": ("AlignedDataCtrlr", "TxEndedMeasurands", None),
        "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut", None),
        "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect", None),
        "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId", None),
        "MaxEnergyOnInvalidId": ("TxCtrlr", "MaxEnergyOnInvalidId", None),
        "UnlockConnectorOnEVSideDisconnect": ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None),
        "ResetRetries": ("OCPPCommCtrlr", "ResetRetries", None),
        "TransactionMessageAttempts": ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"),
        "TransactionMessageRetryInterval": ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"),
        "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval", None),
        "SupportedFileTransferProtocols": ("OCPPCommCtrlr", "FileTransferProtocols", None),
        "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart", None),
        "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline", None),
        "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize", None),
        "AllowOfflineTxForUnknownId": ("AuthCtrlr", "OfflineTxForUnknownIdEnabled", None),
        "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled", None),
        "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled", None),
        "SendLocalListMaxLength": ("LocalAuthListCtrlr", "ItemsPerMessage", None),
        "ReserveConnectorZeroSupported": ("ReservationCtrlr", "NonEvseSpecific", None),
        "ChargeProfileMaxStackLevel": ("SmartChargingCtrlr", "ProfileStackLevel", None),
        "ChargingScheduleAllowedChargingRateUnit": ("SmartChargingCtrlr", "RateUnit", None),
        "ChargingScheduleMaxPeriods": ("SmartChargingCtrlr", "PeriodsPerSchedule", None),
        "AuthorizationKey": ("SecurityCtrlr", "BasicAuthPassword", None),
        "SecurityProfile": ("SecurityCtrlr", "SecurityProfile", None),
        "CpoName": ("SecurityCtrlr", "OrganizationName", None),
    }.items()
}

_NAME = re.compile(
    r"(?P<component>[^\s\[\]@/.]+)(?:\[(?P<component_instance>[^\]]+)\])?"
    r"(?:@(?P<evse>\d+)(?:\.(?P<connector>\d+))?)?"
    r"[/.](?P<variable>[^\s\[\]@/.]+)(?:\[(?P<variable_instance>[^\]]+)\])?"
)


def parse_key(key: str) -> VariableRef | None:
    """Return the variable a configuration key names (a 1.6 key or a device model name), else None."""
    if key in MIGRATED_KEYS:
        return MIGRATED_KEYS[key]
    match = _NAME.fullmatch(key.strip())
    if match is None:
        return None
    parts = match.groupdict()
    return VariableRef(
        component=parts["component"],
        variable=parts["variable"],
        evse=int(parts["evse"]) if parts["evse"] is not None else None,
        connector=int(parts["connector"]) if parts["connector"] is not None else None,
        component_instance=parts["component_instance"],
        variable_instance=parts["variable_instance"],
    )


def variable_ref(item: Mapping[str, Any]) -> VariableRef:
    """Return the variable an action's entry names.

    Its fields: component, variable, evse, connector_id, the component's instance
    (`component_instance`), the variable's (`instance`) and attribute_type.
    """
    return VariableRef(
        component=str(item["component"]),
        variable=str(item["variable"]),
        evse=item.get("evse"),
        connector=item.get("connector_id"),
        component_instance=item.get("component_instance"),
        variable_instance=item.get("instance"),
        attribute_type=str(item.get("attribute_type") or "Actual"),
    )


def get_variables_request(refs: Iterable[VariableRef]) -> call.GetVariables:
    """Return the GetVariables call that reads `refs` (B06)."""
    data = [{**ref.wire(), "attribute_type": ref.attribute_type} for ref in refs]
    return call.GetVariables(get_variable_data=data)


def set_variables_request(values: Iterable[tuple[VariableRef, str]]) -> call.SetVariables:
    """Return the SetVariables call that writes each value to its variable (B05)."""
    data = [
        {**ref.wire(), "attribute_type": ref.attribute_type, "attribute_value": value} for ref, value in values
    ]
    return call.SetVariables(set_variable_data=data)


def base_report_request(request_id: int, report_base: str) -> call.GetBaseReport:
    """Return the GetBaseReport call of a report (B07); its NotifyReport parts carry `request_id`."""
    return call.GetBaseReport(request_id=request_id, report_base=report_base)


def _result_ref(item: Mapping[str, Any]) -> VariableRef:
    """Return the variable a GetVariables / SetVariables result (snake_case, as the session returns it) is about."""
    component, variable = item["component"], item["variable"]
    evse = component.get("evse") or {}
    return VariableRef(
        component=component["name"],
        variable=variable["name"],
        evse=evse.get("id"),
        connector=evse.get("connector_id"),
        component_instance=component.get("instance"),
        variable_instance=variable.get("instance"),
        attribute_type=item.get("attribute_type") or "Actual",
    )


def variable_results(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return GetVariables / SetVariables results as the action's answer, one entry each.

    Each names its variable as the action's fields do, with `key` (its configuration name) and
    the station's status.
    """
    answer = []
    for item in results:
        ref = _result_ref(item)
        entry: dict[str, Any] = {
            "key": ref.name,
            "component": ref.component,
            "variable": ref.variable,
            "attribute_type": ref.attribute_type,
            "attribute_status": item["attribute_status"],
        }
        optional = {
            "evse": ref.evse,
            "connector_id": ref.connector,
            "component_instance": ref.component_instance,
            "instance": ref.variable_instance,
            "value": item.get("attribute_value"),
            "status_info": item.get("attribute_status_info"),
        }
        answer.append(entry | {key: value for key, value in optional.items() if value is not None})
    return answer


def configuration_answer(
    asked: Mapping[str, VariableRef], results: Iterable[Mapping[str, Any]], readonly: Iterable[str] = ()
) -> dict[str, Any]:
    """Return a GetVariables answer as GetConfiguration's: `configuration_key` and `unknown_key`.

    Each key keeps the name it was asked by (a 1.6 key stays one); a variable the station does
    not know, or would not read, is an unknown key. `readonly` names the variables the device
    model read reported read-only (GetVariables does not say).
    """
    by_name = {ref.name: key for key, ref in asked.items()}
    readonly_names = set(readonly)
    found, unknown = [], []
    for item in results:
        ref = _result_ref(item)
        key = by_name.get(ref.name, ref.name)
        if item["attribute_status"] == "Accepted":
            found.append({"key": key, "readonly": ref.name in readonly_names, "value": item.get("attribute_value")})
        else:
            unknown.append(key)
    return {"configuration_key": found, "unknown_key": unknown}


# SetVariables' attribute statuses as ChangeConfiguration's (1.6 has no "unknown variable").
_CHANGE_STATUS = {
    "Accepted": "Accepted",
    "RebootRequired": "RebootRequired",
    "Rejected": "Rejected",
    "UnknownComponent": "NotSupported",
    "UnknownVariable": "NotSupported",
    "NotSupportedAttributeType": "NotSupported",
}


def change_answer(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return one SetVariables result as ChangeConfiguration's answer (`status`), with 2.0.1's own status."""
    answer = {
        "status": _CHANGE_STATUS.get(result["attribute_status"], "Rejected"),
        "attribute_status": result["attribute_status"],
    }
    if result.get("attribute_status_info"):
        answer["status_info"] = result["attribute_status_info"]
    return answer
