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
from ocpp.v201 import call as call201

from . import commands, commands201
from .engine.authorization import Reservation
from .engine.util import format_datetime, utcnow
from .engine.v201 import authorization_requests as requests201
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
    token_type: str | None = None,
    connector_type: str | None = None,
) -> dict[str, Any]:
    """Reserve a connector (0 = any) for an id tag until `expiry_date`; return the reservation.

    `token_type` and `connector_type` are 2.0.1's (the id tag's idToken type, the connector
    type wanted); a 1.6 charger has neither.
    """
    hub = timers.hub
    central = hub.central
    reservation_id = central.auth.reservation_id(reservation_id)
    central.changed(charge_point_id, connector_id, frozenset({"reservation_counter"}))
    build = commands201.pick(hub, charge_point_id, _reserve16, requests201.reserve_now_request)
    payload = build(
        reservation_id,
        connector_id,
        id_tag,
        format_datetime(expiry_date),
        parent_id_tag,
        token_type=token_type or requests201.DEFAULT_TOKEN_TYPE,
        connector_type=connector_type,
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


def _reserve16(
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    expiry_date: str,
    parent_id_tag: str | None = None,
    *,
    token_type: str = "",
    connector_type: str | None = None,
) -> Any:
    # 1.6 has no token or connector types: they are 2.0.1's alone.
    del token_type, connector_type
    return call.ReserveNow(
        connector_id=connector_id,
        expiry_date=expiry_date,
        id_tag=id_tag,
        reservation_id=reservation_id,
        parent_id_tag=parent_id_tag,
    )


async def cancel_reservation(timers: ReservationTimers, charge_point_id: str, reservation_id: int) -> dict[str, Any]:
    """
    Cancel a reservation (CancelReservation).

    A charger that answers Rejected has no such reservation: it is forgotten here too, and
    the refusal is reported.
    """
    hub = timers.hub
    # The same request in both versions (2.0.1: H02).
    build = commands201.pick(hub, charge_point_id, call.CancelReservation, call201.CancelReservation)
    result = await commands.async_call(hub, charge_point_id, build(reservation_id=reservation_id))
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
