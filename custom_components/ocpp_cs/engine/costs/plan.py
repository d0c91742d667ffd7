"""The `plan` charging mode: charge in the cheapest intervals that deliver the target by departure.

`make_plan(PlanInput)` is pure: it clips the forecast to [now, departure), sorts the intervals
by price (earlier first on a tie, so that a flat price charges at once), and takes whole
intervals until the next one holds more than what is still needed; that last one is charged
from its start for as long as needed. Without a forecast covering [now, departure) it charges
at once: a missing forecast must never leave a car empty at departure.

`Planner` keeps the last plan and re-plans only when an input changes (the forecast, the
departure, the target, the current the site allows, the phases, or the car's rate by more than
`RATE_TOLERANCE`), or when a planned interval starts or ends (the energy still needed is then
taken from the meter, so a car that charged slower than planned gets more intervals).

How the site controller uses it (no change to `engine/site/` is needed for a first version):
the glue keeps one `Planner` per connector whose `charging_mode` select is `plan`, and before
each `SiteController.step` turns that connector's input into an ordinary one with
`steer_plan(connector_input, plan)`: `fast` while the plan says charge now, `off` otherwise.
The fuse and the priorities then apply to it as to any `fast` connector (the fuse always wins).
"The current the site allows" is the connector's `max_current` capped by the last
`SiteDecision.targets[key].limit` when that target was fuse-limited (else `max_current`), and
the phases are the `Target.phases` (else the charger's wired phases). The plan's intervals go
into the `departure_time` entity's attributes and `Plan.expected_cost` is `plan_cost`.
A native `Mode.PLAN` in `site.model` (with `admit` treating a planned-off connector as `off`)
would remove the mapping; the mapping keeps the controller untouched meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from ..site.model import ConnectorInput, Mode
from .accounting import CENT
from .prices import PriceInterval

RATE_TOLERANCE = 0.1  # a measured rate that moves by less than this share keeps the plan
DEFAULT_VOLTAGE = 230.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanInput:
    """Everything a plan depends on."""

    now: datetime
    departure: datetime
    target_energy_kwh: float  # what the car should have received by departure, this session
    delivered_kwh: float = 0.0  # what it has received so far this session
    forecast: Sequence[PriceInterval] = ()
    allowed_current: float = 16.0  # A per phase the site allows this connector
    phases: int = 3
    voltage: float = DEFAULT_VOLTAGE
    measured_power_kw: float | None = None  # the car's own rate when it is charging

    @property
    def rate_kw(self) -> float:
        """Return the charging rate: the car's measured rate, at most what the site allows."""
        allowed = self.phases * self.voltage * self.allowed_current / 1000
        if self.measured_power_kw is not None and self.measured_power_kw > 0:
            return min(self.measured_power_kw, allowed)
        return allowed

    @property
    def needed_kwh(self) -> float:
        """Return the energy still to deliver."""
        return max(0.0, self.target_energy_kwh - self.delivered_kwh)


