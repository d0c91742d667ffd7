"""
Troubleshooting: the `debug` option (frames logged at DEBUG level), connection and boot events.

Every charger's last frames are kept by the engine (engine/message_log.py) and shown in the
device's diagnostics. The events fired here (`ocpp_cs_charger_connected`,
`ocpp_cs_charger_booted`, `ocpp_cs_charger_disconnected`) carry the charger's `device_id`, so
the logbook (logbook.py) shows them on the charger's page.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import (
    CONF_DEBUG,
    DOMAIN,
    EVENT_CHARGER_BOOTED,
    EVENT_CHARGER_CONNECTED,
    EVENT_CHARGER_DISCONNECTED,
)
from .engine.message_log import format_address
from .engine.session import AnySession
from .engine.util import snake
from .ports import Hub
from .runtime import OcppConfigEntry
from .settings import entry_config


def device_id_of(hass: HomeAssistant, entry_id: str, charge_point_id: str) -> str | None:
    """Return the registry id of a charger's device, None when it has none (not accepted)."""
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, charge_point_id), entry_id)
    return device.id if device is not None else None


def apply_debug_option(hub: Hub) -> None:
    """Log frames at DEBUG level when the entry's `debug` option is on."""
    hub.central.message_logs.debug = bool(entry_config(hub.entry).get(CONF_DEBUG))


def _charger_changed(hub: Hub, charge_point_id: str, _connector_id: int, keys: frozenset[str]) -> None:
    charger = hub.central.chargers.get(charge_point_id)
    if charger is None:
        return
    hass = hub.hass
    if "boot" in keys:
        boot = charger.boot
        registration = hub.central.registration_status(charge_point_id)
        hass.bus.async_fire(
            EVENT_CHARGER_BOOTED,
            {
                "charge_point_id": charge_point_id,
                "device_id": device_id_of(hass, hub.entry.entry_id, charge_point_id),
                "vendor": boot.vendor,
                "model": boot.model,
                "serial_number": boot.serial_number,
                "firmware_version": boot.firmware_version,
                "registration": snake(registration) if registration else None,
            },
        )
    if "connected" in keys and not charger.connected:
        log = hub.central.message_logs.get(charge_point_id)
        hass.bus.async_fire(
            EVENT_CHARGER_DISCONNECTED,
            {
                "charge_point_id": charge_point_id,
                "device_id": device_id_of(hass, hub.entry.entry_id, charge_point_id),
                "reason": log.close if log is not None else None,
            },
        )


async def _connected(hub: Hub, session: AnySession) -> None:
    charge_point_id = session.id
    data: dict[str, Any] = {
        "charge_point_id": charge_point_id,
        "device_id": device_id_of(hub.hass, hub.entry.entry_id, charge_point_id),
        "remote_address": format_address(getattr(session.connection, "remote_address", None)),
    }
    hub.hass.bus.async_fire(EVENT_CHARGER_CONNECTED, data)


def setup_troubleshooting(hub: Hub) -> None:
    """Apply the `debug` option (and follow its changes) and fire the connection events."""
    apply_debug_option(hub)
    hub.on_change.append(partial(_charger_changed, hub))
    hub.on_connected.append(partial(_connected, hub))

    async def _options_updated(_hass: HomeAssistant, _entry: OcppConfigEntry) -> None:
        apply_debug_option(hub)

    hub.entry.async_on_unload(hub.entry.add_update_listener(_options_updated))
