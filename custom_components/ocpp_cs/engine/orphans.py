"""
Transactions the charger no longer has: closed as reconstructed once its queued StopTransaction is overdue.

A charger that rebooted (BootNotification of its own, not one we asked for) has no transaction
running (spec 5.14: a reset terminates it; a power loss ends it), and one that reports a connector
Available or Preparing has none on it. If we still hold one open for that connector (Home
Assistant was down while it stopped, the charger lost power), its StopTransaction is usually in
the charger's queue of transaction-related messages (spec 3.6), delivered after the boot and the
status notifications. So the transaction is only *in doubt* first: a status that says the
connector draws power again takes the doubt away, its StopTransaction closes it as usual, and
when neither came within the grace (`grace`), it is closed here as reconstructed: its end is
when the doubt arose, its energy what the last register reading showed, the history keeps it
marked so (`stop_seen` false), and `transaction_stopped` is announced with the reason
`Reconstructed`. A StopTransaction that still comes later completes the record with the real
values (transactions.py) without counting the session twice. While in doubt, no TxProfile is
sent for it (`in_doubt`): the charger would refuse a profile for a transaction it does not have.
"""

from __future__ import annotations

from datetime import datetime, timedelta
import logging

from . import energy
from .history import HistoryRecord
from .id_tag_authority import IdTagAuthority
from .live_readings import DRAWING_STATUSES
from .metering import Metering
from .reports import ConnectorStatus
from .settings import TRANSACTION_KEYS
from .state import ChargerState, Transaction
from .store import CentralStore
from .util import utcnow

_LOGGER = logging.getLogger(__name__)

# The stop reason of a transaction closed here (the `stop_reason` sensor's `reconstructed`).
RECONSTRUCTED = "Reconstructed"
# How long a charger gets to deliver its queued StopTransaction once its transaction is in doubt.
DEFAULT_GRACE = timedelta(seconds=60)
# However a charger's retry keys are set, a transaction is not left in doubt longer than this.
MAX_GRACE = timedelta(minutes=15)
# Statuses that say a connector has no transaction.
_NO_TRANSACTION_STATUSES = frozenset({"Available", "Preparing"})


def reconstruct_end(transaction: Transaction, moment: datetime) -> datetime:
    """End a transaction whose stop never came at `moment`, at the last register seen; return its stop."""
    seen, start = transaction.last_register_wh, transaction.meter_start
    transaction.meter_stop = round(seen) if seen is not None and (start is None or seen >= start) else start
    transaction.stop = max(moment, transaction.start) if transaction.start is not None else moment
    transaction.reason = RECONSTRUCTED
    transaction.stop_reconstructed = True
    return transaction.stop


def reconstructed_transaction(record: HistoryRecord | None, observed: bool) -> Transaction | None:
    """
    Return the transaction of a history record whose end was reconstructed (None for any other).

    For the late stop of a session that has left the recent transactions: it completes the
    session as if it were still there. The base register is what the record implies
    (meterStop - energy), so the energy goes on from what was counted.
    """
    if record is None or record.stop_seen or not record.start_seen:
        return None
    counted = record.energy_wh or 0.0
    transaction = Transaction(
        transaction_id=record.transaction_id,
        charge_point_id=record.charge_point_id,
        connector_id=record.connector_id,
        id_tag=record.id_tag,
        meter_start=record.meter_start,
        start=record.start,
        stop=record.stop,
        meter_stop=None if record.meter_stop is None else round(record.meter_stop),
        last_register_wh=record.meter_stop,
        stop_reconstructed=True,
        observed=observed,
        counted_wh=counted,
    )
    base = (record.meter_stop or 0.0) - counted
    if not record.meter_start and base > 0:
        transaction.first_register_wh = transaction.register_before_wh = base
    return transaction


def grace(charger: ChargerState) -> timedelta:
    """
    Return how long to wait for a charger's queued StopTransaction.

    The default, plus the time its retries may take when its first delivery fails (spec 3.6.1:
    before each retransmission it waits TransactionMessageRetryInterval times the transmissions
    so far, for TransactionMessageAttempts in all), when those keys are known; at most MAX_GRACE.
    """
    attempts = charger.config_int("TransactionMessageAttempts") or 0
    interval = charger.config_int("TransactionMessageRetryInterval") or 0
    retries = timedelta(seconds=max(0, interval) * max(0, attempts) * max(0, attempts - 1) / 2)
    return min(MAX_GRACE, DEFAULT_GRACE + retries)


