"""
Charging history in Home Assistant: its own Store, the get/export actions, energy per id tag.

The engine keeps the history (engine/history.py); this module loads and saves it in a Store
file of its own (`.storage/ocpp_cs.<entry id>.history`, so the entry's main state stays small
and fast to save), answers `get_transactions` and `export_transactions`, and keeps one
`id_tag_energy` sensor per listed id tag on the entry's device.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
import io
import logging
from pathlib import Path
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE, UnitOfEnergy
from homeassistant.core import CoreState, Event, HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr, entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util, slugify
import probatio as vol

from .const import DOMAIN, STORAGE_SAVE_DELAY
from .engine.history import HistoryRecord, TransactionHistory, kwh, tag_key
from .engine.persist import DelayedSave
from .engine.state import IdTag
from .errors import invalid
from .hub import OcppHub

_LOGGER = logging.getLogger(__name__)

HISTORY_STORAGE_VERSION = 1
# Exports go to <config>/ocpp_cs/exports/.
EXPORT_DIRECTORY = (DOMAIN, "exports")
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_DEVICE_ID = "device_id"
ACTIONS = ("get_transactions", "export_transactions")

CSV_COLUMNS = (
    "charge_point_id",
    "connector_id",
    "transaction_id",
    "id_tag",
    "id_tag_name",
    "start",
    "stop",
    "meter_start",
    "meter_stop",
    "energy",
    "duration",
    "reason",
    "start_seen",
    "stop_seen",
)
CSV_TOTAL_COLUMNS = ("id_tag", "id_tag_name", "sessions", "energy", "duration")


def history_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the Store of an entry's transaction history."""
    return Store(hass, HISTORY_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.history")


class HistoryKeeper:
    """Persists one entry's history and keeps its per-id-tag energy sensors."""

    def __init__(self, hub: OcppHub) -> None:
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
        history.listener = self._recorded
        if added:
            _LOGGER.debug("%s: %s stopped sessions added to the history", self.hub.entry.title, added)
            self._writes.schedule()
        else:
            # The file holds every stopped session the state kept for it.
            central.history_written(central.history_mark())

    async def async_flush(self) -> None:
        """Write the history now (the entry unloads, or Home Assistant stops)."""
        self.history.listener = None
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


@callback
def async_setup_history_sensors(hub: OcppHub, add_entities: AddConfigEntryEntitiesCallback) -> None:
    """Add the entry's `id_tag_energy` sensors (called by the sensor platform)."""
    hub.history.attach_platform(add_entities)


async def async_setup_entry_history(hub: OcppHub) -> None:
    """Load an entry's history (after its state, before its server starts)."""
    keeper = HistoryKeeper(hub)
    hub.history = keeper
    await keeper.async_load()
    hub.central.observe_id_tags(keeper.refresh_sensors)
    hub.entry.async_on_unload(keeper.async_flush)

    async def _final_write(_event: Event) -> None:
        await keeper.async_flush()

    # async_listen, not async_listen_once: the entry may unload after Home Assistant stopped, and
    # removing a once-listener that already fired logs an error. The event fires once anyway.
    hub.entry.async_on_unload(hub.hass.bus.async_listen(EVENT_HOMEASSISTANT_FINAL_WRITE, _final_write))


async def async_remove_history(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's history."""
    await history_store(hass, entry_id).async_remove()


# --- actions -------------------------------------------------------------------------------


def _moment(value: Any, *, end: bool) -> datetime:
    """
    Read a date or a date and time; local time unless an offset is given.

    A date given as `end` means the end of that day, so `start: 2025-01-01, end: 2025-01-31`
    is the whole of January.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        day: date | None = value if isinstance(value, date) else None
        if day is None:
            text = str(value).strip()
            # A date alone first: fromisoformat would read it as midnight.
            day = dt_util.parse_date(text) if len(text) == 10 else None
            if day is None:
                parsed = dt_util.parse_datetime(text)
                if parsed is None:
                    raise vol.Invalid(f"not a date or a date and time: {value!r}")
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_util.get_default_time_zone())
        if end:
            day += timedelta(days=1)
        moment = datetime.combine(day, time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_util.get_default_time_zone())


ACTION_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_DEVICE_ID): vol.Any(cv.string, vol.All(cv.ensure_list, vol.Length(min=1, max=1))),
        vol.Optional("id_tag"): vol.All(cv.string, vol.Length(min=1, max=20)),
        vol.Optional("start"): partial(_moment, end=False),
        vol.Optional("end"): partial(_moment, end=True),
        vol.Optional("limit"): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which sessions an action asks for: an entry, maybe one charger or connector, and filters."""

    hub: OcppHub
    scope: str
    charge_point_id: str | None
    connector_id: int | None
    data: dict[str, Any]

    def records(self) -> list[HistoryRecord]:
        """Return the selected sessions, newest first."""
        return self.hub.central.history.query(
            charge_point_id=self.charge_point_id,
            connector_id=self.connector_id,
            id_tag=self.data.get("id_tag"),
            start=self.data.get("start"),
            end=self.data.get("end"),
            limit=self.data.get("limit"),
        )


def _loaded_hub(hass: HomeAssistant, entry_id: str) -> OcppHub | None:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or entry not in hass.config_entries.async_loaded_entries(DOMAIN):
        return None
    hub = getattr(entry, "runtime_data", None)
    return hub if isinstance(hub, OcppHub) else None


def resolve_selection(hass: HomeAssistant, action: str, service_data: dict[str, Any]) -> Selection:
    """Validate an action's fields and find the entry (and charger) it names."""
    try:
        data = ACTION_SCHEMA(dict(service_data))
    except vol.Invalid as err:
        raise invalid("invalid_field", action=action, error=str(err)) from err
    if data.get("start") and data.get("end") and data["start"] >= data["end"]:
        raise invalid("invalid_period", start=data["start"].isoformat(), end=data["end"].isoformat())
    entry_id = data.pop(ATTR_CONFIG_ENTRY_ID, None)
    device_id = data.pop(ATTR_DEVICE_ID, None)
    if isinstance(device_id, list):
        device_id = device_id[0]
    if (entry_id is None) == (device_id is None):
        raise invalid("history_target_required")
    if entry_id is not None:
        hub = _loaded_hub(hass, entry_id)
        if hub is None:
            raise invalid("unknown_config_entry", config_entry_id=entry_id)
        return Selection(hub, hub.entry.title, None, None, data)
    device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
    if device is None:
        raise invalid("unknown_history_device", device_id=device_id)
    hub = _loaded_hub(hass, device.config_entry_id)
    if hub is not None:
        for domain, identifier in device.identifiers:
            if domain != DOMAIN:
                continue
            if identifier == hub.entry.entry_id:
                return Selection(hub, hub.entry.title, None, None, data)
            if identifier in hub.central.chargers:
                return Selection(hub, identifier, identifier, None, data)
            charge_point_id, _, suffix = identifier.rpartition("_")
            if charge_point_id in hub.central.chargers and suffix.isdigit():
                return Selection(hub, identifier, charge_point_id, int(suffix), data)
    raise invalid("unknown_history_device", device_id=device_id)


def _id_tag_name(hub: OcppHub, record: HistoryRecord) -> str | None:
    """Return the tag's name as listed now, else as it was when the session was recorded."""
    tag = hub.central.id_tags.get(tag_key(record.id_tag)) if record.id_tag else None
    return (tag.name if tag is not None else None) or record.id_tag_name


def _wh(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _kwh(wh: float | None) -> str:
    energy = kwh(wh)
    return "" if energy is None else f"{energy:.3f}"


def csv_rows(hub: OcppHub, records: list[HistoryRecord]) -> tuple[list[list[str]], list[list[str]]]:
    """Return the export's session rows and its totals per id tag."""
    rows: list[list[str]] = []
    totals: dict[str, list[Any]] = {}
    for record in records:
        name = _id_tag_name(hub, record)
        rows.append(
            [
                record.charge_point_id,
                str(record.connector_id),
                str(record.transaction_id),
                record.id_tag or "",
                name or "",
                record.start.isoformat() if record.start else "",
                record.stop.isoformat() if record.stop else "",
                _wh(record.meter_start),
                _wh(record.meter_stop),
                _kwh(record.energy_wh),
                "" if record.duration_s is None else str(record.duration_s),
                record.reason_snake or "",
                str(record.start_seen).lower(),
                str(record.stop_seen).lower(),
            ]
        )
        key = tag_key(record.id_tag) if record.id_tag else ""
        total = totals.setdefault(key, [record.id_tag or "", name or "", 0, 0.0, 0])
        total[2] += 1
        total[3] += record.energy_wh or 0.0
        total[4] += record.duration_s or 0
    total_rows = [
        [tag, name, str(sessions), _kwh(energy), str(duration)]
        for tag, name, sessions, energy, duration in sorted(totals.values(), key=lambda t: str(t[0]).casefold())
    ]
    return rows, total_rows


def write_csv(directory: Path, stem: str, rows: list[list[str]], totals: list[list[str]]) -> Path:
    """Write the export (blocking: run in the executor); never overwrite an earlier one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.csv"
    number = 2
    while path.exists():
        path = directory / f"{stem}_{number}.csv"
        number += 1
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    writer.writerow([])
    writer.writerow(CSV_TOTAL_COLUMNS)
    writer.writerows(totals)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


async def _get_transactions(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    selection = resolve_selection(hass, "get_transactions", dict(call.data))
    answer: dict[str, Any] = {"transactions": [record.as_answer() for record in selection.records()]}
    return answer if call.return_response else None


async def _export_transactions(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    selection = resolve_selection(hass, "export_transactions", dict(call.data))
    rows, totals = csv_rows(selection.hub, selection.records())
    stem = f"transactions_{slugify(selection.scope) or 'all'}_{dt_util.now().strftime('%Y%m%d_%H%M%S')}"
    directory = Path(hass.config.path(*EXPORT_DIRECTORY))
    path = await hass.async_add_executor_job(write_csv, directory, stem, rows, totals)
    _LOGGER.info("Exported %s charging sessions to %s", len(rows), path)
    answer: dict[str, Any] = {"path": str(path)}
    return answer if call.return_response else None


@callback
def async_setup_history_actions(hass: HomeAssistant) -> None:
    """Register `get_transactions` and `export_transactions` once, for every entry."""
    hass.services.async_register(
        DOMAIN, "get_transactions", partial(_get_transactions, hass), supports_response=SupportsResponse.ONLY
    )
    hass.services.async_register(
        DOMAIN,
        "export_transactions",
        partial(_export_transactions, hass),
        supports_response=SupportsResponse.OPTIONAL,
    )
