"""
The transaction history: every stopped session on record, bounded, with energy totals per id tag.

Fed by the central system whenever a StopTransaction is recorded (or a stop has to be
reconstructed because the charger started a new session without stopping the old one). It
is persisted apart from the central system's state, so that state stays small and fast to
save; the central system's stopped transactions (saved before every StopTransaction is
answered, and kept until a history write holds them) fill in whatever the history had not
written yet when Home Assistant stopped or was killed.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .records import TransactionId
from .state import Transaction
from .util import parse_datetime, snake

# Sessions kept; the oldest (by the charger's start time) are dropped first.
MAX_RECORDS = 5000
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _number(value)
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
        return self.start or self.stop or _EARLIEST

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
                meter_stop=_number(data.get("meter_stop")),
                energy_wh=_number(data.get("energy_wh")),
                reason=data.get("reason"),
                start_seen=bool(data.get("start_seen", True)),
                stop_seen=bool(data.get("stop_seen", True)),
                cost=_number(data.get("cost")),
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


type HistoryListener = Callable[[HistoryRecord], None]
# Fills in what a new record carries beyond the transaction (its cost) before it is kept.
type RecordAnnotator = Callable[[HistoryRecord], None]


class TransactionHistory:
    """The bounded record of stopped sessions, ordered by the charger's start time."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        """Create an empty history; `restore` loads a persisted one."""
        self.max_records = max_records
        self._records: list[HistoryRecord] = []
        self._keys: list[datetime] = []
        self._by_key: dict[tuple[str, TransactionId], HistoryRecord] = {}
        # Energy per id tag (tag_key) of every session ever recorded, dropped ones included.
        self._totals_wh: dict[str, float] = {}
        # Called for every record added or replaced (persistence, totals sensors).
        self.listener: HistoryListener | None = None
        self.annotator: RecordAnnotator | None = None

    def set_annotator(self, annotator: RecordAnnotator | None) -> None:
        """Call `annotator` with every new record before it is kept (None: nobody)."""
        self.annotator = annotator

    def set_listener(self, listener: HistoryListener | None) -> None:
        """Call `listener` for every record added or replaced (None: nobody)."""
        self.listener = listener

    def __len__(self) -> int:
        """Return the number of sessions kept."""
        return len(self._records)

    def __iter__(self) -> Iterator[HistoryRecord]:
        """Iterate the sessions oldest first."""
        return iter(list(self._records))

    # --- recording ----------------------------------------------------------------------

    def stopped(self, charge_point_id: str, transaction_id: TransactionId) -> bool:
        """Return True when the charger's StopTransaction for this id is already on record."""
        found = self._by_key.get((charge_point_id, transaction_id))
        return found is not None and found.stop_seen

    def stopped_as(
        self, charge_point_id: str, transaction_id: TransactionId, meter_stop: float, stop: datetime
    ) -> bool:
        """Return True when this very StopTransaction (same id, meterStop and time) is on record."""
        found = self._by_key.get((charge_point_id, transaction_id))
        return found is not None and found.stop_seen and found.meter_stop == meter_stop and found.stop == stop

    def get(self, charge_point_id: str, transaction_id: TransactionId) -> HistoryRecord | None:
        """Return the record of a charger's session under this id, if kept."""
        return self._by_key.get((charge_point_id, transaction_id))

    def recorded(self, charge_point_id: str, transaction_id: TransactionId) -> bool:
        """Return True when the history holds a session of the charger under this id."""
        return (charge_point_id, transaction_id) in self._by_key

    def add(
        self,
        transaction: Transaction,
        id_tag_name: str | None = None,
        *,
        reconstructed_stop: datetime | None = None,
        count_dropped: bool = True,
    ) -> HistoryRecord | None:
        """
        Record a stopped transaction; return the record, None when nothing changed.

        A StopTransaction already on record is not recorded twice. One that arrives for a
        session whose end was reconstructed replaces that record. `count_dropped=False`
        leaves the totals alone for a session so old it is dropped at once (it may have
        been counted before it was dropped).
        """
        record = HistoryRecord.from_transaction(transaction, id_tag_name, stop=reconstructed_stop)
        previous = self._by_key.get(record.key)
        if previous is not None:
            if previous.stop_seen or not record.stop_seen:
                return None
            self._remove(previous)
            self._count(previous, -1)
        elif not count_dropped and self._dropped_at_once(record):
            return None
        if self.annotator is not None:
            self.annotator(record)
        self._count(record, 1)
        self._insert(record)
        if self.listener is not None:
            self.listener(record)
        return record

    def reconcile(self, transactions: Iterable[Transaction], name_of: Callable[[str | None], str | None]) -> int:
        """Record stopped transactions the history missed (saved in the state, not here yet)."""
        added = 0
        for transaction in transactions:
            if transaction.stop is None or self.stopped(transaction.charge_point_id, transaction.transaction_id):
                continue
            if self.add(transaction, name_of(transaction.id_tag), count_dropped=False) is not None:
                added += 1
        return added

    def _dropped_at_once(self, record: HistoryRecord) -> bool:
        return len(self._records) >= self.max_records and bool(self._keys) and record.sort_key < self._keys[0]

    def _count(self, record: HistoryRecord, sign: int) -> None:
        if record.id_tag is None or not record.energy_wh:
            return
        key = tag_key(record.id_tag)
        self._totals_wh[key] = self._totals_wh.get(key, 0.0) + sign * record.energy_wh

    def _insert(self, record: HistoryRecord) -> None:
        position = bisect.bisect_right(self._keys, record.sort_key)
        self._keys.insert(position, record.sort_key)
        self._records.insert(position, record)
        self._by_key[record.key] = record
        while len(self._records) > self.max_records:
            # One record per key (add replaces, restore skips a repeat): the dropped one is its key's.
            self._keys.pop(0)
            del self._by_key[self._records.pop(0).key]

    def _remove(self, record: HistoryRecord) -> None:
        """Take out a record that is kept (found by its key): among those that share its sort key."""
        position = bisect.bisect_left(self._keys, record.sort_key)
        while self._records[position] is not record:
            position += 1
        del self._records[position]
        del self._keys[position]
        del self._by_key[record.key]

    # --- reading ------------------------------------------------------------------------

    def total_wh(self, id_tag: str) -> float:
        """Return the energy of every session recorded for an id tag (dropped ones included)."""
        return self._totals_wh.get(tag_key(id_tag), 0.0)

    def query(
        self,
        *,
        charge_point_id: str | None = None,
        connector_id: int | None = None,
        id_tag: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[HistoryRecord]:
        """
        Return sessions newest first.

        `start`/`end` select sessions that started in [start, end) (by the charger's clock;
        a session whose start is unknown counts by its stop).
        """
        wanted_tag = tag_key(id_tag) if id_tag is not None else None
        found: list[HistoryRecord] = []
        for record in reversed(self._records):
            moment = record.sort_key
            if end is not None and moment >= end:
                continue
            if start is not None and moment < start:
                break  # ordered by that moment: everything further is older
            if charge_point_id is not None and record.charge_point_id != charge_point_id:
                continue
            if connector_id is not None and record.connector_id != connector_id:
                continue
            if wanted_tag is not None and (record.id_tag is None or tag_key(record.id_tag) != wanted_tag):
                continue
            found.append(record)
            if limit is not None and len(found) >= limit:
                break
        return found

    # --- persistence --------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the history, JSON-serialisable."""
        return {
            "records": [record.to_dict() for record in self._records],
            "totals_wh": dict(self._totals_wh),
        }

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load a persisted history (before any charger connects)."""
        if not data:
            return
        for raw in data.get("records") or ():
            record = HistoryRecord.from_dict(raw)
            if record is not None and record.key not in self._by_key:
                self._insert(record)
        for key, value in (data.get("totals_wh") or {}).items():
            number = _number(value)
            if number is not None:
                self._totals_wh[str(key)] = number
