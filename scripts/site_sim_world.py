"""The simulated site of scripts/site_sim: sun, house loads, cars and chargers, second by second.

Deterministic for a seed. Nothing here knows the controller: site_sim.py drives either the real
SiteController or the blueprint's logic against the same world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import random

VOLTAGE = 230.0
FUSE = 25.0
DAY = 86400
MIN_CURRENT = 6.0


def hours(value: float) -> int:
    return int(value * 3600)


@dataclass
class Car:
    name: str
    charger: str
    arrive: int
    leave: int
    need_wh: float
    mode: str  # the connector's charging_mode while this car is plugged in
    priority: int = 5
    max_current: float = 16.0
    charged_wh: float = 0.0

    def present(self, t: int) -> bool:
        return self.arrive <= t < self.leave

    def wants(self) -> bool:
        return self.charged_wh < self.need_wh


@dataclass
class Charger:
    """A charger that applies a new limit some seconds after it gets it, in whole amperes."""

    name: str
    can_switch: bool
    rng: random.Random
    fallback: float = 6.0
    limit: float = 6.0  # what it applies now (A per phase)
    phases: int = 3
    expires: float | None = None  # when the applied steering profile runs out (None: never)
    pending: list[tuple[float, float, int, float | None]] = field(default_factory=list)
    draw: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    meter: tuple[float, ...] | None = None
    messages: list[int] = field(default_factory=list)  # when each SetChargingProfile was sent

    def command(self, t: int, limit: float, phases: int, ttl: float | None) -> None:
        """Receive a limit (a SetChargingProfile); it takes effect after the charger's delay."""
        self.messages.append(t)
        delay = self.rng.uniform(3.0, 8.0)
        self.pending.append((t + delay, limit, phases, None if ttl is None else t + ttl))

    def tick(self, t: int, car: Car | None) -> None:
        """Apply what is due, then draw for one second."""
        for item in [p for p in self.pending if p[0] <= t]:
            self.pending.remove(item)
            _, self.limit, self.phases, self.expires = item
        limit = self.limit
        if self.expires is not None and t >= self.expires:
            limit = self.fallback  # the steering profile ran out: the base profile holds
        amperes = math.floor(limit + 1e-9)  # 1 A steps
        self.draw = [0.0, 0.0, 0.0]
        if car is not None and car.present(t) and car.wants() and amperes >= MIN_CURRENT:
            amperes = min(amperes, car.max_current)
            for phase in range(self.phases):
                self.draw[phase] = float(amperes)
            car.charged_wh += sum(self.draw) * VOLTAGE / 3600
        if t % 10 == 0:  # MeterValues every 10 s
            self.meter = tuple(self.draw)


def sun_curve(t: int, peak: float) -> float:
    """Clear-sky production (W) of a summer day, 05:30 to 21:00."""
    start, end = hours(5.5), hours(21)
    if not start < t < end:
        return 0.0
    return peak * math.sin(math.pi * (t - start) / (end - start)) ** 1.3


def cloud_factors(rng: random.Random, cloudy: bool) -> list[float]:
    """Return the share of clear-sky sun per second: 1 all day, or passing clouds with soft edges."""
    if not cloudy:
        return [1.0] * DAY
    factors = []
    level, target = 0.8, 0.8
    t = 0
    while t < DAY:
        clear = rng.random() < 0.45
        target = rng.uniform(0.8, 1.0) if clear else rng.uniform(0.15, 0.4)
        length = int(rng.expovariate(1 / (150 if clear else 240))) + 20
        for _ in range(length):
            level += (target - level) * 0.08  # an edge takes about half a minute
            factors.append(level)
        t += length
    return factors[:DAY]


def _cycle(t: int, start: int, end: int, on: int, off: int) -> bool:
    return start <= t < end and (t - start) % (on + off) < on


def house_loads(rng: random.Random, cloudy: bool) -> list[tuple[float, float, float]]:
    """Return the house's current per phase (A) each second: base load and appliances."""
    base = [1.0, 1.2, 0.9]
    heat_on, heat_off = (2400, 1800) if cloudy else (1800, 3600)
    loads = []
    for t in range(DAY):
        if t % 60 == 0:
            base = [min(2.5, max(0.5, b + rng.uniform(-0.15, 0.15))) for b in base]
        l1, l2, l3 = base
        if _cycle(t, hours(0.3), DAY, heat_on, heat_off):  # heat pump, 3 x 4.5 A
            l1, l2, l3 = l1 + 4.5, l2 + 4.5, l3 + 4.5
        if _cycle(t, 0, DAY, 900, 1800):  # fridge
            l2 += 0.6
        for start in (hours(12), hours(18.5)):  # oven on L1 + L2: preheat, then its thermostat
            if start <= t < start + 600 or _cycle(t, start + 600, start + 3000, 60, 60):
                l1, l2 = l1 + 7.6, l2 + 7.6
        if _cycle(t, hours(18), hours(18.75), 90, 40):  # cooktop on L1 and L3
            l1, l3 = l1 + 8.7, l3 + 8.7
        for start in (hours(7.2), hours(15.5)):  # kettle on L3
            if start <= t < start + 180:
                l3 += 8.7
        for start in (hours(10), hours(13.2), hours(20)):  # washing machine / dishwasher heaters on L3
            if start <= t < start + 900:
                l3 += 8.7
        loads.append((l1, l2, l3))
    return loads


def cars() -> list[Car]:
    """Three cars: one all day on the sun, one for a midday visit, one for the evening."""
    return [
        Car("A", "cp1", hours(8), hours(17.5), need_wh=60000, mode="solar"),
        Car("B", "cp2", hours(10.5), hours(14.5), need_wh=20000, mode="min_solar"),
        Car("C", "cp2", hours(17.75), DAY, need_wh=30000, mode="fast", priority=7),
    ]


@dataclass
class World:
    """One simulated day."""

    name: str
    sun: list[float]
    house: list[tuple[float, float, float]]

    @classmethod
    def make(cls, name: str, seed: int, cloudy: bool) -> World:
        rng = random.Random(seed)
        factors = cloud_factors(rng, cloudy)
        peak = 8500.0
        sun = [sun_curve(t, peak) * factors[t] for t in range(DAY)]
        return cls(name, sun, house_loads(rng, cloudy))
