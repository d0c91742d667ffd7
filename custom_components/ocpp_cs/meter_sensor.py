"""Meter sensors: one per measurand (and phase, location) a connector reports, created when first seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.core import callback

from .engine.meter import MeterReading, drop_key
from .engine.util import snake
from .entity import OcppEntity, OcppEntityDescription
from .meter_display import convert_scale, meter_presentation, unit_factor
from .ports import EntityHub


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

    def __init__(
        self, hub: EntityHub, charge_point_id: str, connector_id: int, key: str, reading: MeterReading
    ) -> None:
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


