"""Logbook entries: sessions started and stopped, chargers connected, booted and disconnected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ENTITY_ID,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.translation import async_get_cached_translations

from .const import (
    DOMAIN,
    EVENT_CHARGER_BOOTED,
    EVENT_CHARGER_CONNECTED,
    EVENT_CHARGER_DISCONNECTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)
from .engine.history import tag_key
from .runtime import OcppRuntime

type Describe = Callable[[Event], dict[str, str]]


def _id_tag_label(hass: HomeAssistant, charge_point_id: str, id_tag: str | None) -> str:
    """Return an id tag with its friendly name, from the entry that knows the charger."""
    if not id_tag:
        return "an unknown id tag"
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        runtime = entry.runtime_data
        if isinstance(runtime, OcppRuntime) and charge_point_id in runtime.hub.central.chargers:
            tag = runtime.hub.central.id_tags.get(tag_key(id_tag))
            if tag is not None and tag.name:
                return f"{tag.name} ({id_tag})"
    return id_tag


def _duration(seconds: Any) -> str:
    """Return a session's length in words: "26 s", "12 min 5 s", "1 h 5 min"."""
    if not isinstance(seconds, int) or seconds < 0:
        return "an unknown time"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _stop_reason(hass: HomeAssistant, reason: Any) -> str:
    """Return a stop reason as the stop reason sensor shows it ("EV disconnected")."""
    if not reason:
        return "unknown"
    # Cached once the sensor platform has loaded its strings; else words made from the key.
    translations = async_get_cached_translations(hass, hass.config.language, "entity", DOMAIN)
    key = f"component.{DOMAIN}.entity.sensor.stop_reason.state.{reason}"
    return translations.get(key) or str(reason).replace("_", " ").capitalize()


def _session_entity(hass: HomeAssistant, data: dict[str, Any]) -> str | None:
    unique_id = f"{data.get('charge_point_id')}_{data.get('connector_id')}_session_energy"
    return er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)


def _entry(hass: HomeAssistant, data: dict[str, Any], message: str, *, session: bool = False) -> dict[str, str]:
    described = {LOGBOOK_ENTRY_NAME: str(data.get("charge_point_id")), LOGBOOK_ENTRY_MESSAGE: message}
    if session and (entity_id := _session_entity(hass, data)):
        described[LOGBOOK_ENTRY_ENTITY_ID] = entity_id
    return described


@callback
def async_describe_events(
    hass: HomeAssistant, async_describe_event: Callable[[str, str, Describe], None]
) -> None:
    """Describe the integration's events for the logbook."""

    @callback
    def started(event: Event) -> dict[str, str]:
        data = dict(event.data)
        tag = _id_tag_label(hass, str(data.get("charge_point_id")), data.get("id_tag"))
        message = (
            f"started charging on connector {data.get('connector_id')} with {tag} "
            f"(transaction {data.get('transaction_id')}, meter {data.get('meter_start')} Wh)"
        )
        return _entry(hass, data, message, session=True)

    @callback
    def stopped(event: Event) -> dict[str, str]:
        data = dict(event.data)
        tag = _id_tag_label(hass, str(data.get("charge_point_id")), data.get("id_tag"))
        energy = data.get("energy")
        amount = f"{energy:.3f} kWh" if isinstance(energy, int | float) else "an unknown energy"
        message = (
            f"stopped charging on connector {data.get('connector_id')}: {amount} in "
            f"{_duration(data.get('duration'))} with {tag}; "
            f"stop reason: {_stop_reason(hass, data.get('reason'))} "
            f"(transaction {data.get('transaction_id')})"
        )
        return _entry(hass, data, message, session=True)

    @callback
    def connected(event: Event) -> dict[str, str]:
        data = dict(event.data)
        return _entry(hass, data, f"connected from {data.get('remote_address')}")

    @callback
    def booted(event: Event) -> dict[str, str]:
        data = dict(event.data)
        what = " ".join(str(data[key]) for key in ("vendor", "model") if data.get(key)) or "unknown model"
        if data.get("firmware_version"):
            what += f", firmware {data['firmware_version']}"
        return _entry(hass, data, f"booted ({what}), registration {data.get('registration')}")

    @callback
    def disconnected(event: Event) -> dict[str, str]:
        data = dict(event.data)
        return _entry(hass, data, str(data.get("reason") or "disconnected"))

    async_describe_event(DOMAIN, EVENT_TRANSACTION_STARTED, started)
    async_describe_event(DOMAIN, EVENT_TRANSACTION_STOPPED, stopped)
    async_describe_event(DOMAIN, EVENT_CHARGER_CONNECTED, connected)
    async_describe_event(DOMAIN, EVENT_CHARGER_BOOTED, booted)
    async_describe_event(DOMAIN, EVENT_CHARGER_DISCONNECTED, disconnected)
