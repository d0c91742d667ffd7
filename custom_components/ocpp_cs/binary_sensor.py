"""Binary sensors: whether a charger's WebSocket session is open."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
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


UPSTREAM_CONNECTED = OcppBinarySensorDescription(
    key="upstream_connected",
    translation_key="upstream_connected",
    device_class=BinarySensorDeviceClass.CONNECTIVITY,
    entity_category=EntityCategory.DIAGNOSTIC,
    always_available=True,
    watch=frozenset({"upstream_connected", "settings"}),
)


class OcppConnectedSensor(OcppEntity, BinarySensorEntity):
    """On while the charger's WebSocket session is open."""

    entity_description: OcppBinarySensorDescription

    @property
    def is_on(self) -> bool:
        """Return True while connected."""
        return self.charger.connected


class OcppUpstreamConnectedSensor(OcppEntity, BinarySensorEntity):
    """Local controller mode: on while the charger's upstream connection is open."""

    entity_description: OcppBinarySensorDescription

    @property
    def available(self) -> bool:
        """Return True while the charger is relayed (its options may turn relaying off)."""
        controller = self.hub.local_controller
        return super().available and controller is not None and controller.relayed(self.charge_point_id)

    @property
    def is_on(self) -> bool:
        """Return True while the upstream connection is open."""
        controller = self.hub.local_controller
        status = controller.status(self.charge_point_id) if controller is not None else None
        return status is not None and status.connected

    @property
    def extra_state_attributes(self) -> dict[str, str] | None:
        """Return why the upstream failed last, while it cannot be reached."""
        controller = self.hub.local_controller
        status = controller.status(self.charge_point_id) if controller is not None else None
        if status is None or status.outage_since is None or status.last_failure is None:
            return None
        return {"last_error": str(status.last_failure)}


def build_binary_sensors(hub: OcppHub, new: NewEntities) -> Iterable[Entity]:
    """Return the binary sensors for what appeared."""
    if new.connector_id == 0 and not new.meter_keys:
        yield OcppConnectedSensor(hub, new.charge_point_id, 0, CONNECTED)
        if hub.local_controller is not None and hub.local_controller.enabled:
            yield OcppUpstreamConnectedSensor(hub, new.charge_point_id, 0, UPSTREAM_CONNECTED)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the binary sensors now and for chargers that appear later."""
    entry.runtime_data.register_platform(build_binary_sensors, async_add_entities)
