"""A central system's id tags: the list, the answers (authorization.decide) and presented tags."""

from __future__ import annotations

from typing import Any

from .authorization import PURPOSE_AUTHORIZE, PresentedIdTag, decide
from .listener import IdTagPresented
from .state import IdTag, Transaction
from .store import CentralStore
from .util import snake, utcnow


class IdTagAuthority:
    """The entry's id tags and how presented tags are answered."""

    def __init__(self, store: CentralStore) -> None:
        """Work on the central system's state."""
        self._store = store

    def id_tag_info(
        self,
        id_tag: str,
        charge_point_id: str,
        *,
        purpose: str = PURPOSE_AUTHORIZE,
        connector_id: int | None = None,
        transaction: Transaction | None = None,
    ) -> dict[str, Any]:
        """Return the IdTagInfo for an id tag: the entry's list and policies (authorization.decide)."""
        return decide(
            self._store.id_tags,
            self._store.settings.unknown_id_tags,
            self.running_transactions(),
            id_tag,
            charge_point_id,
            purpose=purpose,
            now=utcnow(),
            connector_id=connector_id,
            transaction=transaction,
        )

    def running_transactions(self) -> list[Transaction]:
        """Return the open transactions that are their connector's current one (not superseded).

        Ours (1.6) and 2.0.1 stations' (string ids); a relayed charger's are its upstream's to check.
        """
        running = []
        stations = [t for t in self._store.observed_transactions.values() if isinstance(t.transaction_id, str)]
        for transaction in [*self._store.open_transactions.values(), *stations]:
            charger = self._store.chargers.get(transaction.charge_point_id)
            connector = charger.connectors.get(transaction.connector_id) if charger else None
            if connector is None or connector.transaction is transaction:
                running.append(transaction)
        return running

    def note_presented(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Remember an id tag that is not on the list (offered for adding in the options flow)."""
        if id_tag.casefold() not in self._store.id_tags:
            self._store.auth.note_presented(PresentedIdTag(id_tag, charge_point_id, utcnow(), status))
            self._store.save_later()

    def id_tag_name(self, id_tag: str | None) -> str | None:
        """Return the friendly name of a listed id tag."""
        tag = self._store.id_tags.get(id_tag.casefold()) if id_tag else None
        return tag.name if tag is not None else None

    def _id_tags_changed(self) -> None:
        for observer in list(self._store.id_tag_observers):
            observer()

    def authorize(self, charge_point_id: str, id_tag: str) -> dict[str, Any]:
        """Answer Authorize and announce the presented tag."""
        info = self.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_AUTHORIZE)
        self.note_presented(charge_point_id, id_tag, info["status"])
        self._store.listener.id_tag_presented(
            IdTagPresented(charge_point_id, None, id_tag, snake(info["status"]))
        )
        return info

    def set_id_tag(self, tag: IdTag) -> None:
        """Add or replace an id tag of the entry's list."""
        self._store.id_tags[tag.id_tag.casefold()] = tag
        self._store.auth.forget_presented(tag.id_tag)
        self._store.save_later()
        self._id_tags_changed()

    def remove_id_tag(self, id_tag: str) -> bool:
        """Remove an id tag; return False when it was not listed."""
        removed = self._store.id_tags.pop(id_tag.casefold(), None) is not None
        if removed:
            self._store.save_later()
            self._id_tags_changed()
        return removed
