"""
Authorization beyond the id tag list (plain data, no I/O).

Reservations, presented unknown tags and the state that survives restarts; the answer policy
(id_tag_policy.py) and the local lists (local_lists.py) are re-exported under their former names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .id_tag_policy import (
    ACCEPTED,
    CONCURRENT_TX,
    INVALID,
    PURPOSE_AUTHORIZE,
    PURPOSE_START,
    PURPOSE_STOP,
    base_info,
    decide,
    may_use,
    own_status,
    same_group,
)
from .local_lists import (
    UPDATE_DIFFERENTIAL,
    UPDATE_FULL,
    LocalListRecord,
    apply_update,
    authorization_data,
    chunked,
    desired_local_list,
    differences,
)
from .records import isoformat_or_none as _iso
from .state import ConnectorState
from .util import format_datetime, parse_datetime

__all__ = [
    "ACCEPTED",
    "CONCURRENT_TX",
    "INVALID",
    "PURPOSE_AUTHORIZE",
    "PURPOSE_START",
    "PURPOSE_STOP",
    "UPDATE_DIFFERENTIAL",
    "UPDATE_FULL",
    "AuthorizationState",
    "LocalListRecord",
    "PresentedIdTag",
    "Reservation",
    "apply_update",
    "authorization_data",
    "base_info",
    "chunked",
    "decide",
    "desired_local_list",
    "differences",
    "mark_reserved",
    "may_use",
    "own_status",
    "same_group",
    "unmark_reserved",
]

# How many unknown id tags presented last are kept (offered for one-click adding).
RECENT_UNKNOWN_ID_TAGS = 10


# --- reservations ---------------------------------------------------------------------------


@dataclass(slots=True)
class Reservation:
    """A reservation a charger accepted (ReserveNow)."""

    reservation_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    expiry_date: datetime
    parent_id_tag: str | None = None
    # When we showed the connector as Reserved ourselves: the charger's status timestamp then
    # (so the end of the reservation can undo it unless the charger reported since).
    marked_reserved: bool = False
    marked_status_timestamp: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "reservation_id": self.reservation_id,
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "id_tag": self.id_tag,
            "expiry_date": _iso(self.expiry_date),
            "parent_id_tag": self.parent_id_tag,
            "marked_reserved": self.marked_reserved,
            "marked_status_timestamp": _iso(self.marked_status_timestamp),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reservation | None:
        """Restore from persistence; None when the data is unusable."""
        try:
            expiry = parse_datetime(data.get("expiry_date"))
            if expiry is None:
                return None
            return cls(
                reservation_id=int(data["reservation_id"]),
                charge_point_id=str(data["charge_point_id"]),
                connector_id=int(data["connector_id"]),
                id_tag=str(data["id_tag"]),
                expiry_date=expiry,
                parent_id_tag=data.get("parent_id_tag") or None,
                marked_reserved=bool(data.get("marked_reserved")),
                marked_status_timestamp=parse_datetime(data.get("marked_status_timestamp")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def as_answer(self) -> dict[str, Any]:
        """Return the reservation as an action's answer (snake_case)."""
        answer: dict[str, Any] = {
            "reservation_id": self.reservation_id,
            "connector_id": self.connector_id,
            "id_tag": self.id_tag,
            "expiry_date": format_datetime(self.expiry_date),
        }
        if self.parent_id_tag:
            answer["parent_id_tag"] = self.parent_id_tag
        return answer


def mark_reserved(reservation: Reservation, connector: ConnectorState | None) -> bool:
    """
    Show an available connector as Reserved once its charger accepted a reservation.

    Chargers report Reserved themselves (StatusNotification); some do not. The status
    timestamp is kept, so the charger's own next status is never mistaken for an old one.
    Returns True when the status changed.
    """
    if connector is None or reservation.connector_id == 0 or connector.status not in (None, "Available"):
        return False
    reservation.marked_reserved = True
    reservation.marked_status_timestamp = connector.status_timestamp
    connector.status = "Reserved"
    return True


def unmark_reserved(reservation: Reservation, connector: ConnectorState | None) -> bool:
    """Undo `mark_reserved` when the charger reported nothing since; True when the status changed."""
    if (
        connector is None
        or not reservation.marked_reserved
        or connector.status != "Reserved"
        or connector.status_timestamp != reservation.marked_status_timestamp
    ):
        return False
    connector.status = "Available"
    return True


