"""OCPP 2.0.1 transactions: TransactionEvents under the station's own ids, recorded like 1.6 sessions.

A 2.0.1 station names its transactions itself (strings). They are kept beside a relayed
charger's (`observed_transactions`, keyed by charger and id), never among ours, and end through
the same stop as a 1.6 StopTransaction: the history, the `energy` sensor (each session counted
once) and the events see one kind of session. Replays (an offline queue sent again, a message
repeated after a lost answer) are recognised by transaction id and sequence number.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
import logging
from typing import Any

from . import energy
from .authorization import PURPOSE_START, PURPOSE_STOP
from .id_tag_authority import IdTagAuthority
from .listener import IdTagPresented
from .meter import ENERGY_REGISTER
from .metering import Metering
from .orphans import reconstruct_end
from .registry import ChargerRegistry
from .reports import Readings, TransactionEvent, TransactionStop
from .reservation_book import ReservationBook
from .settings import TRANSACTION_KEYS
from .state import ConnectorState, Transaction
from .store import CentralStore
from .transactions import Transactions
from .util import snake, utcnow

_LOGGER = logging.getLogger(__name__)

# Transactions whose sequence numbers are remembered (the oldest are forgotten first).
SEQUENCES_KEPT = 1000
# 2.0.1 stop reasons that are a 1.6 reason under another name; the others keep their own.
_STOP_REASONS = {"ImmediateReset": "HardReset"}


def stop_reason(stopped_reason: str | None) -> str | None:
    """Return a 2.0.1 stoppedReason as the stop reason recorded (1.6's name where it has one)."""
    return _STOP_REASONS.get(stopped_reason, stopped_reason) if stopped_reason else None


def register_wh(readings: Readings) -> float | None:
    """Return the last energy register reading (Wh) among readings, None when there is none."""
    found = [reading.as_wh() for key, reading in readings if key == ENERGY_REGISTER]
    known = [wh for wh in found if wh is not None]
    return known[-1] if known else None


class StationTransactions:
    """TransactionEvents of 2.0.1 stations: start, update (readings, id token, state) and end."""

    def __init__(
        self,
        store: CentralStore,
        *,
        registry: ChargerRegistry,
        metering: Metering,
        id_tags: IdTagAuthority,
        reservations: ReservationBook,
        transactions: Transactions,
    ) -> None:
        """Work on the central system's state with the parts a transaction touches."""
        self._store = store
        self._registry = registry
        self._metering = metering
        self._id_tags = id_tags
        self._reservations = reservations
        self._transactions = transactions
        # Sequence numbers seen, by (charger, transaction id): a second one is a replay.
        self._seen: OrderedDict[tuple[str, str], set[int]] = OrderedDict()

    def _replayed(self, charge_point_id: str, event: TransactionEvent) -> bool:
        key = (charge_point_id, event.transaction_id)
        seen = self._seen.pop(key, set())
        self._seen[key] = seen
        while len(self._seen) > SEQUENCES_KEPT:
            self._seen.popitem(last=False)
        if event.seq_no in seen:
            return True
        seen.add(event.seq_no)
        return False

    def _stopped(self, charge_point_id: str, transaction_id: str) -> bool:
        """Return True when the station's transaction has ended already (a late message of it)."""
        return any(
            t.charge_point_id == charge_point_id and t.transaction_id == transaction_id
            for t in self._store.recent_transactions
        ) or self._store.history.stopped(charge_point_id, transaction_id)

    async def transaction_event(
        self, charge_point_id: str, event: TransactionEvent
    ) -> tuple[dict[str, Any] | None, Transaction | None]:
        """Record a TransactionEvent; return (the id token's answer when one was sent, the transaction)."""
        key = (charge_point_id, event.transaction_id)
        transaction = self._store.observed_transactions.get(key)
        info = None
        if event.id_tag:
            # A token that starts the session (Started, or the first for one begun without it) is
            # checked as a start (ConcurrentTx); a later one, or one on Ended, as a stop of it.
            starts = transaction is None or transaction.id_tag is None
            if starts and event.event_type != "Ended":
                info = self._id_tags.id_tag_info(
                    event.id_tag, charge_point_id, purpose=PURPOSE_START, connector_id=event.connector_id or 1
                )
            else:
                info = self._id_tags.id_tag_info(
                    event.id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=transaction
                )
        if self._replayed(charge_point_id, event):
            _LOGGER.info(
                "%s: TransactionEvent %s seqNo %s replayed; recorded once",
                charge_point_id, event.transaction_id, event.seq_no,
            )
            return info, transaction
        if transaction is None and event.event_type != "Ended":
            if self._stopped(charge_point_id, event.transaction_id):
                _LOGGER.info("%s: %s for ended transaction %s", charge_point_id, event.event_type, event.transaction_id)
                return info, None
            transaction = await self._start(charge_point_id, event, info)
        elif transaction is not None and event.id_tag and transaction.id_tag is None:
            # Authorized after it started (plugged in first): the session is the token's from now on.
            self._id_tag_arrived(transaction, event.id_tag, info)
        if event.event_type == "Ended":
            return info, await self._end(charge_point_id, event, transaction)
        if transaction is not None and event.readings:
            self._transactions.meter_values(
                charge_point_id, transaction.connector_id, event.readings, event.transaction_id
            )
        return info, transaction

    def _id_tag_arrived(self, transaction: Transaction, id_tag: str, info: dict[str, Any] | None) -> None:
        transaction.id_tag = id_tag
        status = info["status"] if info else "Accepted"
        transaction.authorized = status == "Accepted"
        self._announce_id_tag(transaction, id_tag, status)
        self._store.save_later()
        self._store.listener.charger_changed(transaction.charge_point_id, transaction.connector_id, TRANSACTION_KEYS)

    def _announce_id_tag(self, transaction: Transaction, id_tag: str, status: str) -> None:
        self._id_tags.note_presented(transaction.charge_point_id, id_tag, status)
        self._store.listener.id_tag_presented(
            IdTagPresented(transaction.charge_point_id, transaction.connector_id, id_tag, snake(status))
        )

    async def _start(
        self, charge_point_id: str, event: TransactionEvent, info: dict[str, Any] | None
    ) -> Transaction:
        """Start a session under the station's id; saved before the answer, as a 1.6 start."""
        charger = self._registry.accepted_charger(charge_point_id)
        connector = self._registry.connector(charger, event.connector_id or 1)
        # Without a reading in the Started event meterStart is unknown (0, as a 1.6 charger's):
        # the register shown before (`register_before_wh`) tells a lifetime register from one
        # that restarts per session; taken as the start it would swallow a restarted session.
        meter_start = register_wh(event.readings)
        transaction = Transaction(
            transaction_id=event.transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector.connector_id,
            id_tag=event.id_tag,
            meter_start=round(meter_start) if meter_start is not None else 0,
            start=event.timestamp or utcnow(),
            reservation_id=event.reservation_id,
            observed=True,
            authorized=info is None or info["status"] == "Accepted",
        )
        self._store.observed_transactions[(charge_point_id, event.transaction_id)] = transaction
        if connector.transaction is not None and connector.transaction is not transaction:
            _LOGGER.warning(
                "%s EVSE %s: transaction %s started while %s had not ended",
                charge_point_id, connector.connector_id, event.transaction_id, connector.transaction.transaction_id,
            )
            self._close_superseded(connector, connector.transaction, transaction.start or utcnow())
        connector.transaction = transaction
        self._metering.register_at_start(charger, connector, transaction)
        self._reservations.end_on_start(transaction)
        await self._store.save_now()
        if event.id_tag:
            self._announce_id_tag(transaction, event.id_tag, info["status"] if info else "Accepted")
        self._store.listener.transaction_started(transaction)
        self._store.listener.charger_changed(charge_point_id, connector.connector_id, TRANSACTION_KEYS)
        return transaction

    def _close_superseded(self, connector: ConnectorState, superseded: Transaction, moment: datetime) -> None:
        """
        Close a session a new Started on its EVSE superseded, as reconstructed: its energy counted.

        It leaves the running ones (a restart would put it back on the EVSE) for the recent
        ones, where a late Ended still completes it (transactions.py). `transaction_stopped`
        is not announced: the station never said it stopped.
        """
        self._store.observed_transactions.pop((superseded.charge_point_id, superseded.transaction_id), None)
        reconstruct_end(superseded, moment)
        energy.count_stopped(connector, superseded)
        self._store.remember_stopped(superseded)
        self._store.history.add(superseded, self._id_tags.id_tag_name(superseded.id_tag))

    async def _end(
        self, charge_point_id: str, event: TransactionEvent, transaction: Transaction | None
    ) -> Transaction | None:
        """End a session through the same stop as a 1.6 StopTransaction (history, energy, events)."""
        meter_stop = register_wh(event.readings)
        if meter_stop is None and transaction is not None:
            meter_stop = transaction.last_register_wh
            if meter_stop is None:
                meter_stop = float(transaction.meter_start or 0)
        stopped = TransactionStop(
            transaction_id=event.transaction_id,
            meter_stop=round(meter_stop or 0),
            timestamp=event.timestamp,
            id_tag=event.id_tag,
            reason=stop_reason(event.stopped_reason),
            readings=event.readings,
        )
        await self._transactions.stop_transaction(charge_point_id, stopped, observed=True)
        self._seen.pop((charge_point_id, event.transaction_id), None)
        return transaction
