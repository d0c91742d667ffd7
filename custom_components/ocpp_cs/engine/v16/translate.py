"""OCPP 1.6 payloads in the core's terms: boot, status, transactions, sampled values (spec 4.x, 7.x)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
import logging
import math
from typing import Any

from ..meter import DEFAULT_MEASURAND, MeterReading, meter_key, normalize_unit
from ..reports import ConnectorStatus, TransactionStart, TransactionStop
from ..state import BootInfo
from ..util import parse_datetime, utcnow

_LOGGER = logging.getLogger(__name__)


def boot_info(request: Mapping[str, Any]) -> BootInfo:
    """Return what a BootNotification (snake_case keys) says about the charger."""
    return BootInfo(
        vendor=request.get("charge_point_vendor"),
        model=request.get("charge_point_model"),
        charge_point_serial_number=request.get("charge_point_serial_number"),
        charge_box_serial_number=request.get("charge_box_serial_number"),
        firmware_version=request.get("firmware_version"),
        iccid=request.get("iccid"),
        imsi=request.get("imsi"),
        meter_type=request.get("meter_type"),
        meter_serial_number=request.get("meter_serial_number"),
    )


def connector_status(request: Mapping[str, Any]) -> ConnectorStatus:
    """Return a StatusNotification (snake_case keys) as the core's connector status."""
    return ConnectorStatus(
        connector_id=int(request["connector_id"]),
        status=request["status"],
        error_code=request["error_code"],
        info=request.get("info"),
        vendor_id=request.get("vendor_id"),
        vendor_error_code=request.get("vendor_error_code"),
        timestamp=parse_datetime(request.get("timestamp")),
    )


def transaction_start(request: Mapping[str, Any]) -> TransactionStart:
    """Return a StartTransaction (snake_case keys) as the core's transaction start."""
    return TransactionStart(
        connector_id=int(request["connector_id"]),
        id_tag=str(request["id_tag"]),
        meter_start=int(request["meter_start"]),
        timestamp=parse_datetime(request.get("timestamp")),
        reservation_id=request.get("reservation_id"),
    )


def transaction_stop(request: Mapping[str, Any]) -> TransactionStop:
    """Return a StopTransaction (snake_case keys) as the core's transaction stop, its transactionData parsed."""
    return TransactionStop(
        transaction_id=int(request["transaction_id"]),
        meter_stop=int(request["meter_stop"]),
        timestamp=parse_datetime(request.get("timestamp")),
        id_tag=request.get("id_tag"),
        reason=request.get("reason"),
        readings=parse_meter_values(request.get("transaction_data") or [], utcnow()),
    )


def parse_meter_values(
    meter_values: Iterable[Mapping[str, Any]], fallback_time: datetime
) -> list[tuple[str, MeterReading]]:
    """
    Turn a MeterValues/transactionData list into (key, reading) pairs, oldest first.

    Values that are not numbers (SignedData, garbage) are skipped: the spec forbids
    refusing MeterValues over the outcome of sanity checks.
    """
    readings: list[tuple[str, MeterReading]] = []
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value.get("timestamp")) or fallback_time
        # As the charger sent it (payload.AS_SENT), or converted to snake_case by a caller.
        sampled_values = meter_value.get("sampledValue")
        if sampled_values is None:
            sampled_values = meter_value.get("sampled_value")
        for sampled in sampled_values or ():
            if sampled.get("format") == "SignedData":
                continue
            measurand = sampled.get("measurand") or DEFAULT_MEASURAND
            try:
                value = float(sampled["value"])
            except (KeyError, TypeError, ValueError):
                _LOGGER.debug("Skipping non-numeric sampled value %r", sampled.get("value"))
                continue
            if not math.isfinite(value):
                continue
            phase = sampled.get("phase")
            location = sampled.get("location")
            readings.append(
                (
                    meter_key(measurand, phase, location),
                    MeterReading(
                        value=value,
                        unit=normalize_unit(sampled.get("unit"), measurand),
                        timestamp=timestamp,
                        measurand=measurand,
                        phase=phase,
                        location=location,
                        context=sampled.get("context"),
                    ),
                )
            )
    readings.sort(key=lambda item: item[1].timestamp)
    return readings
