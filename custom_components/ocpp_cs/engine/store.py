"""The central system's state as a whole: what it holds, and its persistence (snapshot, restore, saves)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .authorization import AuthorizationState
from .history import TransactionHistory
from .listener import CentralSystemListener, Persistence
from .message_log import MessageLogs
from .persist import SharedSave
from .settings import CentralSettings
from .state import ChargerState, IdTag, Transaction

if TYPE_CHECKING:
    from .session import AnySession

# In the state since the `energy` sensors: state without it is from an install before them.
ENERGY_VERSION = 1
# Stopped transactions kept to recognise replays and to show the last session (more while the
# history file lacks them: see `history_written`).
RECENT_TRANSACTIONS = 200


class CentralStore:
    """The state of all chargers of one entry, and how it is saved and restored."""

    def __init__(
        self,
        settings: CentralSettings,
        listener: CentralSystemListener,
        persistence: Persistence,
    ) -> None:
        """Create an empty central system; call `restore` with persisted data."""
        self.settings = settings
        self.listener = listener
        self._persistence = persistence
        self._shared_save = SharedSave(self._write_snapshot)
        self.chargers: dict[str, ChargerState] = {}
        self.id_tags: dict[str, IdTag] = {}
        self.open_transactions: dict[int, Transaction] = {}
        # Local controller mode: open transactions of relayed chargers, under the upstream's ids
        # (apart from ours, so that they neither collide with nor advance `next_transaction_id`).
        self.observed_transactions: dict[tuple[str, int | str], Transaction] = {}
        self.recent_transactions: deque[Transaction] = deque()
        # StopTransactions recorded in this run, and how many of the newest recent transactions
        # the history on disk may lack: those stay in the state (saved before each StopTransaction
        # is answered), however many, until a history write that holds them has finished; a
        # crash then loses none of them, at any rate of stops.
        self._stops_recorded = 0
        self._stops_unwritten = 0
        self.next_transaction_id = 1
        self.sessions: dict[str, AnySession] = {}
        # Chargers answered Pending/Rejected in this run (not persisted: they may boot again).
        self.registration: dict[str, str] = {}
        # Reservations, presented unknown id tags and local list records (authorization.py).
        self.auth = AuthorizationState()
        # Called after the id tag list changed (e.g. to sync chargers' local lists).
        self.id_tag_observers: list[Callable[[], None]] = []
        self.last_seen_published: dict[str, datetime] = {}
        # Every stopped session (persisted apart: history.py) and each charger's last frames.
        self.history = TransactionHistory()
        self.message_logs = MessageLogs()
        # Restored from an install before the `energy` sensors (see `seed_energy`).
        self.energy_unseeded = False

    # --- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return everything that must survive a restart, JSON-serialisable."""
        return {
            "next_transaction_id": self.next_transaction_id,
            "chargers": [c.to_dict() for c in self.chargers.values()],
            "id_tags": [t.to_dict() for t in self.id_tags.values()],
            "open_transactions": [t.to_dict() for t in self.open_transactions.values()],
            "recent_transactions": [t.to_dict() for t in self.recent_transactions],
            "observed_transactions": [t.to_dict() for t in self.observed_transactions.values()],
            "authorization": self.auth.to_dict(),
            "energy_version": ENERGY_VERSION,
        }

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load persisted state (before any charger connects)."""
        if not data:
            return
        self.energy_unseeded = "energy_version" not in data
        self.next_transaction_id = max(1, int(data.get("next_transaction_id") or 1))
        self.auth.restore(data.get("authorization"))
        for raw in data.get("chargers") or ():
            charger = ChargerState.from_dict(raw)
            charger.connector(0)
            self.chargers[charger.charge_point_id] = charger
        for raw in data.get("id_tags") or ():
            tag = IdTag.from_dict(raw)
            self.id_tags[tag.id_tag.casefold()] = tag
        for raw in data.get("recent_transactions") or ():
            self.remember_stopped(Transaction.from_dict(raw))
        for raw in data.get("open_transactions") or ():
            transaction = Transaction.from_dict(raw)
            self.open_transactions[transaction.our_id] = transaction
            owner = self.chargers.get(transaction.charge_point_id)
            if owner is not None:
                connector, _ = owner.connector(transaction.connector_id)
                current = connector.transaction
                if current is None or current.our_id < transaction.our_id:
                    connector.transaction = transaction
        for raw in data.get("observed_transactions") or ():
            self._restore_observed(Transaction.from_dict(raw))
        # Never hand out an id that is in use, whatever the counter says.
        used = [t.our_id for t in self.open_transactions.values()]
        used += [t.our_id for t in self.recent_transactions if t.start_seen and not t.observed]
        if used:
            self.next_transaction_id = max(self.next_transaction_id, max(used) + 1)

    def remember_stopped(self, transaction: Transaction) -> None:
        """Keep a stopped transaction among the recent ones (replays, the connector's last session)."""
        self.recent_transactions.append(transaction)
        self._stops_recorded += 1
        self._stops_unwritten += 1
        self._trim_recent()
        charger = self.chargers.get(transaction.charge_point_id)
        if charger is not None and transaction.connector_id in charger.connectors:
            charger.connectors[transaction.connector_id].last_transaction = transaction

    def _trim_recent(self) -> None:
        keep = max(RECENT_TRANSACTIONS, self._stops_unwritten)
        while len(self.recent_transactions) > keep:
            self.recent_transactions.popleft()

    def history_mark(self) -> int:
        """Return a mark for a history snapshot taken now (to pass to `history_written`)."""
        return self._stops_recorded

    def history_written(self, mark: int) -> None:
        """Note that the history as of `mark` is on disk: the stops it holds may leave the state."""
        self._stops_unwritten = min(self._stops_unwritten, self._stops_recorded - mark)
        self._trim_recent()

    def save_later(self) -> None:
        """Schedule a write of the state soon (coalesced by the persistence)."""
        self._persistence.save_later()

    async def save_now(self) -> None:
        """Write the state and return once it is on disk."""
        # Callers that wait at the same time share a write (persist.py): one snapshot, not one each.
        await self._shared_save.save()

    async def _write_snapshot(self) -> None:
        await self._persistence.async_save_now(self.snapshot())

    def _restore_observed(self, transaction: Transaction) -> None:
        transaction.observed = True
        self.observed_transactions[(transaction.charge_point_id, transaction.transaction_id)] = transaction
        owner = self.chargers.get(transaction.charge_point_id)
        if owner is not None:
            connector, _ = owner.connector(transaction.connector_id)
            if connector.transaction is None:
                connector.transaction = transaction

