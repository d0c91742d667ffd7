"""A central system's reservations (ReserveNow / CancelReservation, spec 5.13)."""

from __future__ import annotations

import logging

from .authorization import Reservation, mark_reserved, unmark_reserved
from .settings import STATUS_KEYS
from .state import Transaction
from .store import CentralStore
from .util import utcnow

_LOGGER = logging.getLogger(__name__)


class ReservationBook:
    """Reservations the chargers accepted, and the connector states they hold."""

    def __init__(self, store: CentralStore) -> None:
        """Work on the central system's state."""
        self._store = store

    def add_reservation(self, reservation: Reservation) -> None:
        """Record a reservation the charger accepted; its connector shows Reserved."""
        replaced = self._store.auth.add_reservation(reservation)
        charger = self._store.chargers.get(reservation.charge_point_id)
        if replaced is not None and charger is not None:
            unmark_reserved(replaced, charger.connectors.get(replaced.connector_id))
        if charger is not None:
            mark_reserved(reservation, charger.connectors.get(reservation.connector_id))
        self._store.save_later()
        self._store.listener.charger_changed(
            reservation.charge_point_id, reservation.connector_id, STATUS_KEYS | {"reservation"}
        )

    def end_reservation(self, reservation_id: int, why: str) -> Reservation | None:
        """Forget a reservation (used, cancelled, expired); return it, None when unknown."""
        reservation = self._store.auth.reservations.pop(reservation_id, None)
        if reservation is None:
            return None
        _LOGGER.debug(
            "%s: reservation %s ended (%s)", reservation.charge_point_id, reservation_id, why
        )
        charger = self._store.chargers.get(reservation.charge_point_id)
        if charger is not None:
            unmark_reserved(reservation, charger.connectors.get(reservation.connector_id))
        self._store.save_later()
        self._store.listener.charger_changed(
            reservation.charge_point_id, reservation.connector_id, STATUS_KEYS | {"reservation"}
        )
        return reservation

    def expire_reservations(self) -> list[Reservation]:
        """End every reservation whose expiry date has passed; return them."""
        return [
            ended
            for reservation in self._store.auth.expired(utcnow())
            if (ended := self.end_reservation(reservation.reservation_id, "expired")) is not None
        ]

    def end_on_start(self, transaction: Transaction) -> None:
        """A StartTransaction with a reservation id ends that reservation (spec 5.13)."""
        reservation_id = transaction.reservation_id
        if reservation_id is None:
            return
        reservation = self._store.auth.reservations.get(reservation_id)
        if reservation is not None and reservation.charge_point_id == transaction.charge_point_id:
            self.end_reservation(reservation_id, f"transaction {transaction.transaction_id} started")