class OrphanedTransactions:
    """Open transactions of directly connected chargers that the charger may no longer have."""

    def __init__(self, store: CentralStore, metering: Metering, id_tags: IdTagAuthority) -> None:
        """Work on the central system's state, with the parts a closing touches."""
        self._store = store
        self._metering = metering
        self._id_tags = id_tags
        # Our transaction id -> since when it is in doubt (not persisted: after a restart the
        # charger is asked to boot, or reports its statuses, again).
        self._doubts: dict[int, datetime] = {}

    def charger_rebooted(self, charge_point_id: str, now: datetime | None = None) -> None:
        """Put every transaction we hold open for a charger in doubt: it booted on its own."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is None:
            return
        for connector in charger.connectors.values():
            if connector.transaction is not None and not connector.transaction.observed:
                self._doubt(connector.transaction, now or utcnow())

    def status_reported(self, charge_point_id: str, report: ConnectorStatus) -> None:
        """Put a connector's transaction in doubt when it reports no transaction; clear it when it draws power."""
        charger = self._store.chargers.get(charge_point_id)
        connector = charger.connectors.get(report.connector_id) if charger is not None else None
        transaction = connector.transaction if connector is not None else None
        if transaction is None or transaction.observed or connector is None or connector.status != report.status:
            return  # (a status older than the one known was ignored)
        if report.status in DRAWING_STATUSES:
            if isinstance(transaction.transaction_id, int):  # (only ours are ever in doubt)
                self._doubts.pop(transaction.transaction_id, None)
        elif report.status in _NO_TRANSACTION_STATUSES:
            moment = report.timestamp or utcnow()
            if transaction.start is None or moment >= transaction.start:
                self._doubt(transaction, utcnow())

    def _doubt(self, transaction: Transaction, now: datetime) -> None:
        transaction_id = transaction.transaction_id
        # Only ours (1.6, integer ids): a 2.0.1 station's transactions end by its TransactionEvents.
        if isinstance(transaction_id, int) and transaction_id not in self._doubts:
            _LOGGER.info(
                "%s connector %s: transaction %s may have ended without its StopTransaction yet; waiting for it",
                transaction.charge_point_id,
                transaction.connector_id,
                transaction.transaction_id,
            )
            self._doubts[transaction_id] = now

    def still_held(self, transaction: Transaction) -> None:
        """The charger reported under the transaction's id (MeterValues): it has it, no doubt."""
        if isinstance(transaction.transaction_id, int):
            self._doubts.pop(transaction.transaction_id, None)

    def in_doubt(self, transaction: Transaction) -> bool:
        """Return True while a transaction's charger may no longer have it (send it no TxProfile)."""
        return transaction.transaction_id in self._doubts and not transaction.stop

    def close_overdue(self, now: datetime | None = None) -> None:
        """Close as reconstructed the transactions whose StopTransaction did not come within the grace."""
        now = now or utcnow()
        for transaction_id, since in list(self._doubts.items()):
            transaction = self._store.open_transactions.get(transaction_id)
            charger = self._store.chargers.get(transaction.charge_point_id) if transaction is not None else None
            connector = charger.connectors.get(transaction.connector_id) if transaction and charger else None
            if transaction is None or charger is None or connector is None or connector.transaction is not transaction:
                # Stopped meanwhile, or superseded by a new start (which reconstructed its end).
                del self._doubts[transaction_id]
                continue
            if now - since >= grace(charger):
                del self._doubts[transaction_id]
                self._close(charger, transaction_id, transaction, since)

    def _close(self, charger: ChargerState, transaction_id: int, transaction: Transaction, moment: datetime) -> None:
        """Close a transaction as reconstructed: ended when the doubt arose, at the last register seen."""
        _LOGGER.warning(
            "%s connector %s: no StopTransaction for transaction %s; closed as reconstructed",
            charger.charge_point_id,
            transaction.connector_id,
            transaction.transaction_id,
        )
        connector = charger.connectors[transaction.connector_id]
        del self._store.open_transactions[transaction_id]
        connector.transaction = None
        connector.pending_restart = None
        stopped_at = reconstruct_end(transaction, moment)
        energy.count_stopped(connector, transaction)
        keys = TRANSACTION_KEYS | self._metering.energy_changed(charger, connector.connector_id)
        keys |= self._metering.transaction_ended(connector, stopped_at)
        self._store.remember_stopped(transaction)
        self._store.history.add(transaction, self._id_tags.id_tag_name(transaction.id_tag))
        self._store.save_later()
        self._store.listener.transaction_stopped(transaction)
        self._store.listener.charger_changed(charger.charge_point_id, connector.connector_id, keys)
