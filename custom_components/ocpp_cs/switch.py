"""Switches: `charging` (remote start/stop) and `available` (ChangeAvailability).

Their state is what the charger reports (transactions and status), never an optimistic
guess: a command that the charger accepts shows once the charger acts on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import commands
from .devices import NewEntities
from .entity import OcppEntity, OcppEntityDescription
from .errors import translate_errors
from .ports import EntityHub
from .runtime import OcppConfigEntry

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class OcppSwitchDescription(SwitchEntityDescription, OcppEntityDescription):
    """A switch of a charger or connector."""


CHARGING = OcppSwitchDescription(
    key="charging", translation_key="charging", watch=frozenset({"transaction", "status"})
)
AVAILABLE = OcppSwitchDescription(
    key="available", translation_key="available", watch=frozenset({"status", "availability"})
)


class ChargingSwitch(OcppEntity, SwitchEntity):
    """On while a transaction runs on the connector; turning it on/off starts/stops one remotely."""

    entity_description: OcppSwitchDescription

    @property
    def is_on(self) -> bool:
        """Return True while a transaction is open on the connector."""
        return self.connector.transaction is not None

    @translate_errors
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Send RemoteStartTransaction with the entry's remote id tag."""
        await commands.remote_start(self.hub, self.charge_point_id, self.connector_id)

    @translate_errors
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Send RemoteStopTransaction for the running transaction."""
        transaction = self.connector.transaction
        if transaction is None:
            return
        await commands.remote_stop(self.hub, self.charge_point_id, transaction.transaction_id)


class AvailableSwitch(OcppEntity, SwitchEntity):
    """Operative/Inoperative (ChangeAvailability); follows the status the charger reports."""

    entity_description: OcppSwitchDescription

    @property
    def is_on(self) -> bool | None:
        """Return False while the charger reports the connector Unavailable."""
        status = self.connector.status
        if status is None:
            return None
        return status != "Unavailable"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Say whether a change was answered Scheduled and still waits for the transaction to end."""
        requested = self.hub.availability_scheduled.get((self.charge_point_id, self.connector_id))
        pending = requested is not None and requested != self.is_on
        return {"scheduled": pending, "requested": ("operative" if requested else "inoperative") if pending else None}

    async def _change(self, operative: bool) -> None:
        try:
            await commands.change_availability(self.hub, self.charge_point_id, self.connector_id, operative)
        except HomeAssistantError:
            self.write_state()
            raise

    @translate_errors
    async def async_turn_on(self, **kwargs: Any) -> None:
        """Make the connector operative."""
        await self._change(True)

    @translate_errors
    async def async_turn_off(self, **kwargs: Any) -> None:
        """Make the connector inoperative."""
        await self._change(False)


def build_switches(hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the switches for what appeared."""
    if new.meter_keys:
        return
    yield AvailableSwitch(hub, new.charge_point_id, new.connector_id, AVAILABLE)
    if new.connector_id > 0:
        yield ChargingSwitch(hub, new.charge_point_id, new.connector_id, CHARGING)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the switches now and for chargers and connectors that appear later."""
    entry.runtime_data.hub.register_platform(build_switches, async_add_entities)
