"""Buttons: reset (soft/hard) and clear cache per charger, unlock per connector."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.components.button.const import ButtonDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import commands
from .devices import NewEntities
from .entity import OcppEntity, OcppEntityDescription
from .errors import translate_errors
from .ports import EntityHub
from .runtime import OcppConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class OcppButtonDescription(ButtonEntityDescription, OcppEntityDescription):
    """A button that sends one command."""

    press_fn: Callable[[EntityHub, str, int], Awaitable[dict[str, Any]]]


CHARGER_BUTTONS = (
    OcppButtonDescription(
        key="reset",
        translation_key="reset",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda hub, cp_id, _connector: commands.reset(hub, cp_id, hard=False),
    ),
    OcppButtonDescription(
        key="hard_reset",
        translation_key="hard_reset",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=False,
        press_fn=lambda hub, cp_id, _connector: commands.reset(hub, cp_id, hard=True),
    ),
    OcppButtonDescription(
        key="clear_cache",
        translation_key="clear_cache",
        entity_category=EntityCategory.CONFIG,
        entity_registry_enabled_default=False,
        press_fn=lambda hub, cp_id, _connector: commands.clear_cache(hub, cp_id),
    ),
)
CONNECTOR_BUTTONS = (
    OcppButtonDescription(
        key="unlock",
        translation_key="unlock",
        press_fn=commands.unlock_connector,
    ),
)


class OcppButton(OcppEntity, ButtonEntity):
    """Sends its command; errors (offline, refused, timeout) reach the user as they are."""

    entity_description: OcppButtonDescription

    @translate_errors
    async def async_press(self) -> None:
        """Send the command."""
        await self.entity_description.press_fn(self.hub, self.charge_point_id, self.connector_id)


def build_buttons(hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the buttons for what appeared."""
    if new.meter_keys:
        return
    for description in CHARGER_BUTTONS if new.connector_id == 0 else CONNECTOR_BUTTONS:
        yield OcppButton(hub, new.charge_point_id, new.connector_id, description)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the buttons now and for chargers and connectors that appear later."""
    entry.runtime_data.hub.register_platform(build_buttons, async_add_entities)
