"""The answer to an id tag presented on a charger: the entry's list and policies (plain functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .records import IdTag, Transaction
from .util import format_datetime

# What an id tag is presented for: the answer's rules differ a little.
PURPOSE_AUTHORIZE = "authorize"
PURPOSE_START = "start"
PURPOSE_STOP = "stop"

ACCEPTED = "Accepted"
CONCURRENT_TX = "ConcurrentTx"
INVALID = "Invalid"


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
