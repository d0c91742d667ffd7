"""OCPP 2.0.1 notifications a station sends besides its transactions, answered to the spec.

NotifyEvent (N07: problems become the `error_code`), NotifyReport (B07/B08: the device model,
kept as the charger's configuration under `Component/Variable` names), firmware and log
progress, security events and CSRs (A02, A04), reservations (H04), charging limits and needs
(K09, K15-K17) and DataTransfer (P01). Each handler takes the core, the station's id and the
request as sent, and returns the `ocpp.v201.call_result` answer (the session answers NotifyReport
with `notify_report`, and notes when a report is complete).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any

from ocpp.v201 import call_result

from ..configuration import ConfigurationValue
from ..ports import Core
from ..reports import ConnectorStatus
from ..util import parse_datetime
from .translate import problem_error_code

_LOGGER = logging.getLogger(__name__)

type Notification = Callable[[Core, str, dict[str, Any]], Awaitable[Any]]


def variable_name(component: Mapping[str, Any], variable: Mapping[str, Any]) -> str:
    """Return a device model variable's name as kept in the configuration: `Component[inst]@evse/Variable[inst]`.

    `SampledDataCtrlr/TxUpdatedMeasurands`, `EVSE@1/Power`, `Connector@1.1/ConnectorType`: the
    component's instance and EVSE (evse.connector) only when the station names them.
    """
    name = str(component.get("name", ""))
    if component.get("instance"):
        name += f"[{component['instance']}]"
    evse = component.get("evse")
    if evse:
        name += f"@{evse['id']}" + (f".{evse['connectorId']}" if evse.get("connectorId") is not None else "")
    name += "/" + str(variable.get("name", ""))
    if variable.get("instance"):
        name += f"[{variable['instance']}]"
    return name


def report_values(report_data: list[Mapping[str, Any]]) -> dict[str, ConfigurationValue]:
    """Return a NotifyReport's variables (their Actual values) as configuration values."""
    values: dict[str, ConfigurationValue] = {}
    for item in report_data:
        for attribute in item.get("variableAttribute") or ():
            if attribute.get("type", "Actual") != "Actual":
                continue
            values[variable_name(item["component"], item["variable"])] = ConfigurationValue(
                value=attribute.get("value"), readonly=attribute.get("mutability") == "ReadOnly"
            )
    return values


async def notify_event(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Record problems (and their clearing) as the error code of their EVSE, 0 for the station (N07)."""
    charger = central.chargers.get(charge_point_id)
    for event in payload["eventData"]:
        error_code = problem_error_code(event)
        if error_code is None or charger is None:
            continue
        evse_id = int(((event.get("component") or {}).get("evse") or {}).get("id", 0))
        if evse_id > central.max_connector_id(charge_point_id):
            continue
        connector = charger.connectors.get(evse_id)
        status = connector.status if connector is not None and connector.status else "Available"
        central.status_notification(
            charge_point_id,
            ConnectorStatus(
                connector_id=evse_id,
                status=status,
                error_code=error_code,
                info=event.get("techInfo"),
                vendor_error_code=event.get("techCode"),
                timestamp=parse_datetime(event.get("timestamp")),
            ),
        )
    return call_result.NotifyEvent()


async def notify_report(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Keep a report's variables (GetBaseReport, GetReport) with the charger's configuration (B07, B08)."""
    report_data = payload.get("reportData") or []
    values = report_values(report_data)
    # An EVSE is what a 1.6 connector is: the highest EVSE reported (in any part of the report)
    # is the core's connector count, under 1.6's name, so that each EVSE gets its device at once.
    evse_ids = [int(evse["id"]) for item in report_data if (evse := item["component"].get("evse"))]
    charger = central.chargers.get(charge_point_id)
    known = (charger.config_int("NumberOfConnectors") if charger is not None else None) or 0
    if evse_ids and max(evse_ids) > known:
        values["NumberOfConnectors"] = ConfigurationValue(value=str(max(evse_ids)), readonly=True)
    central.update_configuration(charge_point_id, values)
    return call_result.NotifyReport()


async def firmware_status(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Record a firmware update's progress (L01)."""
    central.firmware_status(charge_point_id, payload["status"])
    return call_result.FirmwareStatusNotification()


async def log_status(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Record a GetLog upload's progress (N01)."""
    central.log_status(charge_point_id, payload["status"], payload.get("requestId"))
    return call_result.LogStatusNotification()


async def security_event(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Log and announce a security event (A04)."""
    central.security_event(charge_point_id, payload["type"], payload["timestamp"], payload.get("techInfo"))
    return call_result.SecurityEventNotification()


async def sign_certificate(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Announce the CSR; the signed chain comes back later with CertificateSigned (A02)."""
    return call_result.SignCertificate(status=central.sign_certificate(charge_point_id, payload["csr"]))


async def reservation_status(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """End a reservation the station let expire or removed (H04)."""
    reservation_id = int(payload["reservationId"])
    reservation = central.auth.reservations.get(reservation_id)
    if reservation is not None and reservation.charge_point_id == charge_point_id:
        central.end_reservation(reservation_id, str(payload["reservationUpdateStatus"]).lower())
    return call_result.ReservationStatusUpdate()


async def charging_limit(_central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Note an external charging limit (K09): logged, the station applies it itself."""
    _LOGGER.info(
        "%s: external charging limit from %s on EVSE %s",
        charge_point_id, payload["chargingLimit"].get("chargingLimitSource"), payload.get("evseId"),
    )
    return call_result.NotifyChargingLimit()


async def ev_charging_needs(_central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Answer an EV's charging needs (K15): Rejected, no ISO 15118 schedule will follow from here."""
    _LOGGER.info("%s: EV charging needs on EVSE %s (not acted upon)", charge_point_id, payload["evseId"])
    return call_result.NotifyEVChargingNeeds(status="Rejected")


async def charging_profiles(_central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Take a GetChargingProfiles report (K09): logged for now."""
    _LOGGER.debug("%s: charging profiles report %s", charge_point_id, payload.get("requestId"))
    return call_result.ReportChargingProfiles()


async def data_transfer(central: Core, charge_point_id: str, payload: dict[str, Any]) -> Any:
    """Announce the vendor message, answered as for 1.6 (P01): no vendor extension is implemented."""
    status = central.data_transfer(charge_point_id, payload["vendorId"], payload.get("messageId"), payload.get("data"))
    return call_result.DataTransfer(status=status)


NOTIFICATIONS: dict[str, Notification] = {
    "NotifyEvent": notify_event,
    "FirmwareStatusNotification": firmware_status,
    "LogStatusNotification": log_status,
    "SecurityEventNotification": security_event,
    "SignCertificate": sign_certificate,
    "ReservationStatusUpdate": reservation_status,
    "NotifyChargingLimit": charging_limit,
    "NotifyEVChargingNeeds": ev_charging_needs,
    "ReportChargingProfiles": charging_profiles,
    "DataTransfer": data_transfer,
}
