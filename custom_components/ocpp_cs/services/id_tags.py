"""
The actions that edit an entry's id tags: `add_id_tag` and `remove_id_tag`.

They name the entry with `config_entry_id` (or any charger/connector device of it with
`device_id`); the options flow edits the same list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import probatio as vol

from ..engine.state import ID_TAG_STATUSES, IdTag
from ..engine.util import format_datetime, snake
from ..errors import invalid
from ..ports import Hub
from .targets import loaded_runtime

ID_TAG_MAX_LENGTH = 20
STATUS_OPTIONS = {snake(status): status for status in ID_TAG_STATUSES}

_ID_TAG = vol.All(cv.string, vol.Strip, vol.Length(min=1, max=ID_TAG_MAX_LENGTH))
_TARGET: dict[vol.Marker, Any] = {
    vol.Optional("config_entry_id"): cv.string,
    vol.Optional("device_id"): vol.Any(cv.string, [cv.string]),
}

ID_TAG_SCHEMAS: dict[str, vol.Schema] = {
    "add_id_tag": vol.Schema(
        {
            **_TARGET,
            vol.Required("id_tag"): _ID_TAG,
            vol.Optional("status"): vol.All(cv.string, vol.Lower, vol.In(list(STATUS_OPTIONS))),
            vol.Optional("expiry_date"): vol.Any(None, cv.datetime),
            vol.Optional("parent_id_tag"): vol.Any(None, vol.All(cv.string, vol.Length(max=ID_TAG_MAX_LENGTH))),
            vol.Optional("name"): vol.Any(None, cv.string),
            vol.Optional("charge_point_ids"): vol.All(cv.ensure_list, [cv.string]),
            vol.Optional("single_transaction"): cv.boolean,
        }
    ),
    "remove_id_tag": vol.Schema({**_TARGET, vol.Required("id_tag"): _ID_TAG}),
}


def resolve_hub(hass: HomeAssistant, data: dict[str, Any]) -> Hub:
    """Return the hub of the entry that `config_entry_id` (or `device_id`) names."""
    entry_id = data.get("config_entry_id")
    if not entry_id:
        device_id = data.get("device_id")
        if isinstance(device_id, list) and len(device_id) == 1:
            device_id = device_id[0]
        if not isinstance(device_id, str) or not device_id:
            raise invalid("entry_required")
        device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
        if device is None:
            raise invalid("unknown_device", device_id=device_id)
        entry_ids = [device.config_entry_id]
    else:
        entry_ids = [entry_id]
    for entry_id_ in entry_ids:
        runtime = loaded_runtime(hass, entry_id_) if entry_id_ else None
        if runtime is not None:
            return runtime.hub
    raise invalid("unknown_entry", config_entry_id=entry_id or ", ".join(entry_ids))


def _expiry(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt_util.get_default_time_zone())


def tag_answer(tag: IdTag) -> dict[str, Any]:
    """Return an id tag as an action's answer."""
    return {
        "id_tag": tag.id_tag,
        "status": snake(tag.status),
        "expiry_date": format_datetime(tag.expiry_date) if tag.expiry_date else None,
        "parent_id_tag": tag.parent_id_tag,
        "name": tag.name,
        "charge_point_ids": list(tag.charge_point_ids),
        "single_transaction": tag.single_transaction,
    }


def add_id_tag(hub: Hub, data: dict[str, Any]) -> dict[str, Any]:
    """Add a tag, or update the fields given of a listed one (the others keep their values)."""
    id_tag: str = data["id_tag"]
    current = hub.central.id_tags.get(id_tag.casefold()) or IdTag(id_tag)
    tag = IdTag(
        id_tag=current.id_tag,
        status=STATUS_OPTIONS[data["status"]] if "status" in data else current.status,
        expiry_date=_expiry(data["expiry_date"]) if "expiry_date" in data else current.expiry_date,
        parent_id_tag=(data["parent_id_tag"] or None) if "parent_id_tag" in data else current.parent_id_tag,
        name=(data["name"] or None) if "name" in data else current.name,
        charge_point_ids=tuple(data["charge_point_ids"]) if "charge_point_ids" in data else current.charge_point_ids,
        single_transaction=data.get("single_transaction", current.single_transaction),
    )
    hub.central.set_id_tag(tag)
    return tag_answer(tag)


def remove_id_tag(hub: Hub, data: dict[str, Any]) -> dict[str, Any]:
    """Remove a listed tag."""
    if not hub.central.remove_id_tag(data["id_tag"]):
        raise invalid("id_tag_not_listed", id_tag=data["id_tag"])
    return {"id_tag": data["id_tag"], "removed": True}
