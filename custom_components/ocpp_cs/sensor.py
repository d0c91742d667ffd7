"""Sensors: status, errors, boot details, sessions and every measurand a charger reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfElectricCurrent, UnitOfEnergy
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus, DiagnosticsStatus, FirmwareStatus, Reason

from .engine.energy import ENERGY, ENERGY_KEYS, charger_energy_wh
from .engine.meter import MeterReading, drop_key
from .engine.state import ChargerState, ConnectorState
from .engine.util import snake
from .entity import OcppEntity, OcppEntityDescription
from .history import async_setup_history_sensors
from .hub import NewEntities, OcppConfigEntry, OcppHub
from .meter_display import convert_scale, meter_presentation, unit_factor

PARALLEL_UPDATES = 0

STATUS_OPTIONS = [snake(v.value) for v in ChargePointStatus]
ERROR_CODE_OPTIONS = [snake(v.value) for v in ChargePointErrorCode]
FIRMWARE_STATUS_OPTIONS = [snake(v.value) for v in FirmwareStatus]
DIAGNOSTICS_STATUS_OPTIONS = [snake(v.value) for v in DiagnosticsStatus]
STOP_REASON_OPTIONS = [snake(v.value) for v in Reason]

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


# --- meter sensors ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription, OcppEntityDescription):
    """A measurand (and phase, location) of a connector."""


# Drops of one register sensor waiting to be written (one pair per coalescing spacing): a
# charger replaying a day of sessions after being offline. More are merged into the last
# (its statistics miss the energy between them; the `energy` sensor counts the sessions).
MAX_HELD_DROPS = 16


class OcppMeterSensor(OcppEntity, SensorEntity):
    """
    One measurand (and phase, location) of one connector; unit fixed at creation.

    The values on either side of a confirmed drop of the energy register (drop_key) are
    written at once, not coalesced, so that Home Assistant's statistics see the reset; at
    most one such pair per coalescing spacing (state_writes.py), outside the write budget.
    A drop that follows sooner is held: its two values are written in turn, one pair per
    spacing, before the sensor's newest value (the statistics see every reset, in order).
    """

    entity_description: MeterSensorDescription
    _skip_unchanged_writes = True
    # The reading's context changes with what triggered it (clock, periodic, transaction): each
    # change would be a new attributes row in the recorder's database.
    _unrecorded_attributes = frozenset({"context"})
    # Loop time before which a drop is held (a spacing after the last one written).
    _drops_held_until = float("-inf")
    # The value before a drop, when the drop's first half was announced; None: none.
    _drop_before: tuple[float | None, bool] | None = None
    # Held drops (value before, value after), in order.
    _held_drops: list[tuple[float | None, float | None]]
    # A held value being written (native_value returns it); None: the reading's.
    _writing_held: tuple[float | None] | None = None

    def __init__(self, hub: OcppHub, charge_point_id: str, connector_id: int, key: str, reading: MeterReading) -> None:
        """Create the sensor from the first reading of its key."""
        presentation = meter_presentation(reading.measurand, reading.unit)
        description = MeterSensorDescription(
            key=key, translation_key=key, watch=frozenset({key, drop_key(key)}), coalesce=frozenset({key})
        )
        super().__init__(hub, charge_point_id, connector_id, description)
        self._unit = reading.unit
        self._attr_device_class = presentation.device_class
        self._attr_state_class = presentation.state_class
        self._attr_native_unit_of_measurement = presentation.unit
        self._attr_suggested_unit_of_measurement = presentation.suggested_unit
        self._attr_suggested_display_precision = presentation.precision
        self._held_drops = []

    @callback
    def _handle_change(self, keys: frozenset[str]) -> None:
        """Write a drop's two values at once, or hold them when a drop was written within a spacing."""
        if drop_key(self.entity_description.key) not in keys:
            super()._handle_change(keys)
            return
        value = self.native_value
        if self._drop_before is None:  # the value before the drop
            now = self.hass.loop.time()
            at_once = not self._held_drops and now >= self._drops_held_until
            if at_once:
                self._drops_held_until = now + self.hub.state_writes.spacing
            self._drop_before = (value, at_once)
            if at_once:
                super()._handle_change(keys)
            return
        before, at_once = self._drop_before
        self._drop_before = None
        if at_once:
            super()._handle_change(keys)
            return
        if len(self._held_drops) >= MAX_HELD_DROPS:
            before = self._held_drops.pop()[0]
        self._held_drops.append((before, value))
        self.hub.state_writes.request(self)

    @callback
    def write_state_if_changed(self, *, force: bool = False) -> None:
        """Write the first held drop's values, if any (and ask for the next), else the newest value."""
        if self._held_drops:
            for value in self._held_drops.pop(0):
                self._writing_held = (value,)
                try:
                    self.write_state()
                finally:
                    self._writing_held = None
            self._drops_held_until = self.hass.loop.time() + self.hub.state_writes.spacing
            if self._held_drops:
                self.hub.state_writes.request(self)
                return
        super().write_state_if_changed(force=force)

    async def async_internal_added_to_hass(self) -> None:
        """Show a sensor registered before its unit was suggested (W) in whole units of its own."""
        entry = self.registry_entry
        if (
            entry is not None
            and self._attr_suggested_unit_of_measurement
            and "sensor.private" not in entry.options
            and "unit_of_measurement" not in entry.options.get("sensor", {})
        ):
            # Home Assistant keeps such a sensor in its unit (its history and statistics are in it);
            # 0.1 kW, in W, is no decimals at all.
            self._attr_suggested_unit_of_measurement = None
            self._attr_suggested_display_precision = 0
        await super().async_internal_added_to_hass()

    @property
    def native_value(self) -> float | None:
        """Return the newest reading in the sensor's unit (or a held drop's value being written)."""
        if self._writing_held is not None:
            return self._writing_held[0]
        reading = self.connector.meters.get(self.entity_description.key)
        if reading is None:
            return None
        return convert_scale(reading.value, reading.unit, self._unit) * unit_factor(self._unit)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the reading's context (which event triggered it); it rarely changes."""
        reading = self.connector.meters.get(self.entity_description.key)
        if reading is None or reading.context is None:
            return None
        return {"context": snake(reading.context)}


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

    @property
    def native_value(self) -> float | None:
        """Return the limit in force now, in amperes."""
        found = self.hub.limits.composite.get((self.charge_point_id, self.connector_id))
        return found.amperes if found else None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the limit as the charger answered it (a limit in W is shown converted to A)."""
        found = self.hub.limits.composite.get((self.charge_point_id, self.connector_id))
        return {"schedule_limit": found.limit, "schedule_unit": found.unit} if found else None


def build_sensors(hub: OcppHub, new: NewEntities) -> Iterable[Entity]:
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
        yield CompositeLimitSensor(hub, new.charge_point_id, new.connector_id, COMPOSITE_LIMIT)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add sensors now and whenever chargers, connectors or measurands appear."""
    entry.runtime_data.register_platform(build_sensors, async_add_entities)
    async_setup_history_sensors(entry.runtime_data, async_add_entities)
