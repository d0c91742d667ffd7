"""
Device triggers: a transaction started or stopped on a charger or on one of its connectors.

They listen to the `ocpp_cs_transaction_started` / `ocpp_cs_transaction_stopped` events: a
charger device matches its charge point id (any connector), a connector device also its
connector id.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.const import CONF_DEVICE_ID, CONF_DOMAIN, CONF_EVENT, CONF_EVENT_DATA, CONF_PLATFORM, CONF_TYPE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import probatio as vol

from .const import DOMAIN, EVENT_TRANSACTION_STARTED, EVENT_TRANSACTION_STOPPED
from .errors import translated

TRIGGER_EVENTS = {
    "transaction_started": EVENT_TRANSACTION_STARTED,
    "transaction_stopped": EVENT_TRANSACTION_STOPPED,
}

TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        vol.Required(CONF_DOMAIN): DOMAIN,
        vol.Required(CONF_DEVICE_ID): str,
        vol.Required(CONF_TYPE): vol.In(list(TRIGGER_EVENTS)),
    }
)


def device_target(hass: HomeAssistant, device_id: str) -> tuple[str, int | None] | None:
    """
    Return (charge point id, connector id or None) of a charger or connector device.

    A connector device hangs off its charger (`via_device_id`) and is identified by
    `<charge point id>_<connector id>`; the entry's own device is neither.
    """
    registry = dr.async_get(hass)
    device = registry.async_get(device_id, include_child_devices=False)
    if device is None:
        return None
    identifier = next((value for domain, value in device.identifiers if domain == DOMAIN), None)
    if identifier is None or identifier == device.config_entry_id:
        return None
    if device.via_device_id is None:
        return identifier, None
    parent = registry.async_get(device.via_device_id, include_child_devices=False)
    charge_point_id = (
        next((value for domain, value in parent.identifiers if domain == DOMAIN), None) if parent else None
    )
    if charge_point_id is None or not identifier.startswith(f"{charge_point_id}_"):
        return None
    connector = identifier.removeprefix(f"{charge_point_id}_")
    return (charge_point_id, int(connector)) if connector.isdigit() else None


def _not_a_charger(device_id: str) -> InvalidDeviceAutomationConfig:
    return translated("trigger_device_not_charger", InvalidDeviceAutomationConfig, device_id=device_id)


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Check the trigger's fields, and that its device is a charger or connector."""
    validated: ConfigType = TRIGGER_SCHEMA(config)
    if device_target(hass, validated[CONF_DEVICE_ID]) is None:
        raise _not_a_charger(validated[CONF_DEVICE_ID])
    return validated


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, Any]]:
    """Return the triggers of a charger or connector device."""
    if device_target(hass, device_id) is None:
        return []
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: trigger_type}
        for trigger_type in TRIGGER_EVENTS
    ]


async def async_attach_trigger(
    hass: HomeAssistant, config: ConfigType, action: TriggerActionType, trigger_info: TriggerInfo
) -> CALLBACK_TYPE:
    """Listen for the transaction event of the device's charger (and connector)."""
    target = device_target(hass, config[CONF_DEVICE_ID])
    if target is None:
        raise _not_a_charger(config[CONF_DEVICE_ID])
    charge_point_id, connector_id = target
    event_data: dict[str, Any] = {"charge_point_id": charge_point_id}
    if connector_id is not None:
        event_data["connector_id"] = connector_id
    event_config = event_trigger.TRIGGER_SCHEMA(
        {
            CONF_PLATFORM: CONF_EVENT,
            event_trigger.CONF_EVENT_TYPE: TRIGGER_EVENTS[config[CONF_TYPE]],
            CONF_EVENT_DATA: event_data,
        }
    )
    return await event_trigger.async_attach_trigger(hass, event_config, action, trigger_info, platform_type="device")
