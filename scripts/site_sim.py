"""Simulate a day of site energy management: the real SiteController against the blueprint's logic.

Run through scripts/site_sim. Two days (sunny, cloudy) of one house on a 25 A fuse with a 10 kWp
roof, house-load spikes (oven, cooktop, kettle, heat pump) and three cars on two chargers; the
chargers apply a new limit 3-8 s after they get it, in whole amperes, and report MeterValues every
10 s; the grid meter updates every 2 s. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass, field
import json
from pathlib import Path
import random
import statistics
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from site_sim_world import DAY, FUSE, VOLTAGE, Car, Charger, World, cars

from custom_components.ocpp_cs.engine.site import (
    ConnectorInput,
    GridReading,
    Mode,
    SentLimit,
    SiteConfig,
    SiteController,
)

SENSOR_PERIOD = 2  # s between grid meter updates
MAX_FOLLOW = 8  # s a charger takes at most to apply a limit
# The load rise the chargers cannot have answered yet: the sensor's period, the 1 s reaction,
# the charger's delay and the second in which it happens.
REACTION_WINDOW = SENSOR_PERIOD + 1 + MAX_FOLLOW + 1
CONFIG = SiteConfig(main_fuse_current=FUSE, margin=1.0, fallback_current=6.0)
BLUEPRINT_MIN_W, BLUEPRINT_MAX_W, BLUEPRINT_HYSTERESIS_W = 4140.0, 11040.0, 300.0


def present_car(charger: str, car_list: list[Car], t: int) -> Car | None:
    return next((car for car in car_list if car.charger == charger and car.present(t)), None)


class ControllerStrategy:
    """The real SiteController, its decisions sent as expiring profiles over a base profile."""

    name = "site controller"

    def __init__(self) -> None:
        self.controller = SiteController(CONFIG)
        self.sent: dict[str, SentLimit] = {}
        self.modes: dict[str, Mode] = {}
        self.step_seconds: list[float] = []

    def sensor(self, t: int, grid: list[float], chargers: dict[str, Charger], car_list: list[Car]) -> None:
        inputs = []
        for name, charger in chargers.items():
            car = present_car(name, car_list, t)
            if car is not None:
                self.modes[name] = Mode(car.mode)
            if name not in self.modes:
                self.modes[name] = Mode.SOLAR
                charger.messages.append(t)  # the base profile with the fallback current, once
            inputs.append(
                ConnectorInput(
                    charge_point_id=name,
                    connector_id=1,
                    mode=self.modes[name],
                    priority=car.priority if car else 5,
                    max_current=16.0,
                    can_switch_phases=charger.can_switch,
                    measured_current=charger.meter,
                    sent=self.sent.get(name),
                    vehicle_connected=car is not None,
                )
            )
        started = time.perf_counter()
        result = self.controller.step(float(t), GridReading(at=float(t), currents=tuple(grid)), inputs)
        self.step_seconds.append(time.perf_counter() - started)
        for decision in result.decisions:
            chargers[decision.charge_point_id].command(t, decision.limit, decision.phases, CONFIG.profile_ttl)
            self.sent[decision.charge_point_id] = SentLimit(limit=decision.limit, phases=decision.phases, at=t)


class BlueprintStrategy:
    """blueprints/automation/ocpp_cs/solar_surplus.yaml on each solar car's charger, fixed 16 A for fast.

    Its surplus sensor is "grid export plus what the car draws now" (the blueprint's own example),
    updated with the grid meter; its power_limit goes to the charger as A over three phases.
    """

    name = "blueprint"

    def __init__(self) -> None:
        self.current: dict[tuple[str, str], float] = {}
        self.step_seconds: list[float] = []

    def sensor(self, t: int, grid: list[float], chargers: dict[str, Charger], car_list: list[Car]) -> None:
        export = -sum(grid) * VOLTAGE
        for name, charger in chargers.items():
            car = present_car(name, car_list, t)
            if car is None:
                continue
            current = self.current.get((name, car.name))
            if car.mode == "fast":
                if current is None:
                    self.current[(name, car.name)] = 16.0 * 3 * VOLTAGE
                    charger.command(t, 16.0, 3, None)
                continue
            surplus = export + sum(charger.draw) * VOLTAGE
            available = min(surplus, BLUEPRINT_MAX_W)
            needed = BLUEPRINT_MIN_W + BLUEPRINT_HYSTERESIS_W if not current else BLUEPRINT_MIN_W
            target = float(round(available)) if available >= needed else 0.0
            if current is None or abs(target - current) >= BLUEPRINT_HYSTERESIS_W or (target == 0) != (current == 0):
                self.current[(name, car.name)] = target
                charger.command(t, round(target / (3 * VOLTAGE), 1), 3, None)


@dataclass
class Result:
    day: str
    strategy: str
    surplus_wh: float = 0.0
    solar_into_cars_wh: float = 0.0
    grid_for_solar_wh: float = 0.0
    over_fuse_as: float = 0.0  # A·s above the fuse that chargers carried, all of it
    caused_as: float = 0.0  # ... of it, what a load rise within the reaction window does not explain
    messages: dict[str, list[int]] = field(default_factory=dict)
    charged_kwh: dict[str, float] = field(default_factory=dict)
    step_p99_us: float = 0.0
    series: list[tuple[float, ...]] = field(default_factory=list)

    @property
    def share(self) -> float:
        return 100.0 * self.solar_into_cars_wh / self.surplus_wh if self.surplus_wh else 0.0

    def per_hour(self) -> tuple[float, int]:
        """Return SetChargingProfile messages per charger-hour: the mean over the day, the busiest hour."""
        counts = [sum(1 for t in times if t // 3600 == hour) for times in self.messages.values() for hour in range(24)]
        return statistics.fmean(counts), max(counts)


def simulate(world: World, strategy: ControllerStrategy | BlueprintStrategy, seed: int) -> Result:
    rng = random.Random(seed)
    chargers = {"cp1": Charger("cp1", True, rng), "cp2": Charger("cp2", False, rng)}
    car_list = cars()
    result = Result(world.name, strategy.name)
    recent = [deque(maxlen=REACTION_WINDOW) for _ in range(3)]
    for t in range(DAY):
        for name, charger in chargers.items():
            charger.tick(t, present_car(name, car_list, t))
        house, sun = world.house[t], world.sun[t]
        net = [house[p] - sun / VOLTAGE / 3 for p in range(3)]
        draws = [sum(c.draw[p] for c in chargers.values()) for p in range(3)]
        grid = [net[p] + draws[p] for p in range(3)]
        _account(
            result=result,
            t=t,
            world=world,
            chargers=chargers,
            car_list=car_list,
            net=net,
            draws=draws,
            grid=grid,
            recent=recent,
        )
        if t % SENSOR_PERIOD == 0:
            strategy.sensor(t, [round(g, 2) for g in grid], chargers, car_list)
    result.messages = {name: c.messages for name, c in chargers.items()}
    result.charged_kwh = {car.name: round(car.charged_wh / 1000, 1) for car in car_list}
    if strategy.step_seconds:
        result.step_p99_us = statistics.quantiles(strategy.step_seconds, n=100)[98] * 1e6
    return result


def _account(
    *,
    result: Result,
    t: int,
    world: World,
    chargers: dict[str, Charger],
    car_list: list[Car],
    net: list[float],
    draws: list[float],
    grid: list[float],
    recent: list[deque[float]],
) -> None:
    house_w = sum(world.house[t]) * VOLTAGE
    surplus = max(0.0, world.sun[t] - house_w)
    cars_w = sum(draws) * VOLTAGE
    if any(car.present(t) and car.wants() for car in car_list):
        result.surplus_wh += surplus / 3600
        result.solar_into_cars_wh += min(cars_w, surplus) / 3600
    solar_w = sum(
        sum(c.draw) * VOLTAGE
        for name, c in chargers.items()
        if (car := present_car(name, car_list, t)) is not None and car.mode == "solar"
    )
    result.grid_for_solar_wh += max(0.0, solar_w - surplus) / 3600
    for p in range(3):
        recent[p].append(net[p])
        over = grid[p] - FUSE
        if over > 0:
            carried = min(over, draws[p])
            result.over_fuse_as += carried
            unexplained = over - (net[p] - min(recent[p]))  # what a rise within the window explains
            result.caused_as += max(0.0, min(unexplained, draws[p]))
    if t % 30 == 0:
        result.series.append(
            (t / 3600, world.sun[t], house_w, *(sum(c.draw) * VOLTAGE for c in chargers.values()), *grid)
        )


def report(results: list[Result]) -> None:
    print(
        f"{'day':8} {'strategy':16} {'surplus kWh':>11} {'into cars':>9} {'share':>6} {'grid for solar kWh':>18} "
        f"{'A·s over fuse (all)':>19} {'A·s caused':>10} {'msg/charger-h':>13} {'busiest h':>9} {'step p99':>8}"
    )
    for r in results:
        mean, busiest = r.per_hour()
        print(
            f"{r.day:8} {r.strategy:16} {r.surplus_wh / 1000:11.1f} {r.solar_into_cars_wh / 1000:9.1f} "
            f"{r.share:5.1f}% {r.grid_for_solar_wh / 1000:18.2f} {r.over_fuse_as:19.0f} {r.caused_as:10.1f} "
            f"{mean:13.1f} {busiest:9d} {r.step_p99_us:6.0f}µs"
        )
    for r in results:
        print(f"  {r.day} {r.strategy}: charged kWh {r.charged_kwh}")


def plot(result: Result, baseline: Result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = [row[0] for row in result.series]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2))
    top.fill_between(hours, [row[1] / 1000 for row in result.series], color="gold", alpha=0.5, label="sun")
    top.plot(hours, [row[2] / 1000 for row in result.series], color="dimgray", lw=0.8, label="house")
    top.stackplot(
        hours,
        [row[3] / 1000 for row in result.series],
        [row[4] / 1000 for row in result.series],
        colors=("tab:green", "tab:blue"),
        alpha=0.7,
        labels=("charger cp1 (car A: solar)", "charger cp2 (car B: min_solar, car C: fast)"),
    )
    top.set_ylabel("kW")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(f"{result.day} day: site controller (surplus into cars {result.share:.0f}%)")
    for index, colour in enumerate(("tab:red", "tab:orange", "tab:purple")):
        bottom.plot(hours, [row[5 + index] for row in result.series], color=colour, lw=0.6, label=f"grid L{index + 1}")
    bottom.plot(
        hours,
        [max(row[5:8]) for row in baseline.series],
        color="black",
        lw=0.4,
        alpha=0.5,
        label="blueprint: max phase",
    )
    bottom.axhline(FUSE, color="red", ls="--", lw=1, label=f"fuse {FUSE:.0f} A")
    bottom.set_ylabel("A (import +)")
    bottom.set_xlabel("hour")
    bottom.set_xlim(0, 24)
    bottom.legend(loc="lower left", fontsize=8, ncol=5)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "site_sim.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    results = []
    for day, cloudy in (("sunny", False), ("cloudy", True)):
        world = World.make(day, args.seed + cloudy, cloudy)
        for strategy in (ControllerStrategy(), BlueprintStrategy()):
            results.append(simulate(world, strategy, args.seed))
    report(results)
    sunny = results[0]
    mean = max(r.per_hour()[0] for r in results if r.strategy == "site controller")
    ok = all(r.caused_as == 0 for r in results if r.strategy == "site controller") and sunny.share >= 90 and mean <= 30
    print(f"targets (0 A·s caused, >= 90% sunny, <= 30 msg/charger-h): {'met' if ok else 'NOT met'}")
    if args.json:
        figures = [
            {k: v for k, v in vars(r).items() if k not in ("series", "messages")}
            | {"per_hour": r.per_hour(), "share": r.share}
            for r in results
        ]
        args.json.write_text(json.dumps(figures, indent=1))
    if not args.no_plot:
        plot(sunny, results[1], args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
