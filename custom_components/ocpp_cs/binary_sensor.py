"""Binary sensors: whether a charger's WebSocket session is open."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import OcppEntity, OcppEntityDescription
from .hub import NewEntities, OcppConfigEntry, OcppHub

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class OcppBinarySensorDescription(BinarySensorEntityDescription, OcppEntityDescription):
    """A binary sensor of a charger."""


CONNECTED = OcppBinarySensorDescription(
    key="connected",
    translation_key="connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
    always_available=True,
    watch=frozenset({"connected"}),
)


class OcppConnectedSensor(OcppEntity, BinarySensorEntity):
    """On while the charger's WebSocket session is open."""

    entity_description: OcppBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Return True while connected."""
        return self.charger.connected


def build_binary_sensors(hub: OcppHub, new: NewEntities) -> Iterable[Entity]:
    """Return the binary sensors for what appeared."""
    if new.connector_id == 0 and not new.meter_keys:
        yield OcppConnectedSensor(hub, new.charge_point_id, 0, CONNECTED)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the binary sensors now and for chargers that appear later."""
    entry.runtime_data.register_platform(build_binary_sensors, async_add_entities)
