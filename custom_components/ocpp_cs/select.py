"""Selects: `charging_mode` per connector, the site controller's mode for it (site.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .devices import NewEntities
from .engine.site import Mode
from .entity import OcppEntity, OcppEntityDescription
from .ports import EntityHub
from .runtime import OcppConfigEntry
from .site import SiteManager

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class OcppSelectDescription(SelectEntityDescription, OcppEntityDescription):
    """A select of an ocpp_cs connector."""


CHARGING_MODE = OcppSelectDescription(
    key="charging_mode",
    translation_key="charging_mode",
    options=[mode.value for mode in Mode],
    # A setting of Home Assistant's, not of the charger: it can be changed while it is away.
    always_available=True,
)


class ChargingModeSelect(OcppEntity, SelectEntity, RestoreEntity):
    """How the site controller steers a connector: manual (not at all), off, fast, solar, min_solar."""

    entity_description: OcppSelectDescription

    def __init__(self, hub: EntityHub, site: SiteManager, charge_point_id: str, connector_id: int) -> None:
        """Bind the select to its connector and the entry's site controller."""
        super().__init__(hub, charge_point_id, connector_id, CHARGING_MODE)
        self.site = site

    async def async_added_to_hass(self) -> None:
        """Take the mode it had before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and last.state in self.options:
            self.site.set_mode(self.charge_point_id, self.connector_id, Mode(last.state))

    @property
    def current_option(self) -> str:
        """Return the connector's mode."""
        return self.site.mode(self.charge_point_id, self.connector_id).value

    async def async_select_option(self, option: str) -> None:
        """Steer the connector in this mode from now on."""
        self.site.set_mode(self.charge_point_id, self.connector_id, Mode(option))
        self.write_state()


def build_selects(site: SiteManager, hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the charging mode select of a new connector."""
    if new.meter_keys or new.connector_id == 0:
        return
    yield ChargingModeSelect(hub, site, new.charge_point_id, new.connector_id)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add a charging mode select to every connector, now and as connectors appear."""
    runtime = entry.runtime_data
    runtime.hub.register_platform(partial(build_selects, runtime.site), async_add_entities)