@dataclass(frozen=True, slots=True)
class PlannedInterval:
    """A stretch of time to charge in, its price and the energy expected in it."""

    start: datetime
    end: datetime
    price: Decimal | None  # None when charging at once without a forecast
    energy_kwh: float

    def as_attribute(self) -> dict[str, object]:
        """Return the interval as an entity attribute entry."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "price": None if self.price is None else float(self.price),
            "energy": round(self.energy_kwh, 3),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """The chosen intervals, their expected cost, and whether the target can be met."""

    intervals: tuple[PlannedInterval, ...]
    expected_cost: Decimal | None  # to the cent; None without a forecast
    meets_target: bool
    reason: str  # "planned", "no_forecast", "short_forecast", "too_late", "done", "no_rate"
    boundaries: tuple[datetime, ...] = field(default=())  # when the plan must be looked at again

    def charge_at(self, moment: datetime) -> bool:
        """Return True when the plan charges at `moment`."""
        return any(interval.start <= moment < interval.end for interval in self.intervals)


def _at_once(plan_input: PlanInput, reason: str) -> Plan:
    """Charge from now until the target is met or the departure comes, at an unknown price."""
    hours = plan_input.needed_kwh / plan_input.rate_kw
    end = min(plan_input.departure, plan_input.now + timedelta(hours=hours))
    end = max(end, plan_input.now + timedelta(seconds=1))  # a departure already past: charge anyway
    energy = plan_input.rate_kw * (end - plan_input.now).total_seconds() / 3600
    interval = PlannedInterval(plan_input.now, end, None, min(energy, plan_input.needed_kwh))
    meets = energy >= plan_input.needed_kwh - 1e-9
    return Plan((interval,), None, meets, reason, (end,))


def _window(plan_input: PlanInput) -> tuple[list[PriceInterval], datetime]:
    """Return the forecast clipped to [now, departure) up to its first gap, and where it stops."""
    clipped = []
    cursor = plan_input.now
    for interval in sorted(plan_input.forecast, key=lambda interval: interval.start):
        start, end = max(interval.start, plan_input.now), min(interval.end, plan_input.departure)
        if end <= start:
            continue
        if start > cursor:
            break  # a gap: what follows has no known price before it
        clipped.append(PriceInterval(start, end, interval.price))
        cursor = end
    return clipped, cursor


def _choose(window: list[PriceInterval], rate_kw: float, needed: float) -> list[PlannedInterval]:
    chosen = []
    for interval in sorted(window, key=lambda interval: (interval.price, interval.start)):
        if needed <= 1e-9:
            break
        hours = (interval.end - interval.start).total_seconds() / 3600
        if rate_kw * hours <= needed:
            chosen.append(PlannedInterval(interval.start, interval.end, interval.price, rate_kw * hours))
            needed -= rate_kw * hours
        else:
            end = interval.start + timedelta(hours=needed / rate_kw)
            chosen.append(PlannedInterval(interval.start, end, interval.price, needed))
            needed = 0.0
    return sorted(chosen, key=lambda interval: interval.start)


def make_plan(plan_input: PlanInput) -> Plan:
    """Return the cheapest plan that delivers the needed energy by departure (see the module doc)."""
    if plan_input.needed_kwh <= 0:
        return Plan((), Decimal(0), True, "done")
    if plan_input.rate_kw <= 0:
        return Plan((), None, False, "no_rate")
    if plan_input.departure <= plan_input.now:
        return _at_once(plan_input, "too_late")
    window, covered_to = _window(plan_input)
    if not window:
        return _at_once(plan_input, "short_forecast" if plan_input.forecast else "no_forecast")
    capacity = sum((i.end - i.start).total_seconds() for i in window) / 3600 * plan_input.rate_kw
    if capacity >= plan_input.needed_kwh:
        intervals = _choose(window, plan_input.rate_kw, plan_input.needed_kwh)
        reason, meets = "planned", True
    elif covered_to < plan_input.departure:
        # The known prices cannot deliver the target and the rest are unknown (tomorrow's are
        # published in the afternoon): charge now rather than bet on them.
        return _at_once(plan_input, "short_forecast")
    else:
        # Not enough time even charging throughout: charge throughout, and say it falls short.
        intervals = _choose(window, plan_input.rate_kw, capacity)
        reason, meets = "too_late", False
    cost = sum((Decimal(str(i.energy_kwh)) * (i.price or Decimal(0)) for i in intervals), Decimal(0))
    cost = cost.quantize(CENT, rounding=ROUND_HALF_UP)  # an estimate: the `plan_cost` sensor shows cents
    edges = sorted({moment for i in intervals for moment in (i.start, i.end)})
    return Plan(tuple(intervals), cost, meets, reason, tuple(edges))


class Planner:
    """One connector's plan, re-planned only when its inputs change (see the module docstring)."""

    def __init__(self) -> None:
        """Start with no plan."""
        self._input: PlanInput | None = None
        self._plan: Plan | None = None
        self._measured: float | None = None

    def update(self, plan_input: PlanInput) -> Plan:
        """Return the plan for these inputs, re-planning when they changed or a boundary passed.

        A car that is not charging (paused by the plan) reports no rate: the rate it last
        charged at holds until it charges again, or the plan would flip between two rates.
        """
        if plan_input.measured_power_kw is not None and plan_input.measured_power_kw > 0:
            self._measured = plan_input.measured_power_kw
        elif self._measured is not None:
            plan_input = replace(plan_input, measured_power_kw=self._measured)
        if self._plan is None or self._input is None or _changed(self._input, self._plan, plan_input):
            self._input, self._plan = plan_input, make_plan(plan_input)
        return self._plan


def _changed(old: PlanInput, plan: Plan, new: PlanInput) -> bool:
    """Return True when `new` calls for a new plan (an input changed, or a planned interval began or ended)."""
    if any(old.now < boundary <= new.now for boundary in plan.boundaries):
        return True
    if (old.departure, old.target_energy_kwh, old.allowed_current, old.phases, old.voltage) != (
        new.departure,
        new.target_energy_kwh,
        new.allowed_current,
        new.phases,
        new.voltage,
    ):
        return True
    if tuple(old.forecast) != tuple(new.forecast):
        return True
    return abs(new.rate_kw - old.rate_kw) > RATE_TOLERANCE * max(old.rate_kw, 1e-9)


def steer_plan(connector: ConnectorInput, plan: Plan, now: datetime) -> ConnectorInput:
    """Return the controller's input for a `plan` connector: `fast` while the plan charges, else `off`."""
    return replace(connector, mode=Mode.FAST if plan.charge_at(now) else Mode.OFF)
