"""What chargers report, in the core's own terms (the wire modules, e.g. v16/, build these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .meter import MeterReading

# Readings as parsed: (meter key, reading), in the order the charger sent them.
type Readings = Sequence[tuple[str, MeterReading]]


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """A connector's (0: the charger's) status, error code and the charger's details."""

    connector_id: int
    status: str
    error_code: str
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    # The charger's own time of the status; None when it gave none (or none that parses).
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class TransactionStart:
    """A transaction a charger started: connector, id tag, register at the start, its time."""

    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime | None
    reservation_id: int | None = None


@dataclass(frozen=True, slots=True)
class TransactionStop:
    """A transaction a charger stopped, with the readings it sent along (transaction data)."""

    transaction_id: int | str  # (OCPP 2.0.1: the station's own, a string)
    meter_stop: int
    timestamp: datetime | None
    id_tag: str | None = None
    # None: the charger gave no reason (recorded as "Local", the spec's default).
    reason: str | None = None
    readings: Readings = field(default=())


@dataclass(frozen=True, slots=True)
class TransactionEvent:
    """An OCPP 2.0.1 TransactionEvent: a station's transaction under its own (string) id.

    `connector_id` is the EVSE (None when the event names none); `seq_no` counts the
    station's transaction messages, so a repeated one is a replay (E01-E07, offline queues).
    """

    event_type: str
    transaction_id: str
    seq_no: int
    trigger_reason: str
    timestamp: datetime | None
    connector_id: int | None = None
    id_tag: str | None = None
    readings: Readings = field(default=())
    offline: bool = False
    charging_state: str | None = None
    stopped_reason: str | None = None
    reservation_id: int | None = None
