"""A central system's transactions: start, stop, replays and chargers' own transaction ids."""

from __future__ import annotations

from datetime import datetime
import logging
from typing import Any

from . import energy
from .authorization import PURPOSE_START, PURPOSE_STOP
from .id_tag_authority import IdTagAuthority
from .listener import IdTagPresented
from .meter import ENERGY_REGISTER
from .metering import Metering
from .orphans import OrphanedTransactions, reconstructed_transaction
from .registry import ChargerRegistry
from .reports import Readings, TransactionStart, TransactionStop
from .reservation_book import ReservationBook
from .settings import TRANSACTION_KEYS
from .state import ChargerState, Transaction
from .store import CentralStore
from .util import snake, utcnow

_LOGGER = logging.getLogger(__name__)


class Transactions:
    """Transactions of directly connected chargers, under our ids, and the readings sent for them."""

    def __init__(
        self,
        store: CentralStore,
        registry: ChargerRegistry,
        metering: Metering,
        id_tags: IdTagAuthority,
        reservations: ReservationBook,
        *,
        orphans: OrphanedTransactions,
    ) -> None:
        """Work on the central system's state with the parts a transaction touches."""
        self._store = store
        self._registry = registry
        self._metering = metering
        self._id_tags = id_tags
        self._reservations = reservations
        self._orphans = orphans

    def meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        readings: Readings,
        transaction_id: int | str | None,
    ) -> None:
        """Record meter readings; they update sensors and the transaction's energy."""
        charger = self._registry.accepted_charger(charge_point_id)
        connector = self._registry.connector(charger, connector_id)
        transaction = None
        if transaction_id is not None:
            transaction = self._open_transaction_of(charge_point_id, transaction_id)
            if transaction is None and connector_id > 0:
                transaction = self._by_charger_id(charger, transaction_id, connector_id=connector_id)
        elif connector_id > 0:
            transaction = connector.transaction
        self._metering.apply_readings(charger, connector, readings, transaction)
        if transaction_id is not None and transaction is not None:
            # Readings under its id: the charger still has the transaction (engine/orphans.py).
            self._orphans.still_held(transaction)

    def _open_transaction_of(self, charge_point_id: str, transaction_id: int | str) -> Transaction | None:
        """Return an open transaction of this charger; another charger's id is not its own."""
        # Ours are integers; a 2.0.1 station's (strings) are among the observed ones.
        transaction = self._store.open_transactions.get(transaction_id) if isinstance(transaction_id, int) else None
        if transaction is None or transaction.charge_point_id != charge_point_id:
            return self._store.observed_transactions.get((charge_point_id, transaction_id))
        return transaction

    def _stopped_transaction(self, charge_point_id: str, transaction_id: int | str) -> Transaction | None:
        """Return the charger's recently stopped transaction with this id (ours, or its own for it)."""
        for recent in reversed(self._store.recent_transactions):
            if recent.charge_point_id == charge_point_id and transaction_id in (
                recent.transaction_id,
                recent.charger_transaction_id,
            ):
                return recent
        return None

    def _replayed_stop(
        self, charger: ChargerState, transaction_id: int | str, meter_stop: int, stop: datetime
    ) -> tuple[bool, Transaction | None]:
        """
        Return whether a StopTransaction for no open transaction is a replay (and the stopped one).

        A charger that uses its own transaction ids (quirk_table.py) may reuse one of ours for
        another session of its own: under our id only the very same stop (meterStop and time) is
        a replay; under its own id (remembered with the session) any is.
        """
        charge_point_id = charger.charge_point_id
        if not charger.quirks.own_transaction_ids:
            recent = self._stopped_transaction(charge_point_id, transaction_id)
            return recent is not None or self._store.history.stopped(charge_point_id, transaction_id), recent
        for recent in reversed(self._store.recent_transactions):
            if recent.charge_point_id != charge_point_id:
                continue
            if recent.charger_transaction_id == transaction_id or (
                recent.transaction_id == transaction_id and recent.meter_stop == meter_stop and recent.stop == stop
            ):
                return True, recent
        return self._store.history.stopped_as(charge_point_id, transaction_id, meter_stop, stop), None

    def _by_charger_id(
        self,
        charger: ChargerState,
        transaction_id: int | str,
        *,
        connector_id: int | None = None,
        meter_stop: int | None = None,
        stop: datetime | None = None,
    ) -> Transaction | None:
        """
        Return the running transaction a charger's own transaction id stands for (quirk_table.py).

        Only with the `own_transaction_ids` quirk, and never for an id of the charger's that a
        stopped session already has (a late message of that session). Once it has shown ids of its
        own, they may coincide with ours for other sessions: one of ours is mapped too (replayed
        stops were recognised before); until then one of ours is its session's. The id sticks to
        the transaction it was first taken for; a new one goes to the charger's (connector's) only
        running transaction that has none yet, when the stop can be its: a meterStop not below its
        meterStart, a stop not before its start.
        """
        charge_point_id = charger.charge_point_id
        if not charger.quirks.own_transaction_ids or not isinstance(transaction_id, int):
            return None
        mine = [recent for recent in self._store.recent_transactions if recent.charge_point_id == charge_point_id]
        if any(recent.charger_transaction_id == transaction_id for recent in mine):
            return None  # a late message of a stopped session
        if not any(recent.charger_transaction_id is not None for recent in mine) and (
            any(recent.transaction_id == transaction_id for recent in mine)
            or self._store.history.recorded(charge_point_id, transaction_id)
        ):
            # As far as we know it uses our ids (set up to, or it would have shown its own):
            # one of ours is a late message of that session.
            return None
        running = [
            t
            for t in self._id_tags.running_transactions()
            if t.charge_point_id == charge_point_id and connector_id in (None, t.connector_id)
        ]
        for transaction in running:
            if transaction.charger_transaction_id == transaction_id:
                return transaction
        fresh = [t for t in running if t.charger_transaction_id is None]
        if len(fresh) != 1:
            return None
        transaction = fresh[0]
        if meter_stop is not None and transaction.meter_start is not None and meter_stop < transaction.meter_start:
            return None
        if stop is not None and transaction.start is not None and stop < transaction.start:
            return None
        transaction.charger_transaction_id = transaction_id
        self._store.save_later()
        return transaction

    def _find_replay(
        self, charge_point_id: str, connector_id: int, id_tag: str, meter_start: int, start: datetime | None
    ) -> Transaction | None:
        candidates = list(self._store.open_transactions.values()) + list(reversed(self._store.recent_transactions))
        for transaction in candidates:
            if (
                transaction.start_seen
                and transaction.charge_point_id == charge_point_id
                and transaction.connector_id == connector_id
                and transaction.id_tag == id_tag
                and transaction.meter_start == meter_start
                and transaction.start == start
                and isinstance(transaction.transaction_id, int)  # (a 2.0.1 session's string id is no answer)
            ):
                return transaction
        return None

    async def start_transaction(self, charge_point_id: str, started: TransactionStart) -> tuple[int, dict[str, Any]]:
        """
        Record a StartTransaction; return (transaction id, IdTagInfo).

        The counter and the open transaction are on disk before the answer goes out, so
        an id is never handed out twice and a session survives a crash right after.
        """
        connector_id, id_tag, meter_start = started.connector_id, started.id_tag, started.meter_start
        start = started.timestamp
        info = self._id_tags.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_START, connector_id=connector_id)
        replay = self._find_replay(charge_point_id, connector_id, id_tag, meter_start, start)
        if replay is not None:
            _LOGGER.info(
                "%s: StartTransaction replayed, answering transaction %s again",
                charge_point_id, replay.transaction_id,
            )
            return int(replay.transaction_id), info
        charger = self._registry.accepted_charger(charge_point_id)
        connector = self._registry.connector(charger, connector_id)
        transaction_id = self._store.next_transaction_id
        transaction = Transaction(
            transaction_id=transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            start=start or utcnow(),
            reservation_id=started.reservation_id,
            authorized=info["status"] == "Accepted",
        )
        self._store.next_transaction_id += 1
        self._store.open_transactions[transaction_id] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction.transaction_id,
                connector.transaction.transaction_id,
            )
            # Its stop was lost: the history records its end as reconstructed until (unless) it comes.
            superseded = connector.transaction
            name = self._id_tags.id_tag_name(superseded.id_tag)
            self._store.history.add(superseded, name, reconstructed_stop=transaction.start)
            energy.count_stopped(connector, superseded)
        connector.transaction = transaction
        self._metering.register_at_start(charger, connector, transaction)
        self._id_tags.note_presented(charge_point_id, id_tag, info["status"])
        self._reservations.end_on_start(transaction)
        await self._store.save_now()
        self._store.listener.id_tag_presented(
            IdTagPresented(charge_point_id, connector_id, id_tag, snake(info["status"]))
        )
        self._store.listener.transaction_started(transaction)
        self._store.listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)
        return transaction_id, info

    async def stop_transaction(
        self, charge_point_id: str, stopped: TransactionStop, *, observed: bool = False
    ) -> dict[str, Any] | None:
        """Record a StopTransaction (known or not); return IdTagInfo when an id tag was given.

        `observed`: a relayed charger's stop, which the upstream answered.
        """
        transaction_id, meter_stop, id_tag = stopped.transaction_id, stopped.meter_stop, stopped.id_tag
        stop = stopped.timestamp or utcnow()
        charger = self._registry.accepted_charger(charge_point_id)
        transaction = self._open_transaction_of(charge_point_id, transaction_id)
        late = self._stopped_transaction(charge_point_id, transaction_id) if transaction is None else None
        if transaction is None and late is None:
            # One that left the recent ones: rebuilt from its history record (not as start-less).
            late = reconstructed_transaction(self._store.history.get(charge_point_id, transaction_id), observed)
        # (A relayed charger's stop is no late stop of ours; a 2.0.1 station's of its own is.)
        if late is not None and late.stop_reconstructed and (not observed or late.observed):
            await self._complete_reconstructed(charger, late, stopped, stop)
            return (
                self._id_tags.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=late)
                if id_tag
                else None
            )
        if transaction is None:
            # A replayed StopTransaction (under our id, or the charger's own one for it): answer
            # it again, record nothing twice. Checked before the charger's own ids are mapped, so
            # a replay never stops the session that runs now.
            replayed, recent = self._replayed_stop(charger, transaction_id, meter_stop, stop)
            if replayed:
                # (After it left the recent transactions the history has it.)
                _LOGGER.info("%s: StopTransaction %s replayed", charge_point_id, transaction_id)
                return (
                    self._id_tags.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=recent)
                    if id_tag
                    else None
                )
            if not observed:
                transaction = self._by_charger_id(charger, transaction_id, meter_stop=meter_stop, stop=stop)
        transaction = self._closed(charger, transaction, stopped, observed=observed)
        await self._record_stop(charger, transaction, stopped, stop)
        if not id_tag:
            return None
        return self._id_tags.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=transaction)

    async def _complete_reconstructed(
        self, charger: ChargerState, transaction: Transaction, stopped: TransactionStop, stop: datetime
    ) -> None:
        """
        Take the real end of a transaction closed as reconstructed (orphans.py) from its late StopTransaction.

        Its history record is replaced (the id tag's total corrected), its connector's `energy`
        gets only what the reconstruction lacked, and `transaction_stopped` is not announced
        again: automations that add up the events would count the session twice.
        """
        _LOGGER.info(
            "%s: StopTransaction %s came after its end was reconstructed; recorded as sent",
            charger.charge_point_id,
            transaction.transaction_id,
        )
        connector = self._registry.connector(charger, transaction.connector_id)
        # Its Transaction.End readings (a charger may send meterStop 0 and its end there); only
        # the session's: the connector shows what it does now.
        for key, reading in stopped.readings:
            wh = reading.as_wh() if key == ENERGY_REGISTER else None
            if wh is not None and (transaction.last_register_wh is None or wh > transaction.last_register_wh):
                transaction.last_register_wh = wh
        transaction.meter_stop = stopped.meter_stop
        transaction.stop = stop
        transaction.reason = stopped.reason or "Local"
        transaction.stop_id_tag = stopped.id_tag
        transaction.stop_reconstructed = False
        energy.count_stopped(connector, transaction)
        energy_keys = self._metering.energy_changed(charger, connector.connector_id)
        self._store.history.add(transaction, self._id_tags.id_tag_name(transaction.id_tag))
        await self._store.save_now()
        self._store.listener.charger_changed(
            charger.charge_point_id, connector.connector_id, TRANSACTION_KEYS | energy_keys
        )

    def _closed(
        self, charger: ChargerState, transaction: Transaction | None, stopped: TransactionStop, *, observed: bool
    ) -> Transaction:
        """Take a stopped transaction off the open ones; one never seen starting is made up here."""
        charge_point_id, transaction_id = charger.charge_point_id, stopped.transaction_id
        if transaction is not None and not transaction.observed:
            del self._store.open_transactions[transaction.our_id]
        elif transaction is not None:
            del self._store.observed_transactions[(charge_point_id, transaction_id)]
        if transaction is None:
            _LOGGER.warning(
                "%s: StopTransaction for unknown transaction %s; recorded without its start",
                charge_point_id, transaction_id,
            )
            transaction = Transaction(
                transaction_id=transaction_id,
                charge_point_id=charge_point_id,
                connector_id=0,
                id_tag=stopped.id_tag,
                meter_start=None,
                start=None,
                start_seen=False,
                observed=observed,
            )
        return transaction

    async def _record_stop(
        self, charger: ChargerState, transaction: Transaction, stopped: TransactionStop, stop: datetime
    ) -> None:
        """Record a transaction's end: its readings, energy and history; saved before the answer."""
        charge_point_id, transaction_id, id_tag = charger.charge_point_id, stopped.transaction_id, stopped.id_tag
        connector = self._registry.connector(charger, transaction.connector_id)
        # Without its start the connector is unknown: the readings are no connector's (nor the
        # charger's main meter, connector 0, where an unknown transaction is filed).
        if stopped.readings and transaction.start_seen:
            self._metering.apply_readings(charger, connector, stopped.readings, transaction, at_stop=True)
        transaction.meter_stop = stopped.meter_stop
        transaction.stop = stop
        transaction.reason = stopped.reason or "Local"
        transaction.stop_id_tag = id_tag
        if connector.transaction is transaction or (
            connector.transaction is not None and connector.transaction.transaction_id == transaction_id
        ):
            connector.transaction = None
            connector.pending_restart = None
        # Its power and current end with it, unless the charger reported them after the stop.
        zeroed = self._metering.transaction_ended(connector, stop) if transaction.start_seen else frozenset()
        # Counted once: a replayed StopTransaction was answered above.
        energy.count_stopped(connector, transaction)
        energy_keys = self._metering.energy_changed(charger, connector.connector_id)
        self._store.remember_stopped(transaction)
        self._store.history.add(transaction, self._id_tags.id_tag_name(transaction.id_tag))
        connector.last_transaction = transaction
        await self._store.save_now()
        self._store.listener.transaction_stopped(transaction)
        self._store.listener.charger_changed(
            charge_point_id, connector.connector_id, TRANSACTION_KEYS | energy_keys | zeroed
        )
