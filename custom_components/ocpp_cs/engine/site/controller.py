"""The site controller: from a grid reading and the steered connectors to the limits to send.

Pure and synchronous: every call gets its `now` (seconds on any steady clock the caller keeps),
nothing reads the wall clock or waits. The glue calls `step` on every grid sensor update, every
MeterValues or status change of a steered connector, every settings change, and on a timer (every
few seconds) so that delays, stale readings and profile refreshes are noticed without updates.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
import math

from .allocate import EPSILON, Claim, admit, share
from .model import (
    SOLAR_MODES,
    ConnectorDecision,
    ConnectorInput,
    GridReading,
    Mode,
    SiteConfig,
    SiteDecision,
    Target,
)
from .profiles import refresh_due

type Key = tuple[str, int]


@dataclass(slots=True)
class _Memory:
    """What the controller remembers of a connector between steps: its timers and phases."""

    mode: Mode
    phases: int
    switched_at: float | None = None
    solar_active: bool = False
    fits_since: float | None = None  # surplus has given the minimum since
    short_since: float | None = None  # surplus has not given the minimum since
    wider_since: float | None = None  # surplus has given the minimum on all wired phases since
    narrower_since: float | None = None  # ... has not, since
    raise_since: float | None = None  # the target has been above the sent limit since
    fuse_lowered_at: float | None = None  # the last lowering for the fuse


@dataclass(frozen=True, slots=True)
class _Solar:
    """The solar step's result: surplus current per connector, and which got their minimum."""

    shares: dict[Hashable, float]
    fits: frozenset[Hashable]


def floor_tenth(value: float) -> float:
    """Return a current rounded down to 0.1 A (profiles take one decimal; down never exceeds)."""
    return math.floor(value * 10 + 1e-6) / 10


