"""The cost sensors (issue 18): `session_cost` per connector, `id_tag_cost_<tag>` per listed id tag.

Monetary with state class `total`, in the price source's currency, so statistics and the Energy
dashboard can use them. They exist only while the entry has a price source (a change of that
reloads the entry). `CostKeeper` (costs.py) writes them when their figure changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .costs import CostKeeper
from .engine.history import tag_key
from .engine.state import IdTag
from .entity import OcppEntity
from .meter_sensor import MeterSensorDescription
from .ports import EntityHub, Hub

SESSION_COST = MeterSensorDescription(
    key="session_cost",
    translation_key="session_cost",
    device_class=SensorDeviceClass.MONETARY,
    state_class=SensorStateClass.TOTAL,
    suggested_display_precision=2,
    always_available=True,
)


class SessionCostSensor(OcppEntity, SensorEntity):
    """What the connector's running session has cost so far; after it stopped, what it cost."""

    entity_description: MeterSensorDescription

    def __init__(self, hub: EntityHub, costs: CostKeeper, charge_point_id: str, connector_id: int) -> None:
        """Bind the sensor to its connector and the entry's cost keeper."""
        super().__init__(hub, charge_point_id, connector_id, SESSION_COST)
        self.costs = costs

    async def async_added_to_hass(self) -> None:
        """Be written by the cost keeper."""
        await super().async_added_to_hass()
        self.costs.connector_entities[(self.charge_point_id, self.connector_id)] = self

    async def async_will_remove_from_hass(self) -> None:
        """Stop being written."""
        await super().async_will_remove_from_hass()
        self.costs.connector_entities.pop((self.charge_point_id, self.connector_id), None)

    @property
    def native_unit_of_measurement(self) -> str:
        """Return the price source's currency."""
        return self.costs.currency

    @property
    def last_reset(self) -> datetime | None:
        """Return the session's start: each session's cost is a new total (statistics count no drop)."""
        transaction = self.connector.transaction or self.connector.last_transaction
        return transaction.start if transaction is not None else None

    @property
    def native_value(self) -> float | None:
        """Return the session's cost, fee included, to the cent."""
        found = self.costs.session_cost(self.charge_point_id, self.connector_id)
        return float(found.cost) if found is not None else None


class IdTagCostSensor(SensorEntity):
    """What every session costed for one id tag has cost in all."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "id_tag_cost"
    _attr_device_class = SensorDeviceClass.MONETARY
    _attr_state_class = SensorStateClass.TOTAL
    _attr_suggested_display_precision = 2

    def __init__(self, hub: Hub, costs: CostKeeper, tag: IdTag) -> None:
        """Create the sensor of a listed id tag, on the entry's device (beside its energy sensor)."""
        self.costs = costs
        self.id_tag = tag.id_tag
        self._attr_unique_id = f"{hub.entry.entry_id}_id_tag_cost_{tag.id_tag}"
        self._attr_device_info = hub.entry_device_info()
        self._attr_translation_placeholders = {"id_tag": tag.name or tag.id_tag}

    async def async_added_to_hass(self) -> None:
        """Be written by the cost keeper when a session of the tag is settled."""
        await super().async_added_to_hass()
        self.costs.tag_entities[tag_key(self.id_tag)] = self

    async def async_will_remove_from_hass(self) -> None:
        """Stop being written."""
        await super().async_will_remove_from_hass()
        self.costs.tag_entities.pop(tag_key(self.id_tag), None)

    @property
    def native_unit_of_measurement(self) -> str:
        """Return the price source's currency."""
        return self.costs.currency

    @property
    def native_value(self) -> float:
        """Return the tag's total, to the cent."""
        return float(self.costs.tag_cost(self.id_tag))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the id tag the total belongs to."""
        return {"id_tag": self.id_tag}


class IdTagCostSensors:
    """Follows the entry's id tag list: a cost sensor per listed tag while costs are on."""

    def __init__(self, hub: Hub, costs: CostKeeper, add_entities: AddConfigEntryEntitiesCallback) -> None:
        """Add the sensors of the listed tags now and whenever the list changes."""
        self.hub = hub
        self.costs = costs
        self._add_entities = add_entities
        self._sensors: dict[str, IdTagCostSensor] = {}
        self.refresh()
        hub.central.observe_id_tags(self.refresh)

    @callback
    def refresh(self) -> None:
        """Add sensors for new tags, drop those of removed ones."""
        listed = {tag_key(tag.id_tag): tag for tag in self.hub.central.id_tags.values()}
        new = [IdTagCostSensor(self.hub, self.costs, tag) for key, tag in listed.items() if key not in self._sensors]
        for sensor in new:
            self._sensors[tag_key(sensor.id_tag)] = sensor
        if new:
            self._add_entities(new)
        registry = er.async_get(self.hub.hass)
        for key in set(self._sensors) - set(listed):
            sensor = self._sensors.pop(key)
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, sensor.unique_id or "")
            if entity_id is not None:
                registry.async_remove(entity_id)
