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
from datetime import datetime
from typing import Any

from .history_record import HistoryRecord, as_number, kwh, tag_key
from .records import TransactionId
from .state import Transaction

__all__ = ["HistoryRecord", "TransactionHistory", "kwh", "tag_key"]

# Sessions kept; the oldest (by the charger's start time) are dropped first.
MAX_RECORDS = 5000


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
            number = as_number(value)
            if number is not None:
                self._totals_wh[str(key)] = number
