"""What connectors report: statuses and sampled values (the register, the sessions' energy)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
import logging

from . import energy, live_readings
from .meter import DEFAULT_MEASURAND, ENERGY_REGISTER, MeterReading, drop_key
from .registry import ChargerRegistry
from .reports import ConnectorStatus, Readings
from .reservation_book import ReservationBook
from .settings import STATUS_KEYS
from .state import ChargerState, ConnectorState, Transaction
from .store import CentralStore
from .util import utcnow

_LOGGER = logging.getLogger(__name__)


class Metering:
    """Connector statuses and meter readings, and the energy they add up to."""

    def __init__(self, store: CentralStore, registry: ChargerRegistry, reservations: ReservationBook) -> None:
        """Work on the central system's state, with its chargers and reservations."""
        self._store = store
        self._registry = registry
        self._reservations = reservations

    def seed_energy(self) -> None:
        """
        Start the `energy` sensors of an install from before them at its recorded sessions.

        Called once the history is loaded; the sessions it dropped (beyond its bound) are
        not counted. Later starts count from what is stored.
        """
        if not self._store.energy_unseeded:
            return
        self._store.energy_unseeded = False
        open_transactions: dict[tuple[str, int | str], Transaction] = {
            (t.charge_point_id, t.transaction_id): t for t in self._store.open_transactions.values()
        }
        open_transactions.update(self._store.observed_transactions)
        for charge_point_id, connector_id in energy.seed(self._store.chargers, self._store.history, open_transactions):
            self._store.listener.charger_changed(charge_point_id, connector_id, energy.ENERGY_KEYS)
            self._store.listener.charger_changed(charge_point_id, 0, energy.ENERGY_KEYS)
        self._store.save_later()

    def energy_changed(self, charger: ChargerState, connector_id: int) -> frozenset[str]:
        """Raise a connector's `energy` to its sessions' and announce the charger's; return its keys."""
        connector = charger.connectors.get(connector_id)
        if connector is None or not energy.refresh(connector):
            return frozenset()
        if connector_id != 0:
            self._store.listener.charger_changed(charger.charge_point_id, 0, energy.ENERGY_KEYS)
        return energy.ENERGY_KEYS

    def _publisher(self, charger: ChargerState, connector: ConnectorState) -> Callable[[str], None]:
        """Return what writes a register on either side of a drop at once (not coalesced)."""
        return partial(self._publish_reading, charger.charge_point_id, connector.connector_id)

    def _publish_reading(self, charge_point_id: str, connector_id: int, key: str) -> None:
        self._store.listener.charger_changed(charge_point_id, connector_id, frozenset({key, drop_key(key)}))

    def register_at_start(self, charger: ChargerState, connector: ConnectorState, transaction: Transaction) -> None:
        """Note the register at the session's start, and a restart its meterStart announces."""
        shown = connector.meters.get(ENERGY_REGISTER)
        transaction.register_before_wh = shown.as_wh() if shown is not None else None
        if transaction.meter_start is None or transaction.start is None:
            return
        reading = MeterReading(
            float(transaction.meter_start), "Wh", transaction.start, DEFAULT_MEASURAND, context="Transaction.Begin"
        )
        charger.expect_register_restart(connector, reading, self._publisher(charger, connector))

    def status_notification(self, charge_point_id: str, report: ConnectorStatus) -> None:
        """Record a StatusNotification unless a newer status is already known."""
        charger = self._registry.accepted_charger(charge_point_id)
        connector = self._registry.connector(charger, report.connector_id)
        timestamp = report.timestamp or utcnow()
        if connector.status_timestamp is not None and timestamp < connector.status_timestamp:
            _LOGGER.debug(
                "%s connector %s: ignoring status %s older than the one known",
                charge_point_id, connector.connector_id, report.status,
            )
            return
        connector.status = report.status
        connector.error_code = report.error_code
        connector.info = report.info
        connector.vendor_id = report.vendor_id
        connector.vendor_error_code = report.vendor_error_code
        connector.status_timestamp = timestamp
        keys = STATUS_KEYS
        if connector.connector_id != 0 and connector.status not in live_readings.DRAWING_STATUSES:
            # Whatever power and current it reported while charging flow no longer.
            keys = keys | live_readings.zero_at(connector, timestamp)
        if connector.status in ("Faulted", "Unavailable"):
            # The charger ends reservations of a connector that turns faulted or unavailable (5.13).
            for reservation in list(self._store.auth.reservations.values()):
                if reservation.charge_point_id == charge_point_id and connector.connector_id in (
                    0,
                    reservation.connector_id,
                ):
                    why = "connector " + connector.status.lower()
                    self._reservations.end_reservation(reservation.reservation_id, why)
        self._store.listener.charger_changed(charge_point_id, connector.connector_id, keys)
        self._store.save_later()

    def expire_readings(self, now: datetime | None = None) -> None:
        """Zero the instantaneous readings of idle connectors that are too old to be true (a timer calls it)."""
        now = now or utcnow()
        for charger in self._store.chargers.values():
            for connector_id, keys in live_readings.expire_stale(charger, now).items():
                self._store.listener.charger_changed(charger.charge_point_id, connector_id, keys)
                self._store.save_later()

    def zero_restored(self) -> None:
        """After a restart, show no restored power or current of an idle connector as if it flowed now."""
        for charger in self._store.chargers.values():
            for connector in charger.connectors.values():
                if live_readings.is_idle(charger, connector):
                    live_readings.zero_older_than(connector, None)

    def transaction_ended(self, connector: ConnectorState, moment: datetime) -> frozenset[str]:
        """Zero a connector's power and current as of its transaction's end; return the keys that changed."""
        if connector.connector_id == 0:
            return frozenset()
        return live_readings.zero_at(connector, moment)

    def apply_readings(
        self,
        charger: ChargerState,
        connector: ConnectorState,
        readings: Readings,
        transaction: Transaction | None,
        *,
        at_stop: bool = False,
    ) -> None:
        """Apply readings to a connector's meters and, for the register, to a transaction's energy."""
        if not readings:
            return
        changed: set[str] = set()
        new_keys: list[str] = []
        session_changed = False
        # A charger whose connector-0 register is no meter reading (quirk_table.py): dropped.
        drop_register = connector.connector_id == 0 and charger.quirks.connector_zero_register_ignored
        publish = self._publisher(charger, connector)
        for key, reading in readings:
            if drop_register and key == ENERGY_REGISTER:
                continue
            if key not in connector.meters and key not in new_keys:
                new_keys.append(key)
            if charger.apply_reading(connector, key, reading, publish):
                changed.add(key)
            if transaction is not None and key == ENERGY_REGISTER:
                wh = reading.as_wh()
                if wh is not None and transaction.first_register_wh is None and not at_stop:
                    transaction.first_register_wh = wh
                    session_changed = True
                if wh is not None and (
                    transaction.last_register_wh is None or wh > transaction.last_register_wh
                ):
                    transaction.last_register_wh = wh
                    session_changed = True
        charge_point_id = charger.charge_point_id
        if new_keys:
            self._store.listener.meter_keys_added(charge_point_id, connector.connector_id, new_keys)
            self._store.save_later()
        if session_changed and transaction is not None:
            changed.add("session_energy")
            energy_keys = self.energy_changed(charger, transaction.connector_id)
            if transaction.connector_id == connector.connector_id:
                changed |= energy_keys
            elif energy_keys:
                self._store.listener.charger_changed(charge_point_id, transaction.connector_id, energy_keys)
        if changed:
            self._store.listener.charger_changed(charge_point_id, connector.connector_id, frozenset(changed))
