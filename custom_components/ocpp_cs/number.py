"""Numbers: `current_limit` (A) and `power_limit` (W) per charger and per connector; `charging_priority`.

Both show one limit per scope in two units. They show what the charger accepted: a refused
limit raises an error and the number keeps its previous value. Where no limit was set they
show the one in force: the charger-wide limit for a connector, else the charger's maximum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import UnitOfElectricCurrent, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .devices import NewEntities
from .engine.smart_charging import (
    DEFAULT_VOLTAGE,
    MIN_CHARGING_CURRENT,
    UNIT_A,
    UNIT_W,
    limit_in,
    measured_voltage,
    phases_in_use,
)
from .engine.state import ChargingLimit
from .entity import OcppEntity, OcppEntityDescription
from .errors import invalid, translate_errors
from .plan_entities import TARGET_ENERGY, TargetEnergyNumber
from .ports import EntityHub
from .runtime import OcppConfigEntry
from .site import DEFAULT_PRIORITY, SiteManager
from .smart_charging import LimitController

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class OcppLimitDescription(NumberEntityDescription, OcppEntityDescription):
    """A limit number in one unit."""

    unit: str


_WATCH = frozenset({"limit", "limit_support", "configuration", "settings"})
CURRENT_LIMIT = OcppLimitDescription(
    key="current_limit",
    translation_key="current_limit",
    device_class=NumberDeviceClass.CURRENT,
    native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
    native_step=0.1,
    mode=NumberMode.BOX,
    unit=UNIT_A,
    watch=_WATCH,
)
POWER_LIMIT = OcppLimitDescription(
    key="power_limit",
    translation_key="power_limit",
    device_class=NumberDeviceClass.POWER,
    native_unit_of_measurement=UnitOfPower.WATT,
    native_step=1,
    mode=NumberMode.BOX,
    unit=UNIT_W,
    watch=_WATCH,
)


# Nominal supply voltages (phase to neutral) of the world's grids.
NOMINAL_VOLTAGES = (100.0, 110.0, 115.0, 120.0, 127.0, 200.0, 208.0, 220.0, 230.0, 240.0, 277.0)


def nominal_voltage(measured: float) -> float:
    """Return the nominal voltage nearest a measured one."""
    return min(NOMINAL_VOLTAGES, key=lambda nominal: abs(nominal - measured))


class OcppLimitNumber(OcppEntity, NumberEntity):
    """The charging limit of a charger (ChargePointMaxProfile) or connector (TxDefaultProfile)."""

    entity_description: OcppLimitDescription

    def __init__(
        self,
        hub: EntityHub,
        limits: LimitController,
        charge_point_id: str,
        connector_id: int,
        description: OcppLimitDescription,
    ) -> None:
        """Bind the number to its charger, connector and the entry's limits."""
        super().__init__(hub, charge_point_id, connector_id, description)
        self.limits = limits

    def _electrics(self) -> tuple[float, int]:
        charger = self.charger
        voltage = measured_voltage(charger, self.connector_id) or DEFAULT_VOLTAGE
        return voltage, phases_in_use(charger, self.connector_id, charger.phases)

    @property
    def available(self) -> bool:
        """Return False while disconnected or when the charger does not do smart charging."""
        return super().available and self.limits.supported(self.charge_point_id)

    @property
    def native_min_value(self) -> float:
        """Return 0: zero pauses charging."""
        return 0.0

    @property
    def native_max_value(self) -> float:
        """Return the charger's maximum current (a per-charger setting), in this unit.

        The bound is a capability, kept in the entity registry: a new value rewrites the entry.
        It uses the nominal voltage nearest the measured one, so that the mains' wobble
        (228-233 V) does not rewrite the registry at every state write.
        """
        voltage, phases = self._electrics()
        maximum = self.charger.max_current
        if self.entity_description.unit == UNIT_A:
            return maximum
        return round(maximum * nominal_voltage(voltage) * phases)

    @property
    def native_value(self) -> float:
        """Return the limit in force in this unit: the accepted one, else the charger's maximum.

        A connector without a limit of its own is held to the charger-wide limit, if one was set.
        """
        charger = self.charger
        limit = charger.limits.get(self.connector_id)
        if limit is None and self.connector_id > 0:
            limit = charger.limits.get(0)
        if limit is None:
            return self.native_max_value
        voltage, phases = self._electrics()
        return limit_in(limit, self.entity_description.unit, voltage, phases)

    async def async_added_to_hass(self) -> None:
        """Follow the charger-wide limit too: a connector without its own shows that one."""
        await super().async_added_to_hass()
        if self.connector_id > 0:
            self.hub.subscribe(self.charge_point_id, 0, self._charger_changed)

    async def async_will_remove_from_hass(self) -> None:
        """Stop following the charger-wide limit."""
        await super().async_will_remove_from_hass()
        self.hub.unsubscribe(self.charge_point_id, 0, self._charger_changed)

    @callback
    def _charger_changed(self, keys: frozenset[str]) -> None:
        if "limit" in keys and self.connector_id not in self.charger.limits:
            self.write_state()

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Say in which unit the charger got the limit, and how it was converted."""
        conversion = self.limits.conversions.get((self.charge_point_id, self.connector_id))
        if conversion is None:
            return None
        return {
            "sent_limit": conversion.value,
            "sent_unit": conversion.unit,
            "converted": conversion.converted,
            "voltage": round(conversion.voltage, 1),
            "phases": conversion.phases,
        }

    @translate_errors
    async def async_set_native_value(self, value: float) -> None:
        """Send the limit; 0 pauses, otherwise at least 6 A (or its power) and at most the maximum."""
        unit = self.entity_description.unit
        voltage, phases = self._electrics()
        amperes = value if unit == UNIT_A else value / (voltage * phases)
        if value != 0 and (amperes < MIN_CHARGING_CURRENT - 0.05 or amperes > self.charger.max_current + 0.05):
            raise invalid(
                "limit_out_of_range",
                value=f"{value:g}",
                unit=unit,
                minimum=f"{MIN_CHARGING_CURRENT:g} A",
                maximum=f"{self.charger.max_current:g} A",
            )
        limit = ChargingLimit(round(value, 1) if unit == UNIT_A else round(value), unit)
        await self.limits.async_set(self.charge_point_id, self.connector_id, limit)


@dataclass(frozen=True, kw_only=True)
class OcppNumberDescription(NumberEntityDescription, OcppEntityDescription):
    """A number of an ocpp_cs connector."""


CHARGING_PRIORITY = OcppNumberDescription(
    key="charging_priority",
    translation_key="charging_priority",
    # A setting of Home Assistant's, not of the charger: it can be changed while it is away.
    always_available=True,
)


class ChargingPriorityNumber(OcppEntity, NumberEntity, RestoreEntity):
    """A connector's priority with the site controller: higher is served first, equal ones share."""

    entity_description: OcppNumberDescription
    _attr_native_min_value = 0
    _attr_native_max_value = 10
    _attr_native_step = 1
    _attr_mode = NumberMode.SLIDER

    def __init__(self, hub: EntityHub, site: SiteManager, charge_point_id: str, connector_id: int) -> None:
        """Bind the number to its connector and the entry's site controller."""
        super().__init__(hub, charge_point_id, connector_id, CHARGING_PRIORITY)
        self.site = site

    async def async_added_to_hass(self) -> None:
        """Take the priority it had before the restart."""
        await super().async_added_to_hass()
        last = await self.async_get_last_state()
        if last is None:
            return
        try:
            priority = round(float(last.state))
        except ValueError:
            return
        if 0 <= priority <= 10 and priority != DEFAULT_PRIORITY:
            self.site.set_priority(self.charge_point_id, self.connector_id, priority)

    @property
    def native_value(self) -> float:
        """Return the connector's priority."""
        return float(self.site.priority(self.charge_point_id, self.connector_id))

    async def async_set_native_value(self, value: float) -> None:
        """Set the priority (0-10)."""
        self.site.set_priority(self.charge_point_id, self.connector_id, round(value))
        self.write_state()


def build_numbers(limits: LimitController, site: SiteManager, hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the limit numbers (and a connector's charging priority) for what appeared."""
    if new.meter_keys:
        return
    for description in (CURRENT_LIMIT, POWER_LIMIT):
        yield OcppLimitNumber(hub, limits, new.charge_point_id, new.connector_id, description)
    if new.connector_id > 0:
        yield ChargingPriorityNumber(hub, site, new.charge_point_id, new.connector_id)
        yield TargetEnergyNumber(hub, site, new.charge_point_id, new.connector_id, TARGET_ENERGY)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the limit numbers now and for chargers and connectors that appear later."""
    runtime = entry.runtime_data
    runtime.hub.register_platform(partial(build_numbers, runtime.limits, runtime.site), async_add_entities)
