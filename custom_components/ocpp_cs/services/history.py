"""The `get_transactions` and `export_transactions` actions: an entry's charging history, filtered."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
import io
import logging
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util, slugify
import probatio as vol

from ..const import DOMAIN
from ..engine.history import HistoryRecord, kwh, tag_key
from ..errors import invalid
from ..ports import Hub
from .targets import charger_of_identifier, loaded_runtime

_LOGGER = logging.getLogger(__name__)

EXPORT_DIRECTORY = (DOMAIN, "exports")
ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_DEVICE_ID = "device_id"

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
    "cost",
    "currency",
)
CSV_TOTAL_COLUMNS = ("id_tag", "id_tag_name", "sessions", "energy", "duration")



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


# The start and the end of a period (a date alone as `end` is the end of that day); statements too.
period_start = partial(_moment, end=False)
period_end = partial(_moment, end=True)

ACTION_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Optional(ATTR_DEVICE_ID): vol.Any(cv.string, vol.All(cv.ensure_list, vol.Length(min=1, max=1))),
        vol.Optional("id_tag"): vol.All(cv.string, vol.Length(min=1, max=20)),
        vol.Optional("start"): period_start,
        vol.Optional("end"): period_end,
        vol.Optional("limit"): vol.All(vol.Coerce(int), vol.Range(min=1)),
    }
)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which sessions an action asks for: an entry, maybe one charger or connector, and filters."""

    hub: Hub
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
        runtime = loaded_runtime(hass, entry_id)
        if runtime is None:
            raise invalid("unknown_config_entry", config_entry_id=entry_id)
        return Selection(runtime.hub, runtime.hub.entry.title, None, None, data)
    device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
    if device is None:
        raise invalid("unknown_history_device", device_id=device_id)
    runtime = loaded_runtime(hass, device.config_entry_id) if device.config_entry_id else None
    if runtime is not None:
        hub = runtime.hub
        for domain, identifier in device.identifiers:
            if domain != DOMAIN:
                continue
            if identifier == hub.entry.entry_id:
                return Selection(hub, hub.entry.title, None, None, data)
            found = charger_of_identifier(hub.central, identifier)
            if found is not None:
                return Selection(hub, identifier, found[0], found[1], data)
    raise invalid("unknown_history_device", device_id=device_id)


def _id_tag_name(hub: Hub, record: HistoryRecord) -> str | None:
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


def csv_rows(hub: Hub, records: list[HistoryRecord]) -> tuple[list[list[str]], list[list[str]]]:
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
                "" if record.cost is None else f"{record.cost:.2f}",
                record.currency or "",
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


def new_csv_path(directory: Path, stem: str) -> Path:
    """Return a CSV file name in `directory` that no earlier export has (blocking: in the executor)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.csv"
    number = 2
    while path.exists():
        path = directory / f"{stem}_{number}.csv"
        number += 1
    return path


def write_csv(directory: Path, stem: str, rows: list[list[str]], totals: list[list[str]]) -> Path:
    """Write the export (blocking: run in the executor); never overwrite an earlier one."""
    path = new_csv_path(directory, stem)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    writer.writerow([])
    writer.writerow(CSV_TOTAL_COLUMNS)
    writer.writerows(totals)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


async def get_transactions(hass: HomeAssistant, selection: Selection) -> dict[str, Any]:
    """Return the selected sessions, newest first."""
    return {"transactions": [record.as_answer() for record in selection.records()]}


async def export_transactions(hass: HomeAssistant, selection: Selection) -> dict[str, Any]:
    """Write the selected sessions and their totals per id tag to a CSV file; return its path."""
    rows, totals = csv_rows(selection.hub, selection.records())
    stem = f"transactions_{slugify(selection.scope) or 'all'}_{dt_util.now().strftime('%Y%m%d_%H%M%S')}"
    directory = Path(hass.config.path(*EXPORT_DIRECTORY))
    path = await hass.async_add_executor_job(write_csv, directory, stem, rows, totals)
    _LOGGER.info("Exported %s charging sessions to %s", len(rows), path)
    return {"path": str(path)}
