"""What the glue's feature modules and entities may use of an entry's hub (hub.OcppHub).

Feature modules (commands, smart charging, local lists, reservations, history, ...) and the
entities are typed against these Protocols, not against the hub's class: they sit below the
hub in the import graph, so the hub never imports them back and nothing is filled in later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo

from .engine.central import CentralSystem
from .engine.server import CentralSystemServer, SecurityRequirement
from .engine.session import AnySession
from .state_writes import StateWrites

# Run for a charger of either OCPP version after an accepted boot, and as it connects.
type SessionHook = Callable[[AnySession], Awaitable[None]]
type ConnectedHook = SessionHook
type ChangeHook = Callable[[str, int, frozenset[str]], None]
type ChangeCallback = Callable[[frozenset[str]], None]


class Hub(Protocol):
    """The engine of one entry and the Home Assistant objects it runs with."""

    @property
    def hass(self) -> HomeAssistant:
        """Return Home Assistant."""

    @property
    def entry(self) -> ConfigEntry[Any]:
        """Return the config entry."""

    @property
    def central(self) -> CentralSystem:
        """Return the engine."""

    @property
    def on_accepted_boot(self) -> list[SessionHook]:
        """Return the work run after an accepted BootNotification."""

    @property
    def on_connected(self) -> list[ConnectedHook]:
        """Return the work run when a charger connects."""

    @property
    def on_change(self) -> list[ChangeHook]:
        """Return the callbacks of every change the engine announces."""

    @property
    def server(self) -> CentralSystemServer | None:
        """Return the WebSocket server, None before it started."""

    @property
    def boot_grace_seconds(self) -> float:
        """Return the seconds a charger has to boot after connecting before it is asked to."""

    @property
    def default_security_profile(self) -> int:
        """Return the security profile of chargers without one of their own."""

    def security_requirement(self, charge_point_id: str) -> SecurityRequirement:
        """Return the security profile a charger must connect with."""

    def meter_value_settings(self) -> dict[str, str]:
        """Return the MeterValue configuration keys the user wants set on every charger."""

    def set_availability_request(
        self, charge_point_id: str, connector_id: int, operative: bool, *, scheduled: bool
    ) -> None:
        """Remember a ChangeAvailability answered Scheduled."""

    def charger_changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Write the states of the entities that show what changed."""

    def entry_device_info(self) -> DeviceInfo:
        """Return the device that carries entry-wide entities."""


class EntityHub(Hub, Protocol):
    """What an entity of a charger needs: its device, its name and push updates."""

    @property
    def state_writes(self) -> StateWrites:
        """Return the coalesced state writes of meter sensors."""

    @property
    def availability_scheduled(self) -> dict[tuple[str, int], bool]:
        """Return the ChangeAvailability requests answered Scheduled."""

    def device_info(self, charge_point_id: str, connector_id: int) -> DeviceInfo:
        """Return the device of a charger or connector."""

    def translation_placeholders(self, charge_point_id: str, connector_id: int) -> dict[str, str]:
        """Return the name placeholders of a connector's entities."""

    def subscribe(self, charge_point_id: str, connector_id: int, callback_: ChangeCallback) -> None:
        """Call `callback_` with the changed keys of a charger's connector."""

    def unsubscribe(self, charge_point_id: str, connector_id: int, callback_: ChangeCallback) -> None:
        """Stop calling `callback_`."""
