"""
The `plan` charging mode in Home Assistant (issue 18): charge in the cheapest hours by departure.

Per connector the `departure_time` (a time of day: the next one to come) and `target_energy`
(kWh this session) entities set what a plan must deliver; `PlanKeeper.steer` runs before each
site controller step (site.py) and turns every `plan` connector into a `fast` or `off` one with
engine/costs/plan.py's `Planner` and `steer_plan`, so the fuse and the priorities apply to it as
to any other. The forecast is the price sensor's (costs.py); without one it charges at once.
The current the site allows is the connector's maximum, or the last fuse-limited target. The
`plan_cost` sensor (plan_entities.py) shows the expected cost and the planned intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from homeassistant.util import dt as dt_util

from .costs import CostKeeper
from .engine.costs import Plan, PlanInput, Planner, steer_plan
from .engine.site import ConnectorInput, Mode, SiteDecision
from .ports import Hub

type Key = tuple[str, int]

DEFAULT_DEPARTURE = time(7, 0)
DEFAULT_TARGET_KWH = 20.0
VOLTAGE = 230.0


def next_departure(departure: time, now: datetime) -> datetime:
    """Return the next time the clock shows `departure` (local time), after `now`."""
    local = dt_util.as_local(now)
    moment = datetime.combine(local.date(), departure, tzinfo=local.tzinfo)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), departure, tzinfo=local.tzinfo)
    return dt_util.as_utc(moment)


class PlanKeeper:
    """One entry's plans: departures and targets as the entities set them, a Planner per plan connector."""

    def __init__(self, hub: Hub, costs: CostKeeper) -> None:
        """Bind to the hub (session energy) and the cost keeper (the forecast)."""
        self.hub = hub
        self.costs = costs
        # Set by the departure_time and target_energy entities (restored by them).
        self.departures: dict[Key, time] = {}
        self.targets: dict[Key, float] = {}
        self.plans: dict[Key, Plan] = {}
        # The plan_cost sensors, written when their connector's plan changes.
        self.sensors: dict[Key, Callable[[], None]] = {}
        self._planners: dict[Key, Planner] = {}

    def departure(self, key: Key) -> time:
        """Return a connector's departure time of day."""
        return self.departures.get(key, DEFAULT_DEPARTURE)

    def target(self, key: Key) -> float:
        """Return a connector's target energy in kWh."""
        return self.targets.get(key, DEFAULT_TARGET_KWH)

    def steer(
        self, connectors: list[ConnectorInput], now: datetime, decision: SiteDecision | None
    ) -> list[ConnectorInput]:
        """Return the controller's inputs with every `plan` connector made `fast` or `off` by its plan."""
        steered: list[ConnectorInput] = []
        planned: set[Key] = set()
        for connector in connectors:
            if connector.mode is not Mode.PLAN:
                steered.append(connector)
                continue
            key = connector.key
            planned.add(key)
            planner = self._planners.setdefault(key, Planner())
            plan = planner.update(self._input(connector, now, decision))
            if self.plans.get(key) is not plan:
                self.plans[key] = plan
                if (write := self.sensors.get(key)) is not None:
                    write()
            steered.append(steer_plan(connector, plan, now))
        for key in set(self._planners) - planned:
            # Out of plan mode: a plan that comes back starts afresh.
            del self._planners[key]
            self.plans.pop(key, None)
            if (write := self.sensors.get(key)) is not None:
                write()
        return steered

    def _input(self, connector: ConnectorInput, now: datetime, decision: SiteDecision | None) -> PlanInput:
        key = connector.key
        allowed, phases = connector.max_current, len(connector.wired_phases)
        target = decision.targets.get(key) if decision is not None else None
        if target is not None and target.fuse_limited and target.limit > 0:
            allowed, phases = min(allowed, target.limit), target.phases
        measured = connector.measured_current
        charger = self.hub.central.chargers.get(connector.charge_point_id)
        state = charger.connectors.get(connector.connector_id) if charger is not None else None
        transaction = state.transaction if state is not None else None
        delivered = (transaction.energy_wh() or 0.0) / 1000 if transaction is not None else 0.0
        return PlanInput(
            now=now,
            departure=next_departure(self.departure(key), now),
            target_energy_kwh=self.target(key),
            delivered_kwh=delivered,
            forecast=tuple(self.costs.forecast),
            allowed_current=allowed,
            phases=phases,
            voltage=VOLTAGE,
            measured_power_kw=sum(measured) * VOLTAGE / 1000 if measured else None,
        )
