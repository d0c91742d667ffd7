"""
Reservations (Reservation profile): ReserveNow, CancelReservation and their expiry.

Accepted reservations live in the engine's state (persisted, ids from a counter that only
grows); one timer ends the earliest at its expiry date, as the charger does.
"""

from __future__ import annotations

from datetime import datetime
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util
from ocpp.v16 import call

from . import commands
from .engine.authorization import Reservation
from .engine.util import format_datetime, utcnow
from .errors import error
from .ports import Hub

_LOGGER = logging.getLogger(__name__)

# ReserveNow answers other than Accepted, each with its own message.
RESERVATION_ERRORS = {
    "Occupied": "reservation_occupied",
    "Faulted": "reservation_faulted",
    "Unavailable": "reservation_unavailable",
    "Rejected": "reservation_rejected",
}


def aware(value: datetime) -> datetime:
    """Return a date and time with a time zone (a naive one is Home Assistant's local time)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt_util.get_default_time_zone())


async def reserve_now(
    timers: ReservationTimers,
    charge_point_id: str,
    connector_id: int,
    id_tag: str,
    expiry_date: datetime,
    *,
    parent_id_tag: str | None = None,
    reservation_id: int | None = None,
) -> dict[str, Any]:
    """Reserve a connector (0 = any) for an id tag until `expiry_date`; return the reservation."""
    hub = timers.hub
    central = hub.central
    reservation_id = central.auth.reservation_id(reservation_id)
    central.changed(charge_point_id, connector_id, frozenset({"reservation_counter"}))
    payload = call.ReserveNow(
        connector_id=connector_id,
        expiry_date=format_datetime(expiry_date),
        id_tag=id_tag,
        reservation_id=reservation_id,
        parent_id_tag=parent_id_tag,
    )
    result = await commands.async_call(hub, charge_point_id, payload)
    status = str(result.status)
    if status != "Accepted":
        raise error(
            RESERVATION_ERRORS.get(status, "refused"),
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            action="ReserveNow",
            status=status,
        )
    reservation = Reservation(
        reservation_id=reservation_id,
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
        expiry_date=expiry_date,
        parent_id_tag=parent_id_tag,
    )
    central.add_reservation(reservation)
    timers.reschedule()
    return {"status": status, **reservation.as_answer()}


async def cancel_reservation(timers: ReservationTimers, charge_point_id: str, reservation_id: int) -> dict[str, Any]:
    """
    Cancel a reservation (CancelReservation).

    A charger that answers Rejected has no such reservation: it is forgotten here too, and
    the refusal is reported.
    """
    hub = timers.hub
    result = await commands.async_call(hub, charge_point_id, call.CancelReservation(reservation_id=reservation_id))
    status = str(result.status)
    known = hub.central.auth.reservations.get(reservation_id)
    if known is not None and known.charge_point_id == charge_point_id:
        hub.central.end_reservation(reservation_id, "cancelled" if status == "Accepted" else "unknown to the charger")
        timers.reschedule()
    if status != "Accepted":
        raise error(
            "cancel_reservation_rejected", charge_point_id=charge_point_id, reservation_id=reservation_id, status=status
        )
    return {"status": status, "reservation_id": reservation_id}


class ReservationTimers:
    """Ends reservations at their expiry date (one timer, for the earliest)."""

    def __init__(self, hub: Hub) -> None:
        """Create the timer; `reschedule` arms it."""
        self.hub = hub
        self._unsub: CALLBACK_TYPE | None = None
        hub.entry.async_on_unload(self.stop)

    @callback
    def reschedule(self) -> None:
        """Arm the timer for the earliest expiry date (past ones end at once)."""
        self.stop()
        reservations = self.hub.central.auth.reservations.values()
        if not reservations:
            return
        earliest = min(r.expiry_date for r in reservations)
        self._unsub = async_track_point_in_utc_time(self.hub.hass, self._expire, max(earliest, utcnow()))

    @callback
    def _expire(self, _now: datetime) -> None:
        self._unsub = None
        for reservation in self.hub.central.expire_reservations():
            _LOGGER.info(
                "%s: reservation %s for %s expired",
                reservation.charge_point_id, reservation.reservation_id, reservation.id_tag,
            )
        self.reschedule()

    @callback
    def stop(self) -> None:
        """Disarm the timer."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
