"""
Local authorization lists on the chargers (Local Auth List Management profile).

`send_local_list` sends a list (by default the entry's id tags, as each charger may use them)
in messages of at most `SendLocalListMaxLength` entries, with increasing versions, and keeps
a record of what each charger holds (persisted with the engine's state). `LocalListSync`
keeps every charger's list equal to the entry's id tags when the `sync_local_list` option is
on: when tags change, when a charger boots, and when a charger's version is not ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from ocpp.charge_point import camel_to_snake_case
from ocpp.v16 import call
from ocpp.v16.enums import AuthorizationStatus, UpdateType
from ocpp.v201 import call as call201

from . import commands, commands201
from .const import CONF_SYNC_LOCAL_LIST, DOMAIN
from .engine.authorization import (
    UPDATE_DIFFERENTIAL,
    UPDATE_FULL,
    LocalListRecord,
    apply_update,
    chunked,
    desired_local_list,
    differences,
)
from .engine.configuration import PROFILE_LOCAL_AUTH
from .engine.session import AnySession
from .engine.util import format_datetime, parse_datetime, snake, utcnow
from .engine.v201 import authorization_requests as requests201
from .errors import error, invalid
from .ports import Hub
from .settings import entry_config

_LOGGER = logging.getLogger(__name__)

ID_TAG_MAX_LENGTH = 20
_STATUSES = {snake(status.value): status.value for status in AuthorizationStatus}


def normalize_list(raw: list[Mapping[str, Any]], update_type: str) -> list[dict[str, Any]]:
    """
    Return an explicit `local_authorization_list` as AuthorizationData in snake_case.

    Items (objects: the action's schema checks that) are `{id_tag, id_tag_info: {status,
    expiry_date, parent_id_tag}}` (camelCase is accepted too); a Full update needs `id_tag_info`
    on every item, a Differential item without it deletes the tag. Id tags must be unique
    (without regard to case).
    """
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, item in enumerate(raw, start=1):
        data = camel_to_snake_case(dict(item))
        id_tag = data.get("id_tag")
        if not isinstance(id_tag, str) or not 0 < len(id_tag) <= ID_TAG_MAX_LENGTH:
            raise invalid("invalid_local_list", position=position, error="id_tag must have 1 to 20 characters")
        if id_tag.casefold() in seen:
            raise invalid("invalid_local_list", position=position, error=f"{id_tag} is listed twice")
        seen.add(id_tag.casefold())
        raw_info = data.get("id_tag_info")
        if raw_info is None:
            if update_type == UPDATE_FULL:
                raise invalid("invalid_local_list", position=position, error="a full update needs id_tag_info")
            entries.append({"id_tag": id_tag})
            continue
        if not isinstance(raw_info, Mapping):
            raise invalid("invalid_local_list", position=position, error="id_tag_info must be an object")
        status = _STATUSES.get(snake(str(raw_info.get("status", ""))))
        if status is None:
            raise invalid(
                "invalid_local_list", position=position, error=f"status must be one of {', '.join(_STATUSES)}"
            )
        info: dict[str, Any] = {"status": status}
        if raw_info.get("expiry_date"):
            expiry = parse_datetime(str(raw_info["expiry_date"]))
            if expiry is None:
                raise invalid("invalid_local_list", position=position, error="expiry_date is not a date and time")
            info["expiry_date"] = format_datetime(expiry)
        parent = raw_info.get("parent_id_tag")
        if parent:
            if not isinstance(parent, str) or len(parent) > ID_TAG_MAX_LENGTH:
                raise invalid("invalid_local_list", position=position, error="parent_id_tag has up to 20 characters")
            info["parent_id_tag"] = parent
        entries.append({"id_tag": id_tag, "id_tag_info": info})
    return entries


async def get_local_list_version(hub: Hub, charge_point_id: str) -> dict[str, Any]:
    """Ask the charger for its list version (GetLocalListVersion): 0 = empty, -1 = no local list (1.6)."""
    build = commands201.pick(hub, charge_point_id, call.GetLocalListVersion, call201.GetLocalListVersion)
    result = await commands.async_call(hub, charge_point_id, build())
    # 2.0.1 (D02) names it versionNumber.
    version = result.version_number if hasattr(result, "version_number") else result.list_version
    return {"list_version": int(version)}


def wanted_list(hub: Hub, charge_point_id: str) -> dict[str, dict[str, Any]]:
    """Return the entry's id tags as this charger's local list should hold them."""
    return desired_local_list(hub.central.id_tags.values(), charge_point_id, utcnow())


class LocalListSender:
    """One send (possibly several messages) to one charger, with its record kept right."""

    def __init__(self, hub: Hub, charge_point_id: str) -> None:
        """Start from the record of what the charger holds."""
        self.hub = hub
        self.charge_point_id = charge_point_id
        charger = hub.central.chargers[charge_point_id]
        self.max_length = charger.config_int("LocalAuthListMaxLength")
        # 2.0.1's device model: LocalAuthListCtrlr.ItemsPerMessage (read after boot).
        self.chunk_size = charger.config_int("SendLocalListMaxLength") or charger.config_int(
            "LocalAuthListCtrlr/ItemsPerMessage"
        )
        self.build = commands201.pick(hub, charge_point_id, _send16, requests201.send_local_list_request)
        found = hub.central.auth.local_lists.get(charge_point_id)
        self.record = LocalListRecord(found.version, dict(found.entries)) if found else LocalListRecord()
        self.messages = 0

    def _save(self) -> None:
        self.hub.central.auth.local_lists[self.charge_point_id] = LocalListRecord(
            self.record.version, dict(self.record.entries)
        )
        self.hub.central.changed(self.charge_point_id, 0, frozenset({"local_list"}))

    async def send(self, update_type: str, entries: list[dict[str, Any]], version: int | None) -> dict[str, Any]:
        """Send the update; a VersionMismatch (or a failed differential) is retried once as Full."""
        target = apply_update(self.record.entries, update_type, entries)
        if self.max_length is not None and self.max_length >= 0 and len(target) > self.max_length:
            raise invalid(
                "local_list_too_long",
                charge_point_id=self.charge_point_id,
                entries=len(target),
                maximum=self.max_length,
            )
        first_version = version if version is not None else self.record.version + 1
        status = await self._send_chunks(update_type, entries, first_version)
        if status == "VersionMismatch" or (status == "Failed" and update_type == UPDATE_DIFFERENTIAL):
            # Spec 5.15: after a failed or mismatched differential update, send the full list.
            _LOGGER.info(
                "%s answered SendLocalList with %s; sending the full list", self.charge_point_id, status
            )
            theirs = (await get_local_list_version(self.hub, self.charge_point_id))["list_version"]
            update_type = UPDATE_FULL
            status = await self._send_chunks(
                UPDATE_FULL, list(target.values()), max(theirs, self.record.version, first_version) + 1
            )
        if status != "Accepted":
            raise error("refused", charge_point_id=self.charge_point_id, action="SendLocalList", status=status)
        return {
            "status": status,
            "list_version": self.record.version,
            "update_type": snake(update_type),
            "messages": self.messages,
        }

    async def _send_chunks(self, update_type: str, entries: list[dict[str, Any]], version: int) -> str:
        """Send the first chunk as `update_type`, the rest as Differential; stop at a refusal."""
        for index, chunk in enumerate(chunked(entries, self.chunk_size)):
            kind = update_type if index == 0 else UPDATE_DIFFERENTIAL
            payload = self.build(version + index, kind, chunk)
            result = await commands.async_call(self.hub, self.charge_point_id, payload)
            self.messages += 1
            status = str(result.status)
            if status != "Accepted":
                return status
            self.record.entries = apply_update(self.record.entries, kind, chunk)
            self.record.version = version + index
            self._save()
        return "Accepted"


def _send16(version: int, update_type: str, entries: list[dict[str, Any]]) -> Any:
    return call.SendLocalList(
        list_version=version, update_type=UpdateType(update_type), local_authorization_list=entries
    )


class LocalListSync:
    """Keeps the chargers' local lists equal to the entry's id tags (the `sync_local_list` option)."""

    def __init__(self, hub: Hub) -> None:
        """Hook into boots and id tag changes."""
        self.hub = hub
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._enabled = self.enabled
        hub.on_accepted_boot.append(self._after_boot)
        hub.central.observe_id_tags(self.request_all)
        hub.entry.async_on_unload(hub.entry.add_update_listener(self._options_updated))

    @property
    def enabled(self) -> bool:
        """Return True when the entry keeps the chargers' lists in sync."""
        return bool(entry_config(self.hub.entry).get(CONF_SYNC_LOCAL_LIST))

    def lock(self, charge_point_id: str) -> asyncio.Lock:
        """Return the lock that serialises list updates to one charger."""
        return self._locks.setdefault(charge_point_id, asyncio.Lock())

    async def send(
        self, charge_point_id: str, update_type: str, entries: list[dict[str, Any]] | None, version: int | None
    ) -> dict[str, Any]:
        """Send a list (None = the entry's id tags: all for Full, the changes for Differential)."""
        async with self.lock(charge_point_id):
            sender = LocalListSender(self.hub, charge_point_id)
            if entries is None:
                wanted = wanted_list(self.hub, charge_point_id)
                if update_type == UPDATE_FULL:
                    entries = list(wanted.values())
                else:
                    entries = differences(sender.record.entries, wanted)
            return await sender.send(update_type, entries, version)

    async def _options_updated(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        was_enabled, self._enabled = self._enabled, self.enabled
        if self._enabled and not was_enabled:
            self.request_all()

    async def _after_boot(self, session: AnySession) -> None:
        # Runs after the configuration was read (hooks run in order), so the profiles are known.
        if self.enabled:
            self.request(session.id)

    @callback
    def request_all(self) -> None:
        """Sync every connected charger (the id tags changed)."""
        if not self.enabled:
            return
        for charge_point_id in list(self.hub.central.sessions):
            self.request(charge_point_id)

    @callback
    def request(self, charge_point_id: str) -> None:
        """Sync a charger soon; a request during a sync runs it once more afterwards."""
        if charge_point_id in self._running:
            self._again.add(charge_point_id)
            return
        self._running.add(charge_point_id)
        self.hub.entry.async_create_background_task(
            self.hub.hass, self._run(charge_point_id), f"{DOMAIN} local list {charge_point_id}"
        )

    async def _run(self, charge_point_id: str) -> None:
        try:
            while True:
                self._again.discard(charge_point_id)
                try:
                    await self.sync(charge_point_id)
                except HomeAssistantError as err:
                    _LOGGER.warning("%s: local authorization list not synchronised: %s", charge_point_id, err)
                if charge_point_id not in self._again:
                    return
        finally:
            self._running.discard(charge_point_id)
            self._again.discard(charge_point_id)

    async def sync(self, charge_point_id: str) -> str | None:
        """
        Bring one charger's list up to date; return the update type sent, None when none was needed.

        The charger's version decides: not ours (or nothing sent yet) means a full list; ours
        means only the changes, when there are any.
        """
        central = self.hub.central
        charger = central.chargers.get(charge_point_id)
        if charger is None or not charger.accepted or charge_point_id not in central.sessions:
            return None
        if not charger.supports(PROFILE_LOCAL_AUTH):
            return None
        async with self.lock(charge_point_id):
            theirs = (await get_local_list_version(self.hub, charge_point_id))["list_version"]
            if theirs < 0:
                _LOGGER.debug("%s has no local authorization list", charge_point_id)
                return None
            sender = LocalListSender(self.hub, charge_point_id)
            wanted = wanted_list(self.hub, charge_point_id)
            found = central.auth.local_lists.get(charge_point_id)
            if found is None or found.version != theirs:
                if found is None and theirs == 0 and not wanted:
                    return None
                version = max(theirs, sender.record.version) + 1
                await sender.send(UPDATE_FULL, list(wanted.values()), version)
                return UPDATE_FULL
            changes = differences(sender.record.entries, wanted)
            if not changes:
                return None
            await sender.send(UPDATE_DIFFERENTIAL, changes, None)
            return UPDATE_DIFFERENTIAL


UPDATE_TYPES = {"full": UPDATE_FULL, "differential": UPDATE_DIFFERENTIAL}


async def send_local_list(
    sync: LocalListSync, charge_point_id: str, update_type: str, raw_list: list[Any] | None, list_version: int | None
) -> dict[str, Any]:
    """The `send_local_list` action: `update_type` full/differential, an explicit list or the entry's tags."""
    kind = UPDATE_TYPES[update_type]
    entries = normalize_list(raw_list, kind) if raw_list is not None else None
    return await sync.send(charge_point_id, kind, entries, list_version)
