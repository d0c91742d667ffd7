"""Site energy management (issue 16): feeds engine/site's controller and carries out its decisions.

The controller (engine/site) decides; this module gives it what Home Assistant knows and sends
what it decides. Inputs: the grid sensors' states (every change and every report, so that a
fuse lowering goes out at the sensor update that shows it), the chargers' MeterValues, statuses
and settings (the hub's change hook), the `charging_mode` selects and `charging_priority`
numbers, and a timer (delays, stale readings and profile refreshes come due without updates).
Outputs: SetChargingProfile per decision (urgent ones first), the `site_grid_stale` repair issue
and the site sensors' values. Without a fuse and a grid measurement in the options it stays off
and sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, CoreState, Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_state_report_event,
    async_track_time_interval,
)
from homeassistant.util import dt as dt_util

from .const import (
    CONF_GRID_CURRENT_ENTITIES,
    CONF_GRID_POWER_ENTITY,
    DOMAIN,
)
from .engine.session import AnySession
from .engine.site import (
    ConnectorInput,
    GridReading,
    Mode,
    SiteConfig,
    SiteController,
    SiteDecision,
)
from .plans import PlanKeeper
from .ports import Hub
from .settings import entry_config
from .site_inputs import grid_entities, measured_current, sensor_number, site_config, watts
from .site_send import ProfileSender
from .smart_charging import LimitController

_LOGGER = logging.getLogger(__name__)

type Key = tuple[str, int]

# The timer: solar delays, stale readings and refreshes are noticed within this.
STEP_INTERVAL = timedelta(seconds=5)
DEFAULT_PRIORITY = 5
# A car is plugged in (OCPP 1.6 statuses between Preparing and Finishing).
PLUGGED_IN = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})
# Changes of a charger after which the controller looks again.
STEP_KEYS = frozenset({"status", "transaction", "connected", "settings", "configuration", "limit_support"})


def grid_stale_issue_id(entry_id: str) -> str:
    """Return the repair issue id of an entry whose grid sensor is stale or unavailable."""
    return f"site_grid_stale_{entry_id}"


class SiteManager:
    """One entry's site controller, fed from Home Assistant, its decisions sent to the chargers."""

    def __init__(self, hub: Hub, limits: LimitController, plans: PlanKeeper) -> None:
        """Bind to the hub, the limit path (the user's own limits come back through it) and the plans."""
        self.hub = hub
        self.plans = plans
        self.hass: HomeAssistant = hub.hass
        self.limits = limits
        # Set by the charging_mode selects and charging_priority numbers (restored by them).
        self.modes: dict[Key, Mode] = {}
        self.priorities: dict[Key, int] = {}
        self._steered: set[Key] = set()
        self.sender = ProfileSender(hub, limits, lambda key: key in self._steered)
        limits.steered_by = self.steered_by
        self.controller: SiteController | None = None
        self.decision: SiteDecision | None = None
        # Called after every step (the site sensors).
        self.listeners: list[Callable[[], None]] = []
        self._config: SiteConfig | None = None
        self._entities: list[str] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._grid_unsubscribe: list[CALLBACK_TYPE] = []
        self._step_soon: asyncio.Handle | None = None
        self._stale = False
        self._stopped = False

    # --- lifecycle -----------------------------------------------------------------------

    @callback
    def start(self) -> None:
        """Follow the chargers and the options' grid sensors; step on a timer."""
        self.hub.on_change.append(self._charger_changed)
        # First: whatever runs after a boot (the user's limits, a step) finds the charger's
        # site profiles forgotten, so the base profile goes out again.
        self.hub.on_accepted_boot.insert(0, self._booted)
        self._unsubscribe.append(
            async_track_time_interval(
                self.hass, self._tick, STEP_INTERVAL, name=f"{DOMAIN} site", cancel_on_shutdown=True
            )
        )
        self.apply_options()

    @callback
    def stop(self) -> None:
        """Stop following and sending (the entry unloads): the chargers fall back on their own."""
        self._stopped = True
        if self._booted in self.hub.on_accepted_boot:
            self.hub.on_accepted_boot.remove(self._booted)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._drop_grid_listeners()
        if self._step_soon is not None:
            self._step_soon.cancel()
        self.sender.stop()
        ir.async_delete_issue(self.hass, DOMAIN, grid_stale_issue_id(self.hub.entry.entry_id))

    @callback
    def apply_options(self) -> None:
        """Take the Site options as they are now (a new controller when they changed)."""
        config = entry_config(self.hub.entry)
        new = site_config(config)
        entities = grid_entities(config) if new is not None else []
        if new != self._config:
            self._config = new
            self.controller = SiteController(new) if new is not None else None
            self.sender.config = new
            self.decision = None
        if entities != self._entities:
            self._drop_grid_listeners()
            self._entities = entities
            if entities:
                self._grid_unsubscribe = [
                    async_track_state_change_event(self.hass, entities, self._grid_updated),
                    async_track_state_report_event(self.hass, entities, self._grid_updated),
                ]
        if new is None:
            self._set_stale(False)
        self.step()

    def _drop_grid_listeners(self) -> None:
        for unsubscribe in self._grid_unsubscribe:
            unsubscribe()
        self._grid_unsubscribe = []

    def diagnostics(self) -> dict[str, Any]:
        """Return what the controller works with and decided last (for the entry's diagnostics)."""
        decision = self.decision
        return {
            "enabled": self.controller is not None,
            "grid_stale": self._stale,
            "connectors": {
                f"{cp}/{connector}": {
                    "mode": mode.value,
                    "priority": self.priority(cp, connector),
                    "sent": asdict(sent) if (sent := self.sender.sent.get((cp, connector))) else None,
                    "target": asdict(target)
                    if decision is not None and (target := decision.targets.get((cp, connector)))
                    else None,
                }
                for (cp, connector), mode in sorted(self.modes.items())
            },
            "headroom_current": decision.headroom_current if decision else None,
            "surplus_power": decision.surplus_power if decision else None,
            "charging_power": decision.charging_power if decision else None,
        }

    # --- what the entities set ----------------------------------------------------------

    def mode(self, charge_point_id: str, connector_id: int) -> Mode:
        """Return a connector's charging mode (manual until set)."""
        return self.modes.get((charge_point_id, connector_id), Mode.MANUAL)

    def priority(self, charge_point_id: str, connector_id: int) -> int:
        """Return a connector's charging priority (5 until set)."""
        return self.priorities.get((charge_point_id, connector_id), DEFAULT_PRIORITY)

    def steered_by(self, charge_point_id: str, connector_id: int) -> str | None:
        """Return a connector's mode while the site controller steers it, else None.

        Steered: the site is on, the mode is not `manual` and the charger takes profiles.
        """
        mode = self.mode(charge_point_id, connector_id)
        if self.controller is None or mode is Mode.MANUAL or not self.limits.supported(charge_point_id):
            return None
        return mode.value

    @callback
    def set_mode(self, charge_point_id: str, connector_id: int, mode: Mode) -> None:
        """Set a connector's charging mode and decide again."""
        self.modes[(charge_point_id, connector_id)] = mode
        self.step()

    @callback
    def set_priority(self, charge_point_id: str, connector_id: int, priority: int) -> None:
        """Set a connector's charging priority (0-10) and decide again."""
        self.priorities[(charge_point_id, connector_id)] = priority
        self.step()

    # --- triggers ------------------------------------------------------------------------

    @callback
    def _grid_updated(self, event: Event[Any]) -> None:
        # At once, not soon: a lowering for the fuse goes out at the update that shows it.
        self.step()

    async def _booted(self, session: AnySession) -> None:
        # A charger that booted may have lost its profiles (and said nothing of it).
        self.sender.forget_charger(session.id)
        self.step()

    @callback
    def _tick(self, _now: datetime) -> None:
        self.step()

    @callback
    def _charger_changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        if "connected" in keys:
            charger = self.hub.central.chargers.get(charge_point_id)
            if charger is None or not charger.connected:
                self.sender.forget_charger(charge_point_id)
        if self.controller is None:
            return
        if not any(key[0] == charge_point_id for key in self._steered) and not any(
            key[0] == charge_point_id and mode is not Mode.MANUAL for key, mode in self.modes.items()
        ):
            return
        # A MeterValues with a dozen values announces several changes: one step for them.
        if self._step_soon is None and (keys & STEP_KEYS or any(key.startswith("current_import") for key in keys)):
            self._step_soon = self.hass.loop.call_soon(self._step_now)

    @callback
    def _step_now(self) -> None:
        self._step_soon = None
        self.step()

    # --- the step -------------------------------------------------------------------------

    @callback
    def step(self) -> None:
        """Decide with what is known now and send what the controller says."""
        if self._stopped:
            return
        controller = self.controller
        wall = dt_util.utcnow()
        connectors = self.plans.steer(self._inputs(wall), wall, self.decision) if controller is not None else []
        steered = {c.key for c in connectors if c.steered}
        for key in self._steered - steered:
            self.sender.release(key)
        self._steered = steered
        if controller is None:
            return
        decision = controller.step(wall.timestamp(), self._grid(), connectors)
        self.decision = decision
        self._set_stale(decision.grid_stale)
        for connector_decision in decision.decisions:
            self.sender.send(connector_decision, wall)
        for listener in self.listeners:
            listener()

    def _inputs(self, wall: datetime) -> list[ConnectorInput]:
        """Return every connector the controller steers now (of connected chargers that take profiles).

        From the modes set, not from every charger: a site of many chargers, few of them
        steered, costs a sensor update only those few.
        """
        inputs = []
        chargers = self.hub.central.chargers
        for key, mode in sorted(self.modes.items()):
            charge_point_id, connector_id = key
            charger = chargers.get(charge_point_id)
            connector = charger.connectors.get(connector_id) if charger is not None else None
            if mode is Mode.MANUAL or charger is None or connector is None:
                continue
            if not charger.accepted or not charger.connected or not self.limits.supported(charge_point_id):
                continue
            inputs.append(
                ConnectorInput(
                    charge_point_id=charge_point_id,
                    connector_id=connector_id,
                    mode=mode,
                    priority=self.priority(*key),
                    min_current=charger.min_current,
                    max_current=charger.max_current,
                    wired_phases=tuple(range(1, charger.phases + 1)),
                    can_switch_phases=charger.can_switch_phases,
                    measured_current=measured_current(charger, connector, wall),
                    sent=self.sender.sent.get(key),
                    vehicle_connected=connector.transaction is not None or connector.status in PLUGGED_IN,
                )
            )
        return inputs

    def _grid(self) -> GridReading | None:
        """Return the grid measurement from the sensors' states; None when one is unavailable."""
        config = entry_config(self.hub.entry)
        at = float("inf")
        currents: list[float] = []
        for entity_id in config.get(CONF_GRID_CURRENT_ENTITIES) or []:
            state = self.hass.states.get(entity_id)
            value = sensor_number(state)
            if state is None or value is None:
                return None
            currents.append(value)
            at = min(at, state.last_reported.timestamp())
        power: float | None = None
        if power_entity := config.get(CONF_GRID_POWER_ENTITY):
            state = self.hass.states.get(power_entity)
            value = sensor_number(state)
            if state is None or value is None:
                return None
            power = watts(state, value)
            at = min(at, state.last_reported.timestamp())
        if not currents and power is None:
            return None
        return GridReading(at=at, currents=tuple(currents) or None, power=power)

    @callback
    def _set_stale(self, stale: bool) -> None:
        """Raise the repair issue while the grid measurement is missing or old; clear it after."""
        if stale == self._stale or (stale and self.hass.state is not CoreState.running):
            # While Home Assistant starts, the grid sensors' integration may not have loaded yet:
            # the fallback goes out, the issue waits for a step after the start.
            return
        self._stale = stale
        issue_id = grid_stale_issue_id(self.hub.entry.entry_id)
        if not stale:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.ERROR,
            translation_key="site_grid_stale",
            translation_placeholders={
                "entities": ", ".join(self._entities),
                "fallback_current": f"{self._config.fallback_current:g}" if self._config else "",
            },
            data={"entry_id": self.hub.entry.entry_id},
        )
