"""
The central system's state and policies, independent of transport, protocol version and Home Assistant.

Wire sessions (v16/) call in here with plain typed arguments; the parts this class is built
from (store, registry, credentials, reservation_book, metering, id_tag_authority,
transactions) decide the answers, keep the state, persist what must survive and tell the
listener what changed.
"""

from __future__ import annotations

import logging

from . import energy
from .listener import IdTagPresented
from .reports import TransactionStart
from .settings import (
    NEW_CHARGERS_ACCEPT,
    NEW_CHARGERS_PENDING,
    REGISTRATION_ACCEPTED,
    REGISTRATION_PENDING,
    REGISTRATION_REJECTED,
    TRANSACTION_KEYS,
    CentralSettings,
)
from .state import Transaction
from .store import RECENT_TRANSACTIONS
from .transactions import Transactions
from .util import snake, utcnow

__all__ = [
    "NEW_CHARGERS_ACCEPT",
    "NEW_CHARGERS_PENDING",
    "RECENT_TRANSACTIONS",
    "REGISTRATION_ACCEPTED",
    "REGISTRATION_PENDING",
    "REGISTRATION_REJECTED",
    "CentralSettings",
    "CentralSystem",
]

_LOGGER = logging.getLogger(__name__)


class CentralSystem(Transactions):
    """All chargers of one entry: their state, transactions and id tags (the parts composed above)."""

    # --- local controller mode: a relayed charger's messages, answered by the upstream -----

    def authorize_observed(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Announce an id tag the upstream answered for a relayed charger."""
        self._listener.id_tag_presented(IdTagPresented(charge_point_id, None, id_tag, snake(status)))

    async def start_transaction_observed(
        self, charge_point_id: str, started: TransactionStart, transaction_id: int, status: str
    ) -> None:
        """
        Record a relayed charger's StartTransaction under the transaction id the upstream gave.

        The same id again is a replay; a replay (same connector, id tag, timestamp and
        meterStart) that the upstream answered with a new id moves the session to that id,
        since the charger will use it from now on: either way no second session starts.
        """
        key = (charge_point_id, transaction_id)
        if key in self.observed_transactions or any(
            t.transaction_id == transaction_id and t.charge_point_id == charge_point_id and t.observed
            for t in self.recent_transactions
        ):
            _LOGGER.info("%s: StartTransaction %s replayed through the upstream", charge_point_id, transaction_id)
            return
        if await self._moved_by_upstream(charge_point_id, started, transaction_id):
            return
        connector_id, id_tag, start = started.connector_id, started.id_tag, started.timestamp
        charger = self.accepted_charger(charge_point_id)
        connector = self._connector(charger, connector_id)
        transaction = Transaction(
            transaction_id=transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=started.meter_start,
            start=start or utcnow(),
            reservation_id=started.reservation_id,
            observed=True,
        )
        self.observed_transactions[key] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction_id, connector.transaction.transaction_id,
            )
            energy.count_stopped(connector, connector.transaction)
        connector.transaction = transaction
        self._register_at_start(charger, connector, transaction)
        await self._save_now()
        self._listener.id_tag_presented(IdTagPresented(charge_point_id, connector_id, id_tag, snake(status)))
        self._listener.transaction_started(transaction)
        self._listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)

    async def _moved_by_upstream(self, charge_point_id: str, started: TransactionStart, transaction_id: int) -> bool:
        """Move an observed session the upstream answered again under a new id; True when it did."""
        for (owner, old_id), running in list(self.observed_transactions.items()):
            if (
                owner == charge_point_id
                and running.connector_id == started.connector_id
                and running.id_tag == started.id_tag
                and running.meter_start == started.meter_start
                and running.start == started.timestamp
            ):
                _LOGGER.info(
                    "%s: StartTransaction replayed; the upstream moved transaction %s to %s",
                    charge_point_id, old_id, transaction_id,
                )
                del self.observed_transactions[(owner, old_id)]
                running.transaction_id = transaction_id
                self.observed_transactions[(charge_point_id, transaction_id)] = running
                await self._save_now()
                self._listener.charger_changed(charge_point_id, started.connector_id, TRANSACTION_KEYS)
                return True
        return False
