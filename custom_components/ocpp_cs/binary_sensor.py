"""Binary sensors: whether a charger's WebSocket session is open."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .devices import NewEntities
from .entity import OcppEntity, OcppEntityDescription
from .local_controller import LocalController
from .ports import EntityHub
from .runtime import OcppConfigEntry

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

    def __init__(self, hub: EntityHub, controller: LocalController, charge_point_id: str) -> None:
        """Bind the sensor to its charger and the entry's local controller."""
        super().__init__(hub, charge_point_id, 0, UPSTREAM_CONNECTED)
        self.controller = controller

    @property
    def available(self) -> bool:
        """Return True while the charger is relayed (its options may turn relaying off)."""
        return super().available and self.controller.relayed(self.charge_point_id)

    @property
    def is_on(self) -> bool:
        """Return True while the upstream connection is open."""
        status = self.controller.status(self.charge_point_id)
        return status is not None and status.connected

    @property
    def extra_state_attributes(self) -> dict[str, str] | None:
        """Return why the upstream failed last, while it cannot be reached."""
        status = self.controller.status(self.charge_point_id)
        if status is None or status.outage_since is None or status.last_failure is None:
            return None
        return {"last_error": str(status.last_failure)}


def build_binary_sensors(controller: LocalController, hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the binary sensors for what appeared."""
    if new.connector_id == 0 and not new.meter_keys:
        yield OcppConnectedSensor(hub, new.charge_point_id, 0, CONNECTED)
        if controller.enabled:
            yield OcppUpstreamConnectedSensor(hub, controller, new.charge_point_id)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the binary sensors now and for chargers that appear later."""
    runtime = entry.runtime_data
    runtime.hub.register_platform(partial(build_binary_sensors, runtime.local_controller), async_add_entities)
