"""OCPP 2.0.1 payloads in the core's terms: boot, connector statuses, sampled values, events (part 2, B/G/J)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
import logging
import math
from typing import Any

from ..meter import DEFAULT_MEASURAND, MeterReading, meter_key, normalize_unit
from ..reports import TransactionEvent
from ..state import BootInfo
from ..util import parse_datetime, utcnow

_LOGGER = logging.getLogger(__name__)

# A 2.0.1 connector status is what the connector is; with the transaction's chargingState it
# is what a 1.6 connector reports (what dashboards and automations of 1.6 chargers know).
_OCCUPIED_BY_CHARGING_STATE = {
    "Charging": "Charging",
    "SuspendedEV": "SuspendedEV",
    "SuspendedEVSE": "SuspendedEVSE",
    "EVConnected": "Preparing",
    # Idle: no energy transfer possible (the EV left, or the session ended with the cable in).
    "Idle": "Finishing",
}

# NotifyEvent problems by component (part 2 appendix 3, the standardized components) as the
# 1.6 error codes the `error_code` sensor knows; any other problem is OtherError.
_ERROR_CODE_BY_COMPONENT = {
    "ConnectorPlugRetentionLock": "ConnectorLockFailure",
    "ChargingStatus": "OtherError",
    "ConnectedEV": "EVCommunicationError",
    "ElectricalFeed": "PowerSwitchFailure",
    "PowerContactor": "PowerSwitchFailure",
    "RCD": "GroundFailure",
    "TemperatureSensor": "HighTemperature",
    "Controller": "InternalError",
    "TokenReader": "ReaderFailure",
    "FiscalMetering": "PowerMeterFailure",
    "ControlMetering": "PowerMeterFailure",
    "OverCurrentProtection": "OverCurrentFailure",
    "OverCurrentProtectionRecloser": "OverCurrentFailure",
}
_ERROR_CODE_BY_VARIABLE = {
    "Overvoltage": "OverVoltage",
    "OverVoltage": "OverVoltage",
    "Undervoltage": "UnderVoltage",
    "UnderVoltage": "UnderVoltage",
    "OverCurrent": "OverCurrentFailure",
    "Overheat": "HighTemperature",
    "SignalStrength": "WeakSignal",
}


def boot_info(request: Mapping[str, Any]) -> BootInfo:
    """Return what a BootNotificationRequest (as sent) says about the charging station."""
    station = request.get("chargingStation") or {}
    modem = station.get("modem") or {}
    return BootInfo(
        vendor=station.get("vendorName"),
        model=station.get("model"),
        charge_point_serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
    )


def connector_status(connector_status: str, charging_state: str | None, transaction_ended: bool) -> str:
    """Return a 2.0.1 connector status as the 1.6 status shown for it, given the EVSE's transaction.

    `charging_state`: the chargingState of the EVSE's running transaction (None: none runs);
    `transaction_ended`: its last transaction ended while the connector stays occupied.
    """
    if connector_status != "Occupied":
        return connector_status  # Available, Reserved, Unavailable, Faulted: the same words
    if charging_state is not None:
        return _OCCUPIED_BY_CHARGING_STATE.get(charging_state, "Preparing")
    return "Finishing" if transaction_ended else "Preparing"


def problem_error_code(event: Mapping[str, Any]) -> str | None:
    """Return the error code a NotifyEvent's event stands for (NoError when cleared), None if no problem.

    A problem is the `Problem` variable (true), or an alerting/problem trigger of a monitor.
    """
    component = (event.get("component") or {}).get("name", "")
    variable = (event.get("variable") or {}).get("name", "")
    is_problem = variable == "Problem" or (
        event.get("trigger") in ("Alerting", "Delta") and variable in (_ERROR_CODE_BY_VARIABLE)
    )
    if not is_problem:
        return None
    if event.get("cleared") or (variable == "Problem" and str(event.get("actualValue", "")).lower() == "false"):
        return "NoError"
    return _ERROR_CODE_BY_VARIABLE.get(variable) or _ERROR_CODE_BY_COMPONENT.get(component, "OtherError")


def parse_meter_values(
    meter_values: Iterable[Mapping[str, Any]], fallback_time: datetime
) -> list[tuple[str, MeterReading]]:
    """
    Turn 2.0.1 MeterValueType objects into (key, reading) pairs, oldest first.

    unitOfMeasure's multiplier (a power of ten) is applied to the value; the unit then
    names what the 1.6 units do (Wh, kWh, W, A, V, ...). Values signed only are skipped.
    """
    readings: list[tuple[str, MeterReading]] = []
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value.get("timestamp")) or fallback_time
        for sampled in meter_value.get("sampledValue") or ():
            measurand = sampled.get("measurand") or DEFAULT_MEASURAND
            unit_of_measure = sampled.get("unitOfMeasure") or {}
            try:
                value = float(sampled["value"]) * 10.0 ** int(unit_of_measure.get("multiplier") or 0)
            except (KeyError, TypeError, ValueError, OverflowError):
                _LOGGER.debug("Skipping non-numeric sampled value %r", sampled.get("value"))
                continue
            if not math.isfinite(value):
                continue
            phase, location = sampled.get("phase"), sampled.get("location")
            reading = MeterReading(
                value=value,
                unit=normalize_unit(unit_of_measure.get("unit"), measurand),
                timestamp=timestamp,
                measurand=measurand,
                phase=phase,
                location=location,
                context=sampled.get("context"),
            )
            readings.append((meter_key(measurand, phase, location), reading))
    readings.sort(key=lambda item: item[1].timestamp)
    return readings


def transaction_event(request: Mapping[str, Any]) -> TransactionEvent:
    """Return a TransactionEventRequest (as sent) as the core's transaction event, its meterValue parsed."""
    info = request["transactionInfo"]
    evse = request.get("evse") or {}
    id_token = request.get("idToken") or {}
    return TransactionEvent(
        event_type=request["eventType"],
        transaction_id=str(info["transactionId"]),
        seq_no=int(request["seqNo"]),
        trigger_reason=request["triggerReason"],
        timestamp=parse_datetime(request.get("timestamp")),
        connector_id=evse.get("id"),
        # Our id tags are what 2.0.1 calls idToken.idToken, whatever its type.
        id_tag=id_token.get("idToken") or None,
        readings=parse_meter_values(request.get("meterValue") or (), utcnow()),
        offline=bool(request.get("offline")),
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
        reservation_id=request.get("reservationId"),
    )


def id_token_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """Return the core's id tag answer (1.6's IdTagInfo, snake_case) as a 2.0.1 IdTokenInfoType."""
    token_info: dict[str, Any] = {"status": info["status"]}
    if info.get("expiry_date"):
        token_info["cache_expiry_date_time"] = info["expiry_date"]
    if info.get("parent_id_tag"):
        # A 1.6 parent id tag is what 2.0.1 calls the group id token (C09).
        token_info["group_id_token"] = {"id_token": info["parent_id_tag"], "type": "Central"}
    return token_info
