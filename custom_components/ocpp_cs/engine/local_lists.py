"""The local authorization lists of chargers: what each should hold, and what we sent (SendLocalList)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .id_tag_policy import ACCEPTED, INVALID, base_info, may_use
from .records import IdTag

UPDATE_FULL = "Full"
UPDATE_DIFFERENTIAL = "Differential"


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
