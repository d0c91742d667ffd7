"""Sensors: status, errors, boot details, sessions and every measurand a charger reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, DiagnosticsStatus, FirmwareStatus, Reason
from ocpp.v201.enums import ReasonEnumType

from .cost_sensor import IdTagCostSensors, SessionCostSensor
from .costs import CostKeeper
from .devices import NewEntities
from .engine.energy import ENERGY, ENERGY_KEYS, charger_energy_wh
from .engine.state import ChargerState, ConnectorState
from .engine.util import snake
from .entity import OcppEntity, OcppEntityDescription
from .meter_sensor import MeterSensorDescription, OcppMeterSensor
from .plan_entities import PlanCostSensor
from .ports import EntityHub
from .runtime import OcppConfigEntry
from .site import SiteManager
from .site_sensor import site_sensors
from .smart_charging import LimitController

PARALLEL_UPDATES = 0

STATUS_OPTIONS = [snake(v.value) for v in ChargePointStatus]
ERROR_CODE_OPTIONS = [snake(v.value) for v in ChargePointErrorCode]
FIRMWARE_STATUS_OPTIONS = [snake(v.value) for v in FirmwareStatus]
DIAGNOSTICS_STATUS_OPTIONS = [snake(v.value) for v in DiagnosticsStatus]
# 1.6's stop reasons, then 2.0.1's others (its ImmediateReset is recorded as 1.6's HardReset), and
# `reconstructed`: closed without its StopTransaction (engine/orphans.py).
STOP_REASON_OPTIONS = [
    *(snake(v.value) for v in Reason),
    *(
        snake(v.value)
        for v in ReasonEnumType
        if snake(v.value) not in {snake(r.value) for r in Reason} and v.value != "ImmediateReset"
    ),
    "reconstructed",
]

type ValueFn = Callable[[ChargerState, ConnectorState], StateType | datetime]


@dataclass(frozen=True, kw_only=True)
class OcppSensorDescription(SensorEntityDescription, OcppEntityDescription):
    """A sensor computed from a charger's and connector's state."""

    value_fn: ValueFn


def _enum(value: str | None, options: list[str]) -> str | None:
    if value is None:
        return None
    converted = snake(value)
    return converted if converted in options else None


def _status_descriptions() -> tuple[OcppSensorDescription, ...]:
    watch = frozenset({"status", "error_code", "info", "vendor_error_code"})
    return (
        OcppSensorDescription(
            key="status",
            translation_key="status",
            device_class=SensorDeviceClass.ENUM,
            options=STATUS_OPTIONS,
            watch=watch,
            value_fn=lambda _ch, co: _enum(co.status, STATUS_OPTIONS),
        ),
        OcppSensorDescription(
            key="error_code",
            translation_key="error_code",
            device_class=SensorDeviceClass.ENUM,
            options=ERROR_CODE_OPTIONS,
            watch=watch,
            value_fn=lambda _ch, co: _enum(co.error_code, ERROR_CODE_OPTIONS),
        ),
        OcppSensorDescription(
            key="info",
            translation_key="info",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            watch=watch,
            value_fn=lambda _ch, co: co.info,
        ),
        OcppSensorDescription(
            key="vendor_error_code",
            translation_key="vendor_error_code",
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
            watch=watch,
            value_fn=lambda _ch, co: co.vendor_error_code,
        ),
    )


def _boot(name: str) -> OcppSensorDescription:
    return OcppSensorDescription(
        key=name,
        translation_key=name,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        always_available=True,
        watch=frozenset({"boot"}),
        value_fn=lambda ch, _co: getattr(ch.boot, name),
    )


def _energy_description(value_fn: ValueFn) -> OcppSensorDescription:
    """
    Return the `energy` sensor: the energy of every session, for the Energy dashboard (engine/energy.py).

    Never going down, whatever the register does: Home Assistant's statistics count it exactly.
    """
    return OcppSensorDescription(
        key=ENERGY,
        translation_key=ENERGY,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        always_available=True,
        watch=ENERGY_KEYS,
        coalesce=ENERGY_KEYS,
        value_fn=value_fn,
    )


CHARGER_SENSORS: tuple[OcppSensorDescription, ...] = (
    *_status_descriptions(),
    _energy_description(lambda ch, _co: charger_energy_wh(ch)),
    OcppSensorDescription(
        key="last_heartbeat",
        translation_key="last_heartbeat",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        always_available=True,
        watch=frozenset({"last_seen"}),
        value_fn=lambda ch, _co: ch.last_seen,
    ),
    OcppSensorDescription(
        key="firmware_status",
        translation_key="firmware_status",
        device_class=SensorDeviceClass.ENUM,
        options=FIRMWARE_STATUS_OPTIONS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        watch=frozenset({"firmware_status"}),
        value_fn=lambda ch, _co: _enum(ch.firmware_status, FIRMWARE_STATUS_OPTIONS),
    ),
    OcppSensorDescription(
        key="diagnostics_status",
        translation_key="diagnostics_status",
        device_class=SensorDeviceClass.ENUM,
        options=DIAGNOSTICS_STATUS_OPTIONS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        watch=frozenset({"diagnostics_status"}),
        value_fn=lambda ch, _co: _enum(ch.diagnostics_status, DIAGNOSTICS_STATUS_OPTIONS),
    ),
    _boot("iccid"),
    _boot("imsi"),
    _boot("meter_serial_number"),
    _boot("meter_type"),
    OcppSensorDescription(
        key="ocpp_version",
        translation_key="ocpp_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        always_available=True,
        watch=frozenset({"ocpp_version"}),
        value_fn=lambda ch, _co: ch.ocpp_version,
    ),
)


def _session_energy(_charger: ChargerState, connector: ConnectorState) -> float | None:
    transaction = connector.current_or_last_transaction
    if transaction is None:
        return None
    energy = transaction.energy_wh()
    return None if energy is None else round(energy / 1000.0, 3)


def _stop_reason(_charger: ChargerState, connector: ConnectorState) -> str | None:
    # The last stopped session's reason, also while the next one runs: a start that turned it
    # "unknown" put "Stop reason became unknown" in the logbook at every session.
    transaction = connector.last_transaction
    if transaction is None or transaction.is_open:
        return None
    return _enum(transaction.reason or "Local", STOP_REASON_OPTIONS)


_TRANSACTION_WATCH = frozenset({"transaction", "session_energy"})
# What the running or last transaction's details follow (not every energy reading).
_TRANSACTION_DETAILS_WATCH = frozenset({"transaction", "session_start", "transaction_id", "id_tag", "stop_reason"})

CONNECTOR_SENSORS: tuple[OcppSensorDescription, ...] = (
    *_status_descriptions(),
    _energy_description(lambda _ch, co: co.energy_wh),
    OcppSensorDescription(
        key="session_energy",
        translation_key="session_energy",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        always_available=True,
        watch=_TRANSACTION_WATCH,
        coalesce=frozenset({"session_energy"}),
        value_fn=_session_energy,
    ),
    OcppSensorDescription(
        key="session_start",
        translation_key="session_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        always_available=True,
        watch=_TRANSACTION_DETAILS_WATCH,
        value_fn=lambda _ch, co: t.start if (t := co.current_or_last_transaction) else None,
    ),
    OcppSensorDescription(
        key="transaction_id",
        translation_key="transaction_id",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        always_available=True,
        watch=_TRANSACTION_DETAILS_WATCH,
        value_fn=lambda _ch, co: t.transaction_id if (t := co.current_or_last_transaction) else None,
    ),
    OcppSensorDescription(
        key="id_tag",
        translation_key="id_tag",
        always_available=True,
        watch=_TRANSACTION_DETAILS_WATCH,
        value_fn=lambda _ch, co: t.id_tag if (t := co.current_or_last_transaction) else None,
    ),
    OcppSensorDescription(
        key="stop_reason",
        translation_key="stop_reason",
        device_class=SensorDeviceClass.ENUM,
        options=STOP_REASON_OPTIONS,
        always_available=True,
        watch=_TRANSACTION_DETAILS_WATCH,
        value_fn=_stop_reason,
    ),
)


class OcppSensor(OcppEntity, SensorEntity):
    """A sensor described by an OcppSensorDescription."""

    entity_description: OcppSensorDescription
    _skip_unchanged_writes = True

    @property
    def native_value(self) -> StateType | datetime:
        """Return the value from the charger's state."""
        return self.entity_description.value_fn(self.charger, self.connector)


