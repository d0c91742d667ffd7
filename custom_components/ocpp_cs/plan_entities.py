"""The `plan` mode's entities per connector: `departure_time`, `target_energy` and `plan_cost` (plans.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.components.sensor import SensorDeviceClass, SensorEntity
from homeassistant.components.time import TimeEntity, TimeEntityDescription
from homeassistant.const import UnitOfEnergy
from homeassistant.core import callback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.util import dt as dt_util

from .entity import OcppEntity, OcppEntityDescription
from .meter_sensor import MeterSensorDescription
from .plans import PlanKeeper
from .ports import EntityHub
from .site import SiteManager


@dataclass(frozen=True, kw_only=True)
class PlanTimeDescription(TimeEntityDescription, OcppEntityDescription):
    """A time of an ocpp_cs connector."""


@dataclass(frozen=True, kw_only=True)
class PlanNumberDescription(NumberEntityDescription, OcppEntityDescription):
    """A number of a connector's plan."""


# Settings of Home Assistant's, not of the charger: they can be changed while it is away.
DEPARTURE_TIME = PlanTimeDescription(key="departure_time", translation_key="departure_time", always_available=True)
TARGET_ENERGY = PlanNumberDescription(
    key="target_energy",
    translation_key="target_energy",
    device_class=NumberDeviceClass.ENERGY,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    native_min_value=0,
    native_max_value=200,
    native_step=0.5,
    mode=NumberMode.BOX,
    always_available=True,
)
PLAN_COST = MeterSensorDescription(
    key="plan_cost",
    translation_key="plan_cost",
    device_class=SensorDeviceClass.MONETARY,
    suggested_display_precision=2,
    always_available=True,
)


class _PlanSetting(OcppEntity, RestoreEntity):
    """A setting of a connector's plan: restored after a restart, a change re-plans at once."""

    def __init__(
        self,
        hub: EntityHub,
        site: SiteManager,
        charge_point_id: str,
        connector_id: int,
        description: OcppEntityDescription,
    ) -> None:
        """Bind the entity to its connector and the entry's site controller (and its plans)."""
        super().__init__(hub, charge_point_id, connector_id, description)
        self.site = site
        self.key = (charge_point_id, connector_id)

    @property
    def plans(self) -> PlanKeeper:
        """Return the entry's plans."""
        return self.site.plans


class DepartureTimeEntity(_PlanSetting, TimeEntity):
    """When the car leaves (a time of day): the plan delivers the target energy by then."""

    entity_description: PlanTimeDescription

    async def async_added_to_hass(self) -> None:
        """Take the departure it had before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is not None and (restored := dt_util.parse_time(last.state)) is not None:
            self.plans.departures[self.key] = restored

    @property
    def native_value(self) -> time:
        """Return the departure time."""
        return self.plans.departure(self.key)

    async def async_set_value(self, value: time) -> None:
        """Set the departure and plan again."""
        self.plans.departures[self.key] = value
        self.write_state()
        self.site.step()


class TargetEnergyNumber(_PlanSetting, NumberEntity):
    """The energy the car should have received by its departure, this session (kWh)."""

    entity_description: PlanNumberDescription

    async def async_added_to_hass(self) -> None:
        """Take the target it had before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        try:
            restored = float(last.state) if last is not None else None
        except ValueError:
            restored = None
        if restored is not None and 0 <= restored <= 200:
            self.plans.targets[self.key] = restored

    @property
    def native_value(self) -> float:
        """Return the target in kWh."""
        return self.plans.target(self.key)

    async def async_set_native_value(self, value: float) -> None:
        """Set the target and plan again."""
        self.plans.targets[self.key] = value
        self.write_state()
        self.site.step()


class PlanCostSensor(OcppEntity, SensorEntity):
    """What the connector's plan is expected to cost; its planned intervals as an attribute."""

    entity_description: MeterSensorDescription

    def __init__(self, hub: EntityHub, site: SiteManager, charge_point_id: str, connector_id: int) -> None:
        """Bind the sensor to its connector's plan."""
        super().__init__(hub, charge_point_id, connector_id, PLAN_COST)
        self.plans = site.plans
        self.key = (charge_point_id, connector_id)

    async def async_added_to_hass(self) -> None:
        """Be written when the plan changes."""
        await super().async_added_to_hass()
        self.plans.sensors[self.key] = self._plan_changed

    async def async_will_remove_from_hass(self) -> None:
        """Stop being written."""
        await super().async_will_remove_from_hass()
        self.plans.sensors.pop(self.key, None)

    @callback
    def _plan_changed(self) -> None:
        if self.hass is not None:
            self.write_state()

    @property
    def native_unit_of_measurement(self) -> str:
        """Return the price source's currency."""
        return self.plans.costs.currency

    @property
    def native_value(self) -> float | None:
        """Return the plan's expected cost (unknown without a plan or a forecast)."""
        plan = self.plans.plans.get(self.key)
        return float(plan.expected_cost) if plan is not None and plan.expected_cost is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the planned intervals, why it plans so, and whether it meets the target."""
        plan = self.plans.plans.get(self.key)
        if plan is None:
            return {"planned_intervals": [], "reason": None, "meets_target": None}
        return {
            "planned_intervals": [interval.as_attribute() for interval in plan.intervals],
            "reason": plan.reason,
            "meets_target": plan.meets_target,
        }
