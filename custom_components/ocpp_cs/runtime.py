"""An entry's runtime data: everything `async_setup_entry` builds, built once and complete."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .cost_display import CostDisplay
from .costs import CostKeeper
from .history import HistoryKeeper
from .hub import OcppHub
from .local_controller import LocalController
from .local_list import LocalListSync
from .reservations import ReservationTimers
from .site import SiteManager
from .smart_charging import LimitController


@dataclass(frozen=True, slots=True)
class OcppRuntime:
    """The parts of one central system; each gets from the others only what it was built with."""

    # The engine's adapter: listener, persistence, devices, entities and events.
    hub: OcppHub
    # Smart charging limits (numbers, set_charging_profile) and composite schedules.
    limits: LimitController
    # Local controller mode (upstream_url): relays chargers to an upstream central system.
    local_controller: LocalController
    # Keeps the chargers' local authorization lists in sync with the entry's id tags.
    local_lists: LocalListSync
    # Ends reservations at their expiry date.
    reservations: ReservationTimers
    # The transaction history and its per-id-tag energy sensors.
    history: HistoryKeeper
    # Site energy management: the fuse and the solar surplus shared among the chargers.
    site: SiteManager
    # What sessions cost (issue 18): the ledger fed with prices and readings, the cost sensors.
    costs: CostKeeper
    # Shows a stopped session's cost on the chargers that can (FinalCost DataTransfer).
    cost_display: CostDisplay

    async def async_stop(self) -> None:
        """Close every connection and the upstream links, then write the state."""
        self.site.stop()
        await self.hub.async_stop(after_server=self.local_controller.async_stop)


type OcppConfigEntry = ConfigEntry[OcppRuntime]