# --- presented unknown id tags -------------------------------------------------------------


@dataclass(slots=True)
class PresentedIdTag:
    """An id tag that is not on the list, presented on a charger."""

    id_tag: str
    charge_point_id: str
    timestamp: datetime
    status: str

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "id_tag": self.id_tag,
            "charge_point_id": self.charge_point_id,
            "timestamp": _iso(self.timestamp),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PresentedIdTag | None:
        """Restore from persistence; None when the data is unusable."""
        timestamp = parse_datetime(data.get("timestamp"))
        if not data.get("id_tag") or timestamp is None:
            return None
        return cls(str(data["id_tag"]), str(data.get("charge_point_id") or ""), timestamp, str(data.get("status")))


# --- the state that survives restarts -----------------------------------------------------


@dataclass(slots=True)
class AuthorizationState:
    """Reservations, the reservation id counter, presented unknown tags and local list records."""

    reservations: dict[int, Reservation] = field(default_factory=dict)
    next_reservation_id: int = 1
    presented: deque[PresentedIdTag] = field(default_factory=lambda: deque(maxlen=RECENT_UNKNOWN_ID_TAGS))
    local_lists: dict[str, LocalListRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "reservations": [r.to_dict() for r in self.reservations.values()],
            "next_reservation_id": self.next_reservation_id,
            "presented_id_tags": [p.to_dict() for p in self.presented],
            "local_lists": {cp_id: record.to_dict() for cp_id, record in self.local_lists.items()},
        }

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load persisted state."""
        if not data:
            return
        for raw in data.get("reservations") or ():
            reservation = Reservation.from_dict(raw)
            if reservation is not None:
                self.reservations[reservation.reservation_id] = reservation
        self.next_reservation_id = max(1, int(data.get("next_reservation_id") or 1))
        if self.reservations:
            self.next_reservation_id = max(self.next_reservation_id, max(self.reservations) + 1)
        for raw in data.get("presented_id_tags") or ():
            presented = PresentedIdTag.from_dict(raw)
            if presented is not None:
                self.presented.append(presented)
        for cp_id, raw in (data.get("local_lists") or {}).items():
            self.local_lists[str(cp_id)] = LocalListRecord.from_dict(raw)

    def note_presented(self, presented: PresentedIdTag) -> None:
        """Remember an unknown id tag presented (the newest last; one entry per tag)."""
        self.forget_presented(presented.id_tag)
        self.presented.append(presented)

    def forget_presented(self, id_tag: str) -> bool:
        """Drop a tag from the presented ones (it was added to the list); True when it was there."""
        kept = [p for p in self.presented if p.id_tag.casefold() != id_tag.casefold()]
        if len(kept) == len(self.presented):
            return False
        self.presented.clear()
        self.presented.extend(kept)
        return True

    def reservation_id(self, requested: int | None) -> int:
        """
        Hand out the id for a reservation: the requested one, else the next never handed out.

        An id is used up when it is sent, whatever the charger answers: the counter only grows.
        """
        if requested is not None:
            self.next_reservation_id = max(self.next_reservation_id, requested + 1)
            return requested
        # Above every reservation's id: add_reservation and restore keep it so.
        allocated = self.next_reservation_id
        self.next_reservation_id += 1
        return allocated

    def add_reservation(self, reservation: Reservation) -> Reservation | None:
        """Record an accepted reservation; return the one with the same id it replaces."""
        replaced = self.reservations.pop(reservation.reservation_id, None)
        self.reservations[reservation.reservation_id] = reservation
        self.next_reservation_id = max(self.next_reservation_id, reservation.reservation_id + 1)
        return replaced

    def expired(self, now: datetime) -> list[Reservation]:
        """Return the reservations whose expiry date has passed."""
        return [r for r in self.reservations.values() if r.expiry_date <= now]

    def forget_charger(self, charge_point_id: str) -> None:
        """Drop what belongs to a charger that was removed."""
        self.local_lists.pop(charge_point_id, None)
        gone = [r.reservation_id for r in self.reservations.values() if r.charge_point_id == charge_point_id]
        for reservation_id in gone:
            del self.reservations[reservation_id]
