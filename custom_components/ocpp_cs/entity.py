"""The base entity: unique id, device, availability, push updates from the hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers.entity import Entity, EntityDescription

from .engine.state import ChargerState, ConnectorState

if TYPE_CHECKING:
    from .ports import EntityHub


@dataclass(frozen=True, kw_only=True)
class OcppEntityDescription(EntityDescription):
    """What every ocpp_cs entity description carries."""

    # Change keys (from the engine) after which this entity writes its state.
    watch: frozenset[str] = frozenset()
    # Shown while the charger is disconnected (last known values).
    always_available: bool = False
    # Change keys that, alone, are written at most once per StateWrites.interval
    # (state_writes.py): meter readings, which can arrive many times a second.
    coalesce: frozenset[str] = frozenset()


class OcppEntity(Entity):
    """An entity of one charger (connector 0) or one of its connectors."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: OcppEntityDescription
    # Entities whose state and attributes are all in `_written_fingerprint` set this: a change
    # that leaves them as they are is not written again (no state_reported, no recorder work).
    _skip_unchanged_writes = False
    _written_fingerprint: tuple[Any, ...] | None = None
    # Loop time of the last state write (StateWrites spaces the writes of coalescing entities).
    last_state_write = float("-inf")

    def __init__(
        self, hub: EntityHub, charge_point_id: str, connector_id: int, description: OcppEntityDescription
    ) -> None:
        """Bind the entity to its charger and connector."""
        self.hub = hub
        self.charge_point_id = charge_point_id
        self.connector_id = connector_id
        self.entity_description = description
        self._attr_unique_id = f"{charge_point_id}_{connector_id}_{description.key}"
        self._attr_device_info = hub.device_info(charge_point_id, connector_id)
        self._attr_translation_placeholders = hub.translation_placeholders(charge_point_id, connector_id)

    @property
    def charger(self) -> ChargerState:
        """Return the charger's state."""
        return self.hub.central.chargers[self.charge_point_id]

    @property
    def connector(self) -> ConnectorState:
        """Return the connector's state (connector 0 is the charger as a whole)."""
        return self.charger.connector(self.connector_id)[0]

    @property
    def available(self) -> bool:
        """Return True while the charger is connected (or for always-available entities)."""
        charger = self.hub.central.chargers.get(self.charge_point_id)
        if charger is None:
            return False
        return self.entity_description.always_available or charger.connected

    async def async_added_to_hass(self) -> None:
        """Subscribe to the charger's changes."""
        await super().async_added_to_hass()
        # No closures to undo it (dozens of entities per charger): see async_will_remove_from_hass.
        self.hub.subscribe(self.charge_point_id, self.connector_id, self._handle_change)
        if self.entity_description.coalesce:
            self.hub.state_writes.register(self)

    async def async_will_remove_from_hass(self) -> None:
        """Stop following the charger."""
        await super().async_will_remove_from_hass()
        self.hub.unsubscribe(self.charge_point_id, self.connector_id, self._handle_change)
        self.hub.state_writes.unregister(self)

    def _written_fingerprint_now(self) -> tuple[Any, ...]:
        return (self.available, self.state, self.extra_state_attributes)

    @callback
    def write_state(self) -> None:
        """Write the state, remembering what and when (`async_write_ha_state` is final)."""
        self.async_write_ha_state()
        self.last_state_write = self.hass.loop.time()
        if self._skip_unchanged_writes:
            self._written_fingerprint = self._written_fingerprint_now()

    @callback
    def write_state_if_changed(self, *, force: bool = False) -> None:
        """Write the state unless it is what was written last."""
        if (
            self._skip_unchanged_writes
            and not force
            and self._written_fingerprint is not None
            and self._written_fingerprint == self._written_fingerprint_now()
        ):
            return
        self.write_state()

    @callback
    def _handle_change(self, keys: frozenset[str]) -> None:
        if "connected" in keys or "placement" in keys or not keys.isdisjoint(self.entity_description.watch):
            if "placement" in keys:
                # The connector moved to a device of its own: drop the "Connector N" prefix.
                # `name` is a cached property computed from the placeholders; forget it.
                self._attr_translation_placeholders = self.hub.translation_placeholders(
                    self.charge_point_id, self.connector_id
                )
                self.__dict__.pop("name", None)
            description = self.entity_description
            if (
                description.coalesce
                and "connected" not in keys
                and "placement" not in keys
                and (keys & description.watch) <= description.coalesce
            ):
                self.hub.state_writes.request(self)
                return
            # Written now, with the newest value: a pending coalesced write is not needed.
            self.hub.state_writes.cancel(self)
            self.write_state_if_changed(force="placement" in keys)
