"""
Authorization beyond the id tag list (plain data, no I/O).

The answer policy, reservations, presented unknown tags and the bookkeeping of the local
authorization lists sent to chargers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .state import ConnectorState, IdTag, Transaction
from .util import format_datetime, parse_datetime

# What an id tag is presented for: the answer's rules differ a little.
PURPOSE_AUTHORIZE = "authorize"
PURPOSE_START = "start"
PURPOSE_STOP = "stop"

ACCEPTED = "Accepted"
CONCURRENT_TX = "ConcurrentTx"
INVALID = "Invalid"

# How many unknown id tags presented last are kept (offered for one-click adding).
RECENT_UNKNOWN_ID_TAGS = 10

UPDATE_FULL = "Full"
UPDATE_DIFFERENTIAL = "Differential"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _fold(value: str | None) -> str | None:
    return value.casefold() if value else None


# --- the answer policy --------------------------------------------------------------------


def own_status(tag: IdTag, now: datetime) -> str:
    """Return a listed tag's status by itself: its status, Expired once its expiry date passed."""
    if tag.status == ACCEPTED and tag.expiry_date is not None and tag.expiry_date <= now:
        return "Expired"
    return tag.status


def base_info(tag: IdTag, now: datetime) -> dict[str, Any]:
    """Return the IdTagInfo of a listed tag by itself (status, expiry date, parent id tag)."""
    info: dict[str, Any] = {"status": own_status(tag, now)}
    if tag.expiry_date is not None:
        info["expiry_date"] = format_datetime(tag.expiry_date)
    if tag.parent_id_tag:
        info["parent_id_tag"] = tag.parent_id_tag
    return info


def may_use(tag: IdTag, charge_point_id: str) -> bool:
    """Return True when the tag may be used on the charger (no list of chargers = every charger)."""
    if not tag.charge_point_ids:
        return True
    return charge_point_id.casefold() in {cp.casefold() for cp in tag.charge_point_ids}


def same_group(id_tags: Mapping[str, IdTag], presented: IdTag, other_id_tag: str | None) -> bool:
    """
    Return True when the presented tag and another tag belong to one group (spec 3.9).

    Two tags are in a group when their parent id tags match; a parent that is itself an
    id tag (the account's master card) belongs to its group as well.
    """
    if not other_id_tag:
        return False
    if other_id_tag.casefold() == presented.id_tag.casefold():
        return True
    other = id_tags.get(other_id_tag.casefold())
    presented_parent = _fold(presented.parent_id_tag)
    other_parent = _fold(other.parent_id_tag) if other else None
    if presented_parent and presented_parent in (other_parent, other_id_tag.casefold()):
        return True
    return bool(other_parent and other_parent == presented.id_tag.casefold())


def decide(
    id_tags: Mapping[str, IdTag],
    unknown_policy: str,
    open_transactions: Iterable[Transaction],
    id_tag: str,
    charge_point_id: str,
    *,
    purpose: str,
    now: datetime,
    connector_id: int | None = None,
    transaction: Transaction | None = None,
) -> dict[str, Any]:
    """
    Return the IdTagInfo to answer for an id tag presented on a charger.

    An unknown tag answers the entry's policy (`accept`: Accepted, else Invalid). A listed
    tag answers its own status; an Accepted one is further limited by the chargers it may
    use (`Invalid` elsewhere) and, at StartTransaction only, when it allows one transaction
    at a time, by its open transactions on other connectors (`ConcurrentTx`: spec 7.2 makes
    it "only relevant for a StartTransaction.req"; Authorize answers the tag's status, so a
    charger may still ask about the card that started a transaction in order to stop it).
    The charger limit gives way when the tag belongs to the group (same parent) of the
    transaction it stops, or at Authorize of a transaction running on this charger, so a
    family member's card can stop it.
    """
    tag = id_tags.get(id_tag.casefold())
    if tag is None:
        return {"status": ACCEPTED if unknown_policy == "accept" else INVALID}
    info = base_info(tag, now)
    if info["status"] != ACCEPTED:
        return info
    limited: str | None = None
    if not may_use(tag, charge_point_id):
        limited = INVALID
    elif tag.single_transaction and purpose == PURPOSE_START:
        for running in open_transactions:
            if not running.authorized or running.id_tag is None or running.id_tag.casefold() != tag.id_tag.casefold():
                continue  # a start we refused (the charger stops it) does not hold the tag
            if (running.charge_point_id, running.connector_id) == (charge_point_id, connector_id):
                continue  # the same connector: an earlier transaction whose stop was lost
            limited = CONCURRENT_TX
            break
    if limited is None:
        return info
    if purpose == PURPOSE_STOP and transaction is not None:
        group_running = [transaction]
    elif purpose == PURPOSE_AUTHORIZE:
        group_running = [
            t
            for t in open_transactions
            if t.charge_point_id == charge_point_id and (t.id_tag or "").casefold() != tag.id_tag.casefold()
        ]
    else:
        group_running = []
    if any(same_group(id_tags, tag, running.id_tag) for running in group_running):
        return info
    info["status"] = limited
    return info


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


# --- local authorization lists --------------------------------------------------------------


def authorization_data(tag: IdTag, charge_point_id: str, now: datetime) -> dict[str, Any]:
    """
    Return a tag's AuthorizationData for a charger's local list (snake_case).

    A tag the charger may not be used on is listed there as Invalid: offline, the charger
    must refuse it too.
    """
    info = base_info(tag, now)
    if info["status"] == ACCEPTED and not may_use(tag, charge_point_id):
        info["status"] = INVALID
    return {"id_tag": tag.id_tag, "id_tag_info": info}


def desired_local_list(id_tags: Iterable[IdTag], charge_point_id: str, now: datetime) -> dict[str, dict[str, Any]]:
    """Return the entry's id tags as a charger's local list, by case-folded id tag."""
    return {tag.id_tag.casefold(): authorization_data(tag, charge_point_id, now) for tag in id_tags}


def differences(current: Mapping[str, dict[str, Any]], wanted: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the differential update from `current` to `wanted` (an entry without idTagInfo deletes)."""
    changes = [entry for key, entry in wanted.items() if current.get(key) != entry]
    changes += [{"id_tag": current[key]["id_tag"]} for key in current if key not in wanted]
    return changes


def apply_update(
    current: Mapping[str, dict[str, Any]], update_type: str, entries: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Return a list after a Full or Differential update (what the charger holds once it accepted)."""
    result = {} if update_type == UPDATE_FULL else dict(current)
    for entry in entries:
        key = str(entry["id_tag"]).casefold()
        if entry.get("id_tag_info"):
            result[key] = {"id_tag": str(entry["id_tag"]), "id_tag_info": dict(entry["id_tag_info"])}
        else:
            result.pop(key, None)
    return result


def chunked(entries: list[dict[str, Any]], size: int | None) -> list[list[dict[str, Any]]]:
    """Split a list into messages of at most `size` entries (one message when the size is unknown)."""
    if not size or size <= 0 or len(entries) <= size:
        return [entries]
    return [entries[start : start + size] for start in range(0, len(entries), size)]


@dataclass(slots=True)
class LocalListRecord:
    """What a charger's local authorization list holds, as far as we sent it."""

    version: int = 0
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {"version": self.version, "entries": list(self.entries.values())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LocalListRecord:
        """Restore from persistence."""
        record = cls(version=int(data.get("version") or 0))
        record.entries = apply_update({}, UPDATE_FULL, [e for e in data.get("entries") or () if e.get("id_tag")])
        return record


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
