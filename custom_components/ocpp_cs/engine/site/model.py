"""The site controller's inputs and outputs: plain dataclasses, no behaviour beyond derived values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Mode(StrEnum):
    """A connector's charging mode (the `charging_mode` select's options)."""

    MANUAL = "manual"  # left to the user's numbers and automations: never in the controller's output
    OFF = "off"  # paused
    FAST = "fast"  # as much as the fuse and the charger allow
    SOLAR = "solar"  # only surplus; pauses below the minimum
    MIN_SOLAR = "min_solar"  # the minimum at all times, plus surplus
    # In the cheapest hours by the departure (engine/costs/plan.py): the glue turns it into
    # `fast` or `off` before each step (`steer_plan`), so the controller never sees it.
    PLAN = "plan"


SOLAR_MODES = frozenset({Mode.SOLAR, Mode.MIN_SOLAR})


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    """The site's electrical limits and the controller's timing (the options' Site step, in SI units)."""

    main_fuse_current: float  # A per phase
    site_phases: int = 3  # 1 or 3
    fallback_current: float = 6.0  # A: what chargers hold when nobody steers them
    solar_start_delay: float = 60.0  # s of surplus >= the minimum before a solar connector starts
    solar_stop_delay: float = 300.0  # s below the minimum before it pauses
    margin: float = 1.0  # A per phase kept free under the fuse
    voltage: float = 230.0  # V phase to neutral, to turn W into A
    stale_after: float = 60.0  # s without a grid update before the fallback
    phase_switch_interval: float = 300.0  # s at least between two 1<->3 phase switches of a connector
    send_threshold: float = 0.5  # A: smaller changes are not sent (lowering for the fuse always is)
    # Changes that are not for the fuse wait this long after the connector's last send, so that
    # a cloudy sky does not become one SetChargingProfile every few seconds.
    min_change_interval: float = 60.0
    # A higher limit goes out only once the higher target has held this long: a load that cycles
    # (an oven's thermostat) then costs one lowering, not a lowering and a raise per cycle, and a
    # reading that has not yet caught up with a lowered charger cannot raise anything. Longer
    # than a charger takes to follow plus its MeterValues interval.
    raise_delay: float = 60.0
    # After a lowering for the fuse, raises wait this long: a house whose load or sun swings
    # around the fuse (clouds, a cooktop) would otherwise get a lowering and a raise each swing.
    fuse_hold: float = 300.0
    profile_ttl: float = 480.0  # s a steering profile stays valid on the charger
    refresh_before: float = 180.0  # s before it expires, it is sent again (every 5 minutes)

    def __post_init__(self) -> None:
        """Refuse values that would make every decision wrong."""
        if self.site_phases not in (1, 3):
            raise ValueError(f"site_phases must be 1 or 3, not {self.site_phases}")
        if self.main_fuse_current <= 0:
            raise ValueError("main_fuse_current must be positive")
        if self.refresh_before >= self.profile_ttl:
            raise ValueError("refresh_before must be shorter than profile_ttl")

    @property
    def refresh_interval(self) -> float:
        """Return how long after a send the same limit is sent again (before it expires)."""
        return self.profile_ttl - self.refresh_before


@dataclass(frozen=True, slots=True, kw_only=True)
class SentLimit:
    """The last limit a charger accepted from the controller (the glue records it after the answer)."""

    limit: float  # A per phase; 0 = paused
    phases: int  # phases it was sent for (numberPhases, or the wired phases when none was sent)
    at: float  # the controller's clock (the `now` of the decision it carried out)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorInput:
    """One connector as the glue sees it now: its settings, readings and what it was last sent."""

    charge_point_id: str
    connector_id: int
    mode: Mode = Mode.MANUAL
    priority: int = 5  # 0-10, higher is served first
    min_current: float = 6.0
    max_current: float = 32.0
    # The site phases (1..3) the charger's L1, L2, L3 are wired to: (1, 2, 3) for a three-phase
    # charger in the usual rotation, (2,) for a single-phase charger on the site's L2.
    wired_phases: tuple[int, ...] = (1, 2, 3)
    can_switch_phases: bool = False  # takes numberPhases 1 <-> 3 (its quirk profile says)
    # A per charger phase (L1, L2, L3 of the charger) from MeterValues; None when it reports
    # none (or none in the last `raise_delay` / 2 seconds: the last limit is then assumed).
    measured_current: tuple[float, ...] | None = None
    sent: SentLimit | None = None
    # False while no car is plugged in (status Available, Unavailable, Faulted): it gets nothing.
    vehicle_connected: bool = True

    @property
    def key(self) -> tuple[str, int]:
        """Return the connector's identity in the controller's outputs."""
        return (self.charge_point_id, self.connector_id)

    @property
    def steered(self) -> bool:
        """Return True when the controller decides this connector's limit."""
        return self.mode is not Mode.MANUAL


@dataclass(frozen=True, slots=True, kw_only=True)
class GridReading:
    """The grid connection's measurement: per-phase currents, or one power; positive = import."""

    at: float  # when the sensor last changed or reported (controller's clock)
    currents: tuple[float, ...] | None = None  # A, L1..L3 (one value on a single-phase site)
    power: float | None = None  # W (the glue converts kW)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What the controller wants a steered connector to hold now (sent or not)."""

    limit: float  # A per phase, 0 = pause
    phases: int  # phases to charge on
    fuse_limited: bool  # the fuse, not the mode or the charger, keeps it below what it wants


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorDecision:
    """A limit to send now: a SetChargingProfile (see site.profiles) for one connector."""

    charge_point_id: str
    connector_id: int
    limit: float  # A per phase, 0 = pause
    phases: int
    # numberPhases for the profile: set for chargers that switch phases (a profile without it
    # means three phases to the charger), None for the others.
    number_phases: int | None
    urgent: bool  # lowering for the fuse: send at once, ahead of anything else
    reason: str  # "fuse", "change", "start", "refresh", "fallback"

    @property
    def key(self) -> tuple[str, int]:
        """Return the connector's identity."""
        return (self.charge_point_id, self.connector_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteDecision:
    """One step's result: what to send, what each steered connector should hold, the site sensors."""

    decisions: tuple[ConnectorDecision, ...]  # urgent ones first
    targets: dict[tuple[str, int], Target] = field(default_factory=dict)
    grid_stale: bool = False  # no usable grid reading: fallback sent, the glue raises a repair issue
    headroom_current: float | None = None  # A: smallest per-phase (fuse - grid current) now
    surplus_power: float | None = None  # W available to solar modes (export + what they draw)
    charging_power: float = 0.0  # W the steered chargers draw now