COMPOSITE_LIMIT = MeterSensorDescription(
    key="composite_limit",
    translation_key="composite_limit",
    device_class=SensorDeviceClass.CURRENT,
    state_class=SensorStateClass.MEASUREMENT,
    native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
    suggested_display_precision=1,
    always_available=False,
    watch=frozenset({"composite_limit"}),
)


class CompositeLimitSensor(OcppEntity, SensorEntity):
    """The connector's composite schedule limit now in A, read back from the charger after changes."""

    entity_description: MeterSensorDescription

    def __init__(self, hub: EntityHub, limits: LimitController, charge_point_id: str, connector_id: int) -> None:
        """Bind the sensor to its connector and the entry's limits."""
        super().__init__(hub, charge_point_id, connector_id, COMPOSITE_LIMIT)
        self.limits = limits

    @property
    def native_value(self) -> float | None:
        """Return the limit in force now, in amperes."""
        found = self.limits.composite.get((self.charge_point_id, self.connector_id))
        return found.amperes if found else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the limit as the charger answered it (a limit in W is shown converted to A)."""
        found = self.limits.composite.get((self.charge_point_id, self.connector_id))
        return {"schedule_limit": found.limit, "schedule_unit": found.unit} if found else None


def build_sensors(
    limits: LimitController, costs: CostKeeper, site: SiteManager, hub: EntityHub, new: NewEntities
) -> Iterable[Entity]:
    """Return the sensors for what appeared."""
    charger = hub.central.chargers[new.charge_point_id]
    connector = charger.connector(new.connector_id)[0]
    if new.meter_keys:
        for key in new.meter_keys:
            reading = connector.meters.get(key)
            if reading is not None:
                yield OcppMeterSensor(hub, new.charge_point_id, new.connector_id, key, reading)
        return
    descriptions = CHARGER_SENSORS if new.connector_id == 0 else CONNECTOR_SENSORS
    for description in descriptions:
        yield OcppSensor(hub, new.charge_point_id, new.connector_id, description)
    if new.connector_id > 0:
        yield CompositeLimitSensor(hub, limits, new.charge_point_id, new.connector_id)
        if costs.enabled:
            yield SessionCostSensor(hub, costs, new.charge_point_id, new.connector_id)
        yield PlanCostSensor(hub, site, new.charge_point_id, new.connector_id)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add sensors now and whenever chargers, connectors or measurands appear."""
    runtime = entry.runtime_data
    build = partial(build_sensors, runtime.limits, runtime.costs, runtime.site)
    runtime.hub.register_platform(build, async_add_entities)
    runtime.history.attach_platform(async_add_entities)
    if runtime.costs.enabled:
        IdTagCostSensors(runtime.hub, runtime.costs, async_add_entities)
    async_add_entities(site_sensors(runtime.hub, runtime.site))
