"""One stopped session as the history keeps it (and answers, and exports), and how id tags compare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .records import TransactionId
from .state import Transaction
from .util import parse_datetime, snake

EARLIEST = datetime.min.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def as_number(value: Any) -> float | None:
    """Return a stored number as a float; None when it is missing or not a number."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = as_number(value)
    return None if number is None else int(number)


def whole(value: float | None) -> float | int | None:
    """Return a meter value in Wh as an int when it is one (JSON shows 1250 rather than 1250.0)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def kwh(wh: float | None) -> float | None:
    """Return Wh as kWh, exact to the Wh (3 decimals)."""
    return None if wh is None else round(wh / 1000.0, 3)


@dataclass(slots=True)
class HistoryRecord:
    """One charging session as it ended (or as its end was reconstructed)."""

    charge_point_id: str
    connector_id: int
    transaction_id: TransactionId
    id_tag: str | None
    id_tag_name: str | None
    start: datetime | None
    stop: datetime | None
    meter_start: int | None
    meter_stop: float | None
    energy_wh: float | None
    reason: str | None
    # False for a StopTransaction of a transaction this central system never saw start.
    start_seen: bool = True
    # False when the charger never sent StopTransaction: the end was reconstructed from the
    # next session's start and the last meter reading seen.
    stop_seen: bool = True
    # What the session cost (rounded to the cent) and in which currency, when a price source is
    # set (engine/costs; the glue fills them in before the record is kept, see `set_annotator`).
    cost: float | None = None
    currency: str | None = None

    @property
    def key(self) -> tuple[str, TransactionId]:
        """Return what identifies the session: a charger's transaction id."""
        return (self.charge_point_id, self.transaction_id)

    @property
    def sort_key(self) -> datetime:
        """Return the session's place in time: its start (its stop when the start is unknown)."""
        return self.start or self.stop or EARLIEST

    @property
    def duration_s(self) -> int | None:
        """Return the duration in whole seconds, when both ends are known."""
        if self.start is None or self.stop is None:
            return None
        return max(0, int((self.stop - self.start).total_seconds()))

    @property
    def energy_kwh(self) -> float | None:
        """Return the session's energy in kWh (3 decimals: exact to the Wh)."""
        return kwh(self.energy_wh)

    @property
    def reason_snake(self) -> str | None:
        """Return the stop reason in snake_case (`local` when the charger gave none)."""
        if not self.stop_seen:
            return None
        return snake(self.reason or "Local")

    @classmethod
    def from_transaction(
        cls, transaction: Transaction, id_tag_name: str | None, *, stop: datetime | None = None
    ) -> HistoryRecord:
        """Record a stopped transaction; `stop` (or its `stop_reconstructed`) reconstructs an end never seen."""
        reconstructed = transaction.stop is None or transaction.stop_reconstructed
        meter_stop: float | None = transaction.meter_stop
        if reconstructed:
            # The last reading seen is all that is known of its end: the energy is a lower bound.
            meter_stop = transaction.last_register_wh
            if meter_stop is None or (transaction.meter_start is not None and meter_stop < transaction.meter_start):
                meter_stop = transaction.meter_start
        return cls(
            charge_point_id=transaction.charge_point_id,
            connector_id=transaction.connector_id,
            transaction_id=transaction.transaction_id,
            id_tag=transaction.id_tag,
            id_tag_name=id_tag_name,
            start=transaction.start,
            stop=stop if stop is not None else transaction.stop,
            meter_start=transaction.meter_start,
            meter_stop=meter_stop,
            energy_wh=transaction.energy_wh(),
            reason=None if reconstructed else transaction.reason,
            start_seen=transaction.start_seen,
            stop_seen=not reconstructed,
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "transaction_id": self.transaction_id,
            "id_tag": self.id_tag,
            "id_tag_name": self.id_tag_name,
            "start": _iso(self.start),
            "stop": _iso(self.stop),
            "meter_start": self.meter_start,
            "meter_stop": self.meter_stop,
            "energy_wh": self.energy_wh,
            "reason": self.reason,
            "start_seen": self.start_seen,
            "stop_seen": self.stop_seen,
            # A 2.0.1 station's own id (a string) says so: any other string is a damaged record.
            **({"ocpp_version": "2.0.1"} if isinstance(self.transaction_id, str) else {}),
            # Only with a cost: records of entries without a price source stay as they were.
            **({"cost": self.cost, "currency": self.currency} if self.cost is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryRecord | None:
        """Restore from persistence; None for a record this version cannot read."""
        transaction_id = data.get("transaction_id")
        try:
            return cls(
                charge_point_id=str(data["charge_point_id"]),
                connector_id=int(data.get("connector_id") or 0),
                transaction_id=(
                    transaction_id
                    if isinstance(transaction_id, str) and data.get("ocpp_version") == "2.0.1"
                    else int(data["transaction_id"])
                ),
                id_tag=data.get("id_tag"),
                id_tag_name=data.get("id_tag_name"),
                start=parse_datetime(data.get("start")),
                stop=parse_datetime(data.get("stop")),
                meter_start=_int(data.get("meter_start")),
                meter_stop=as_number(data.get("meter_stop")),
                energy_wh=as_number(data.get("energy_wh")),
                reason=data.get("reason"),
                start_seen=bool(data.get("start_seen", True)),
                stop_seen=bool(data.get("stop_seen", True)),
                cost=as_number(data.get("cost")),
                currency=data.get("currency"),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def as_answer(self) -> dict[str, Any]:
        """Return the record as the `get_transactions` action answers it (CONTRACT.md)."""
        return {
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "transaction_id": self.transaction_id,
            "id_tag": self.id_tag,
            "start": _iso(self.start),
            "stop": _iso(self.stop),
            "meter_start": whole(self.meter_start),
            "meter_stop": whole(self.meter_stop),
            "energy": self.energy_kwh,
            "duration": self.duration_s,
            "reason": self.reason_snake,
            # Added keys only where sessions are costed (issue 18): other answers stay as they were.
            **({"cost": self.cost, "currency": self.currency} if self.cost is not None else {}),
        }


def tag_key(id_tag: str) -> str:
    """Return how id tags compare (IdToken is case-insensitive)."""
    return id_tag.casefold()
