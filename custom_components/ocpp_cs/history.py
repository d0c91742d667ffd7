"""
Charging history in Home Assistant: its own Store, the get/export actions, energy per id tag.

The engine keeps the history (engine/history.py); this module loads and saves it in a Store
file of its own (`.storage/ocpp_cs.<entry id>.history`, so the entry's main state stays small
and fast to save), answers `get_transactions` and `export_transactions`, and keeps one
`id_tag_energy` sensor per listed id tag on the entry's device.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
import logging
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE, UnitOfEnergy
from homeassistant.core import CoreState, Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.storage import Store

from .const import DOMAIN, STORAGE_SAVE_DELAY
from .engine.history import HistoryRecord, TransactionHistory, kwh, tag_key
from .engine.persist import DelayedSave
from .engine.state import IdTag
from .ports import Hub

_LOGGER = logging.getLogger(__name__)

HISTORY_STORAGE_VERSION = 1
# Exports go to <config>/ocpp_cs/exports/.


def history_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the Store of an entry's transaction history."""
    return Store(hass, HISTORY_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.history")


class HistoryKeeper:
    """Persists one entry's history and keeps its per-id-tag energy sensors."""

    def __init__(self, hub: Hub) -> None:
        """Bind to the entry's hub; `async_load` restores the history."""
        self.hub = hub
        self._store = history_store(hub.hass, hub.entry.entry_id)
        # At most STORAGE_SAVE_DELAY after the first unsaved record, however many follow.
        self._writes = DelayedSave(self._write, STORAGE_SAVE_DELAY)
        self._sensors: dict[str, IdTagEnergySensor] = {}
        self._add_entities: AddConfigEntryEntitiesCallback | None = None

    @property
    def history(self) -> TransactionHistory:
        """Return the engine's history."""
        return self.hub.central.history

    def id_tag_name(self, id_tag: str | None) -> str | None:
        """Return the friendly name of a listed id tag."""
        tag = self.hub.central.id_tags.get(tag_key(id_tag)) if id_tag else None
        return tag.name if tag is not None else None

    async def async_load(self) -> None:
        """Restore the history and add the stopped sessions it missed (before chargers connect)."""
        history = self.history
        central = self.hub.central
        history.restore(await self._store.async_load())
        added = history.reconcile(central.recent_transactions, self.id_tag_name)
        central.seed_energy()
        history.set_listener(self._recorded)
        if added:
            _LOGGER.debug("%s: %s stopped sessions added to the history", self.hub.entry.title, added)
            self._writes.schedule()
        else:
            # The file holds every stopped session the state kept for it.
            central.history_written(central.history_mark())

    async def async_flush(self) -> None:
        """Write the history now (the entry unloads, or Home Assistant stops)."""
        self.history.set_listener(None)
        await self._writes.flush()

    async def _write(self) -> None:
        central = self.hub.central
        mark = central.history_mark()
        await self._store.async_save(self.history.snapshot())
        # While Home Assistant stops, the Store keeps the data for its final write: not on disk yet.
        if self.hub.hass.state is not CoreState.stopping:
            central.history_written(mark)

    @callback
    def _recorded(self, record: HistoryRecord) -> None:
        self._writes.schedule()
        if record.id_tag is not None:
            sensor = self._sensors.get(tag_key(record.id_tag))
            if sensor is not None and sensor.hass is not None:
                sensor.async_write_ha_state()

    # --- sensors ------------------------------------------------------------------------

    @callback
    def attach_platform(self, add_entities: AddConfigEntryEntitiesCallback) -> None:
        """Add a sensor per listed id tag now, and whenever the list changes."""
        self._add_entities = add_entities
        self.refresh_sensors()

    @callback
    def refresh_sensors(self) -> None:
        """Follow the entry's id tag list: add sensors for new tags, drop those of removed ones."""
        if self._add_entities is None:
            return
        listed = {tag_key(tag.id_tag): tag for tag in self.hub.central.id_tags.values()}
        new: list[IdTagEnergySensor] = []
        for key, tag in listed.items():
            sensor = self._sensors.get(key)
            if sensor is None:
                sensor = IdTagEnergySensor(self, tag)
                self._sensors[key] = sensor
                new.append(sensor)
            else:
                sensor.renamed(tag)
        if new:
            self._add_entities(new)
        registry = er.async_get(self.hub.hass)
        for key in set(self._sensors) - set(listed):
            sensor = self._sensors.pop(key)
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, sensor.unique_id or "")
            if entity_id is not None:
                registry.async_remove(entity_id)


class IdTagEnergySensor(SensorEntity):
    """Energy of every session recorded for one id tag (kWh, Energy-dashboard ready)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "id_tag_energy"
    _attr_device_class = SensorDeviceClass.ENERGY
    _attr_state_class = SensorStateClass.TOTAL_INCREASING
    _attr_native_unit_of_measurement = UnitOfEnergy.KILO_WATT_HOUR
    _attr_suggested_display_precision = 2

    def __init__(self, keeper: HistoryKeeper, tag: IdTag) -> None:
        """Create the sensor of a listed id tag."""
        self._keeper = keeper
        self.id_tag = tag.id_tag
        hub = keeper.hub
        self._attr_unique_id = f"{hub.entry.entry_id}_id_tag_energy_{tag.id_tag}"
        self._attr_device_info = hub.entry_device_info()
        self._attr_translation_placeholders = {"id_tag": self._label(tag)}

    @staticmethod
    def _label(tag: IdTag) -> str:
        return tag.name or tag.id_tag

    @callback
    def renamed(self, tag: IdTag) -> None:
        """Follow a change of the tag's friendly name."""
        label = self._label(tag)
        if self._attr_translation_placeholders.get("id_tag") == label:
            return
        self._attr_translation_placeholders = {"id_tag": label}
        # `name` is a cached property computed from the placeholders; forget it.
        self.__dict__.pop("name", None)
        if self.hass is not None:
            self.async_write_ha_state()

    @property
    def native_value(self) -> float:
        """Return the energy in kWh (exact to the Wh)."""
        return kwh(self._keeper.history.total_wh(self.id_tag)) or 0.0

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the id tag the total belongs to."""
        return {"id_tag": self.id_tag}


async def async_setup_entry_history(hub: Hub) -> HistoryKeeper:
    """Load an entry's history (after its state, before its server starts) and return its keeper."""
    keeper = HistoryKeeper(hub)
    await keeper.async_load()
    hub.central.observe_id_tags(keeper.refresh_sensors)
    flush_when_stopping(hub, keeper.async_flush)
    return keeper


def flush_when_stopping(hub: Hub, flush: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run `flush` when the entry unloads and at Home Assistant's final write."""
    hub.entry.async_on_unload(flush)

    async def _final_write(_event: Event) -> None:
        await flush()

    # async_listen, not async_listen_once: the entry may unload after Home Assistant stopped, and
    # removing a once-listener that already fired logs an error. The event fires once anyway.
    hub.entry.async_on_unload(hub.hass.bus.async_listen(EVENT_HOMEASSISTANT_FINAL_WRITE, _final_write))


async def async_remove_history(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's history."""
    await history_store(hass, entry_id).async_remove()