class SiteController:
    """Decides the limits of the steered connectors of one site (one config entry)."""

    def __init__(self, config: SiteConfig) -> None:
        """Start with no memory of any connector."""
        self.config = config
        self._memory: dict[Key, _Memory] = {}

    def wired(self, connector: ConnectorInput) -> tuple[int, ...]:
        """Return the site phases (1-based) a connector is wired to, as far as the site has them."""
        phases = tuple(p for p in connector.wired_phases if 1 <= p <= self.config.site_phases)
        return phases or (1,)

    def phase_indices(self, connector: ConnectorInput, count: int) -> list[int]:
        """Return the site phase indices (0-based) a connector uses when charging on `count` phases."""
        return [p - 1 for p in self.wired(connector)[:count]]

    def phases(self, connector: ConnectorInput) -> int:
        """Return the phases the controller has the connector charge on now."""
        memory = self._memory.get(connector.key)
        return memory.phases if memory is not None else self._initial_phases(connector)

    def step(self, now: float, grid: GridReading | None, connectors: Sequence[ConnectorInput]) -> SiteDecision:
        """Return what to send now, what every steered connector should hold, and the site's figures."""
        steered = [c for c in connectors if c.steered]
        self._remember(steered)
        draws = {c.key: self._draw(c) for c in steered}
        charging_power = sum(sum(d) for d in draws.values()) * self.config.voltage
        grid_currents = self._grid_currents(now, grid)
        if grid is None or grid_currents is None:
            targets = self._fallback_targets(steered)
            decisions = self._decide(now, steered, targets, stale=True, over_fuse=False)
            return SiteDecision(decisions=decisions, targets=targets, grid_stale=True, charging_power=charging_power)
        fuse = self.config.main_fuse_current
        budget = [
            fuse - self.config.margin - (grid_currents[p] - sum(d[p] for d in draws.values()))
            for p in range(self.config.site_phases)
        ]
        grid_power = grid.power if grid.power is not None else sum(grid_currents) * self.config.voltage
        solar_draw = sum(sum(draws[c.key]) for c in steered if c.mode in SOLAR_MODES) * self.config.voltage
        surplus = solar_draw - grid_power
        solar = self._solar(now, steered, surplus)
        targets = self._fuse_targets(steered, budget, solar)
        over_fuse = any(current > fuse for current in grid_currents)
        return SiteDecision(
            decisions=self._decide(now, steered, targets, stale=False, over_fuse=over_fuse),
            targets=targets,
            headroom_current=round(min(fuse - current for current in grid_currents), 2),
            surplus_power=round(max(0.0, surplus), 1),
            charging_power=round(charging_power, 1),
        )

    # Inputs -------------------------------------------------------------------------------

    def _initial_phases(self, connector: ConnectorInput) -> int:
        wired = len(self.wired(connector))
        if connector.sent is not None and 1 <= connector.sent.phases <= wired:
            return connector.sent.phases
        return wired

    def _remember(self, steered: Sequence[ConnectorInput]) -> None:
        """Keep memory of the steered connectors only; reset solar state where the mode changed."""
        keys = {c.key for c in steered}
        for key in [k for k in self._memory if k not in keys]:
            del self._memory[key]  # back to manual (or gone): it starts afresh when steered again
        for connector in steered:
            memory = self._memory.get(connector.key)
            if memory is None:
                # Mode MANUAL: it is entering its mode now.
                memory = self._memory[connector.key] = _Memory(Mode.MANUAL, self._initial_phases(connector))
            if memory.mode is not connector.mode or not connector.vehicle_connected:
                # A car that is charging when its mode becomes solar goes on (the stop delay
                # applies); any other starts only after the start delay.
                sent = connector.sent
                memory.solar_active = connector.vehicle_connected and sent is not None and sent.limit > 0
                memory.fits_since = memory.short_since = None
                memory.mode = connector.mode

    def _grid_currents(self, now: float, grid: GridReading | None) -> list[float] | None:
        """Return the grid current per site phase, None when the reading is missing or stale."""
        config = self.config
        if grid is None or now - grid.at > config.stale_after:
            return None
        if grid.currents is not None and len(grid.currents) >= config.site_phases:
            return [float(value) for value in grid.currents[: config.site_phases]]
        if grid.power is not None:
            # One power figure cannot say which phase carries the house load: spread evenly.
            return [grid.power / config.voltage / config.site_phases] * config.site_phases
        return None

    def _draw(self, connector: ConnectorInput) -> list[float]:
        """Return what a steered connector draws per site phase (A): measured, else its last limit.

        A reading taken before the charger followed a lower limit shows more than it draws now:
        the headroom then looks larger than it is until the next reading, which `raise_delay`
        outlasts, so it raises nothing.
        """
        draw = [0.0] * self.config.site_phases
        sent = connector.sent
        if connector.measured_current is not None:
            wired = self.wired(connector)
            for index, value in enumerate(connector.measured_current[: len(wired)]):
                draw[wired[index] - 1] += max(0.0, value)
        elif sent is not None:
            for index in self.phase_indices(connector, sent.phases):
                draw[index] += sent.limit
        return draw

    # Solar --------------------------------------------------------------------------------

    def _solar(self, now: float, steered: Sequence[ConnectorInput], surplus: float) -> _Solar:
        """Share the surplus among the solar modes; move their start/stop and phase timers."""
        config = self.config
        for connector in steered:
            if connector.mode not in SOLAR_MODES and connector.vehicle_connected:
                # Back on all wired phases (a switchable charger left on one phase by a solar mode)
                self._move_phases(now, connector, self._memory[connector.key], True)
        solar = [c for c in steered if c.mode in SOLAR_MODES and c.vehicle_connected]
        solar.sort(key=lambda c: (-c.priority, not self._memory[c.key].solar_active, c.key))
        left = [max(0.0, surplus)]
        admitted: list[Claim] = []
        for connector in solar:
            memory = self._memory[connector.key]
            minimum = connector.min_current * config.voltage
            self._move_phases(now, connector, memory, left[0] >= minimum * len(self.wired(connector)))
            claim = Claim(
                key=connector.key,
                priority=connector.priority,
                low=connector.min_current,
                high=max(connector.min_current, connector.max_current),
                uses=((0, config.voltage * memory.phases),),
            )
            admitted += admit([claim], left)
        shares = share(admitted, left)
        fits = frozenset(claim.key for claim in admitted)
        for connector in solar:
            if connector.mode is Mode.SOLAR:
                self._hysteresis(now, self._memory[connector.key], connector.key in fits)
        return _Solar(shares, fits)

    def _hysteresis(self, now: float, memory: _Memory, fits: bool) -> None:
        """Start after the minimum fits for the start delay; pause after it does not for the stop delay."""
        if fits:
            memory.short_since = None
            memory.fits_since = now if memory.fits_since is None else memory.fits_since
            if now - memory.fits_since >= self.config.solar_start_delay:
                memory.solar_active = True
        else:
            memory.fits_since = None
            memory.short_since = now if memory.short_since is None else memory.short_since
            if now - memory.short_since >= self.config.solar_stop_delay:
                memory.solar_active = False

    def _move_phases(self, now: float, connector: ConnectorInput, memory: _Memory, all_fit: bool) -> None:
        """Charge on all wired phases when the surplus gives their minimum, else on one (if it can).

        A switch waits out the start delay (up) or the stop delay (down) while the car charges,
        and comes at most once per `phase_switch_interval`.
        """
        wired = len(self.wired(connector))
        if not connector.can_switch_phases or wired == 1:
            memory.phases = wired
            return
        want = wired if all_fit or connector.mode not in SOLAR_MODES else 1
        if want == memory.phases:
            memory.wider_since = memory.narrower_since = None
            return
        charging = connector.mode is Mode.MIN_SOLAR or memory.solar_active
        if want > memory.phases:
            memory.narrower_since = None
            memory.wider_since = now if memory.wider_since is None else memory.wider_since
            waited = now - memory.wider_since >= (self.config.solar_start_delay if charging else 0)
        else:
            memory.wider_since = None
            memory.narrower_since = now if memory.narrower_since is None else memory.narrower_since
            waited = now - memory.narrower_since >= (self.config.solar_stop_delay if charging else 0)
        allowed = memory.switched_at is None or now - memory.switched_at >= self.config.phase_switch_interval
        if waited and allowed:
            memory.phases = want
            memory.switched_at = now
            memory.wider_since = memory.narrower_since = None

    # Fuse ---------------------------------------------------------------------------------

    def _claim(self, connector: ConnectorInput, solar: _Solar) -> Claim | None:
        """Return what a connector asks of the fuse headroom, None when it is to pause anyway."""
        memory = self._memory[connector.key]
        if connector.mode is Mode.OFF or not connector.vehicle_connected:
            return None
        if connector.mode is Mode.SOLAR and not memory.solar_active:
            return None
        low = connector.min_current
        high = max(low, connector.max_current)
        if connector.mode in SOLAR_MODES:
            high = min(high, max(low, solar.shares.get(connector.key, 0.0)))
        uses = tuple((index, 1.0) for index in self.phase_indices(connector, memory.phases))
        return Claim(key=connector.key, priority=connector.priority, low=low, high=high, uses=uses)

    def _fuse_targets(self, steered: Sequence[ConnectorInput], budget: list[float], solar: _Solar) -> dict[Key, Target]:
        """Give the fuse headroom out: minimums by priority (the lowest pause first), then the rest."""
        claims = {c.key: claim for c in steered if (claim := self._claim(c, solar)) is not None}
        charging = {c.key for c in steered if c.sent is not None and c.sent.limit > 0}
        order = sorted(claims.values(), key=lambda claim: (-claim.priority, claim.key not in charging, claim.key))
        left = list(budget)
        given = share(admit(order, left), left)
        targets = {}
        for connector in steered:
            phases = self._memory[connector.key].phases
            claim = claims.get(connector.key)
            if claim is None:
                targets[connector.key] = Target(limit=0.0, phases=phases, fuse_limited=False)
                continue
            amperes = given.get(connector.key)
            limit = floor_tenth(amperes) if amperes is not None else 0.0
            limited = amperes is None or amperes < claim.high - 0.05
            targets[connector.key] = Target(limit=limit, phases=phases, fuse_limited=limited)
        return targets

    def _fallback_targets(self, steered: Sequence[ConnectorInput]) -> dict[Key, Target]:
        """Without a usable grid reading: `fallback_current` for every steered connector but `off` ones."""
        targets = {}
        for connector in steered:
            limit = 0.0 if connector.mode is Mode.OFF else min(self.config.fallback_current, connector.max_current)
            targets[connector.key] = Target(
                limit=floor_tenth(limit), phases=self._memory[connector.key].phases, fuse_limited=False
            )
        return targets

    # Sending ------------------------------------------------------------------------------

    def _reason(
        self, now: float, connector: ConnectorInput, target: Target, over_fuse: bool
    ) -> tuple[str, bool] | None:
        """Return why a target must be sent now (and whether urgently), None to keep the sent limit."""
        config = self.config
        memory = self._memory[connector.key]
        sent = connector.sent
        if sent is None:
            return ("start", False)
        drop = sent.limit - target.limit
        memory.raise_since = (memory.raise_since or now) if drop < -EPSILON else None
        if target.fuse_limited and drop > EPSILON and (drop >= config.send_threshold - EPSILON or over_fuse):
            memory.fuse_lowered_at = now
            return ("fuse", True)
        if target.phases != sent.phases:
            return ("change", False)
        threshold = abs(drop) >= config.send_threshold - EPSILON and now - sent.at >= config.min_change_interval
        if drop > EPSILON and (target.limit == 0 or threshold):
            return ("change", False)
        if drop < -EPSILON and self._raise_allowed(now, memory, resume=sent.limit == 0, threshold=threshold):
            return ("change", False)
        if connector.vehicle_connected and refresh_due(config, sent.at, now):
            # Without a car the fallback may take over: the plug-in is a change, sent at once.
            return ("refresh", False)
        return None

    def _raise_allowed(self, now: float, memory: _Memory, *, resume: bool, threshold: bool) -> bool:
        """Return True when a higher limit may go out now.

        Not within `fuse_hold` of a lowering for the fuse. A paused connector resumes at once (a
        solar start has waited out its start delay already, a car just plugged in should start);
        any other raise needs the threshold and the higher target held for `raise_delay`.
        """
        config = self.config
        if memory.fuse_lowered_at is not None and now - memory.fuse_lowered_at < config.fuse_hold:
            return False
        if resume:
            return True
        return threshold and memory.raise_since is not None and now - memory.raise_since >= config.raise_delay

    def _decide(
        self, now: float, steered: Sequence[ConnectorInput], targets: dict[Key, Target], *, stale: bool, over_fuse: bool
    ) -> tuple[ConnectorDecision, ...]:
        """Turn targets into the limits to send now, urgent ones first."""
        decisions = []
        for connector in steered:
            target = targets[connector.key]
            found = self._reason(now, connector, target, over_fuse)
            if stale and connector.sent is not None and target.limit != connector.sent.limit:
                # Lowering to the fallback is for safety: at once, like the fuse.
                found = ("fallback", target.limit < connector.sent.limit)
            if found is None:
                continue
            reason, urgent = found
            limit = target.limit
            if reason == "refresh" and connector.sent is not None:
                # A refresh keeps what is in force (or less): a raise has its own rules.
                limit = min(limit, connector.sent.limit)
            if reason == "fuse" and limit > 0:
                # Down to whole amperes: the next small drop of a fading sun or a rising load is
                # then covered without another message (never below the minimum, though).
                limit = max(float(math.floor(limit)), min(limit, connector.min_current))
            switchable = connector.can_switch_phases and len(self.wired(connector)) > 1
            decisions.append(
                ConnectorDecision(
                    charge_point_id=connector.charge_point_id,
                    connector_id=connector.connector_id,
                    limit=limit,
                    phases=target.phases,
                    number_phases=target.phases if switchable else None,
                    urgent=urgent,
                    reason=reason,
                )
            )
        decisions.sort(key=lambda decision: not decision.urgent)
        return tuple(decisions)
