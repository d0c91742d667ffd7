"""A small site for the controller's tests: house load, sun, and chargers that follow at once."""

from __future__ import annotations

from dataclasses import replace

from custom_components.ocpp_cs.engine.site import (
    ConnectorDecision,
    ConnectorInput,
    GridReading,
    Mode,
    SentLimit,
    SiteConfig,
    SiteController,
    SiteDecision,
)

VOLTAGE = 230.0


def connector(name: str, mode: Mode, **changes: object) -> ConnectorInput:
    """Return connector 1 of charger `name` in a mode (other fields as given)."""
    return replace(ConnectorInput(charge_point_id=name, connector_id=1, mode=mode), **changes)  # type: ignore[arg-type]


class Site:
    """A site whose chargers draw exactly the limit they last accepted, reporting it per phase.

    `reports=False` chargers send no MeterValues (the controller then assumes the last limit).
    """

    def __init__(self, config: SiteConfig, *connectors: ConnectorInput, reports: bool = True) -> None:
        self.controller = SiteController(config)
        self.config = config
        self.connectors = {c.key: c for c in connectors}
        self.reports = reports
        self.house = [0.0] * config.site_phases  # A per phase, manual chargers included
        self.solar = 0.0  # W produced, spread evenly over the phases
        self.now = 0.0
        self.sent: list[tuple[float, ConnectorDecision]] = []
        self.power_only = False
        self.grid_at: float | None = None  # when set, the grid sensor's timestamp is frozen here

    def draw(self, key: tuple[str, int]) -> list[float]:
        """Return what a connector draws per site phase (its last accepted limit, if a car is in)."""
        found = self.connectors[key]
        draw = [0.0] * self.config.site_phases
        if found.sent is None or not found.vehicle_connected or not found.steered:
            return draw
        for index in self.controller.phase_indices(found, found.sent.phases):
            draw[index] += found.sent.limit
        return draw

    def grid_currents(self) -> list[float]:
        """Return the grid current per phase: house + chargers - sun."""
        phases = self.config.site_phases
        sun = self.solar / VOLTAGE / phases
        return [round(self.house[p] + sum(self.draw(k)[p] for k in self.connectors) - sun, 3) for p in range(phases)]

    def grid(self) -> GridReading:
        """Return the grid sensor's reading now."""
        at = self.now if self.grid_at is None else self.grid_at
        currents = self.grid_currents()
        if self.power_only:
            return GridReading(at=at, power=sum(currents) * VOLTAGE)
        return GridReading(at=at, currents=tuple(currents))

    def set(self, name: str, **changes: object) -> None:
        """Change a connector's settings (mode, priority, ...)."""
        key = (name, 1)
        self.connectors[key] = replace(self.connectors[key], **changes)  # type: ignore[arg-type]

    def step(self, seconds: float = 1.0, grid: GridReading | bool = True) -> SiteDecision:
        """Let time pass, run the controller once, and have the chargers accept what it sent."""
        self.now += seconds
        inputs = []
        for key, found in self.connectors.items():
            measured = None
            if self.reports and found.sent is not None:
                wired = self.controller.wired(found)
                per_phase = self.draw(key)
                measured = tuple(per_phase[p - 1] for p in wired)
            inputs.append(replace(found, measured_current=measured))
        reading = self.grid() if grid is True else (None if grid is False else grid)
        result = self.controller.step(self.now, reading, inputs)  # type: ignore[arg-type]
        for decision in result.decisions:
            found = self.connectors[decision.key]
            sent = SentLimit(limit=decision.limit, phases=decision.phases, at=self.now)
            self.connectors[decision.key] = replace(found, sent=sent)
            self.sent.append((self.now, decision))
        return result

    def run(self, seconds: int) -> list[SiteDecision]:
        """Step once a second for `seconds`."""
        return [self.step() for _ in range(seconds)]

    def limit(self, name: str) -> float | None:
        """Return the limit a charger holds now (None: never sent one)."""
        sent = self.connectors[(name, 1)].sent
        return sent.limit if sent is not None else None

    def phases(self, name: str) -> int | None:
        """Return the phases a charger was last sent."""
        sent = self.connectors[(name, 1)].sent
        return sent.phases if sent is not None else None
