"""Local controller mode: a relayed charger's transactions, under the ids its upstream gave."""

from __future__ import annotations

import logging

from . import energy
from .listener import IdTagPresented
from .metering import Metering
from .registry import ChargerRegistry
from .reports import TransactionStart
from .settings import TRANSACTION_KEYS
from .state import Transaction
from .store import CentralStore
from .util import snake, utcnow

_LOGGER = logging.getLogger(__name__)


class ObservedTransactions:
    """A relayed charger's messages, answered by the upstream: recorded as for a direct charger."""

    def __init__(self, store: CentralStore, registry: ChargerRegistry, metering: Metering) -> None:
        """Work on the central system's state with its chargers and meters."""
        self._store = store
        self._registry = registry
        self._metering = metering

    def authorize_observed(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Announce an id tag the upstream answered for a relayed charger."""
        self._store.listener.id_tag_presented(IdTagPresented(charge_point_id, None, id_tag, snake(status)))

    async def start_transaction_observed(
        self, charge_point_id: str, started: TransactionStart, transaction_id: int | str, status: str
    ) -> None:
        """
        Record a relayed charger's StartTransaction under the transaction id the upstream gave.

        The same id again is a replay; a replay (same connector, id tag, timestamp and
        meterStart) that the upstream answered with a new id moves the session to that id,
        since the charger will use it from now on: either way no second session starts.
        """
        key = (charge_point_id, transaction_id)
        if key in self._store.observed_transactions or any(
            t.transaction_id == transaction_id and t.charge_point_id == charge_point_id and t.observed
            for t in self._store.recent_transactions
        ):
            _LOGGER.info("%s: StartTransaction %s replayed through the upstream", charge_point_id, transaction_id)
            return
        if await self._moved_by_upstream(charge_point_id, started, transaction_id):
            return
        connector_id, id_tag, start = started.connector_id, started.id_tag, started.timestamp
        charger = self._registry.accepted_charger(charge_point_id)
        connector = self._registry.connector(charger, connector_id)
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
        self._store.observed_transactions[key] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction_id, connector.transaction.transaction_id,
            )
            energy.count_stopped(connector, connector.transaction)
        connector.transaction = transaction
        self._metering.register_at_start(charger, connector, transaction)
        await self._store.save_now()
        self._store.listener.id_tag_presented(IdTagPresented(charge_point_id, connector_id, id_tag, snake(status)))
        self._store.listener.transaction_started(transaction)
        self._store.listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)

    async def _moved_by_upstream(
        self, charge_point_id: str, started: TransactionStart, transaction_id: int | str
    ) -> bool:
        """Move an observed session the upstream answered again under a new id; True when it did."""
        for (owner, old_id), running in list(self._store.observed_transactions.items()):
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
                del self._store.observed_transactions[(owner, old_id)]
                running.transaction_id = transaction_id
                self._store.observed_transactions[(charge_point_id, transaction_id)] = running
                await self._store.save_now()
                self._store.listener.charger_changed(charge_point_id, started.connector_id, TRANSACTION_KEYS)
                return True
        return False
