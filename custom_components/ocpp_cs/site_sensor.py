"""The site controller's sensors on the entry's device: headroom, surplus and charging power."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import UnitOfElectricCurrent, UnitOfPower
from homeassistant.core import callback

from .engine.site import SiteDecision
from .ports import Hub
from .site import SiteManager


@dataclass(frozen=True, kw_only=True)
class SiteSensorDescription(SensorEntityDescription):
    """A figure of the site controller's last step."""

    value_fn: Callable[[SiteDecision], float | None]


SITE_SENSORS = (
    # The smallest per-phase headroom left under the main fuse.
    SiteSensorDescription(
        key="site_headroom_current",
        translation_key="site_headroom_current",
        device_class=SensorDeviceClass.CURRENT,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=1,
        value_fn=lambda decision: decision.headroom_current,
    ),
    # The power the solar modes may use: export plus what they draw already.
    SiteSensorDescription(
        key="site_surplus_power",
        translation_key="site_surplus_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda decision: decision.surplus_power,
    ),
    # What the chargers the controller steers draw.
    SiteSensorDescription(
        key="site_charging_power",
        translation_key="site_charging_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=0,
        value_fn=lambda decision: decision.charging_power,
    ),
)


class SiteSensor(SensorEntity):
    """A site figure; unknown while the controller is off (no fuse or no grid measurement)."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: SiteSensorDescription

    def __init__(self, hub: Hub, site: SiteManager, description: SiteSensorDescription) -> None:
        """Bind the sensor to the entry's site controller."""
        self.site = site
        self.entity_description = description
        self._attr_unique_id = f"{hub.entry.entry_id}_{description.key}"
        self._attr_device_info = hub.entry_device_info()

    @property
    def native_value(self) -> float | None:
        """Return the figure of the last step."""
        decision = self.site.decision
        return None if decision is None else self.entity_description.value_fn(decision)

    async def async_added_to_hass(self) -> None:
        """Follow the controller's steps."""
        await super().async_added_to_hass()
        self.site.listeners.append(self._stepped)
        self.async_on_remove(lambda: self.site.listeners.remove(self._stepped))

    @callback
    def _stepped(self) -> None:
        # A step every few seconds: written only when the figure changed.
        if self.native_value != self._written:
            self._written = self.native_value
            self.async_write_ha_state()

    _written: float | None = None


def site_sensors(hub: Hub, site: SiteManager) -> list[SiteSensor]:
    """Return the entry's site sensors."""
    return [SiteSensor(hub, site, description) for description in SITE_SENSORS]
