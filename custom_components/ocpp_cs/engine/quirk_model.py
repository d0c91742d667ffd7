"""The shape of a quirk profile: what a charger does, how it is recognised, what we do about it.

The table itself is engine/quirks.py. This module has the types, the matching and the Markdown
of README's "Supported chargers" table, so that the table reads as data only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
import re


@dataclass(frozen=True, slots=True, kw_only=True)
class Quirks:
    """What this central system does differently for one charger; the defaults change nothing."""

    # Limits go out at stack level 0, whatever the entry's `limit_stack_level` option says.
    stack_level_zero: bool = False
    # A limit above 0 A and below this is raised to it (the charger ignores lower ones).
    min_current: float | None = None
    # Limits in A are rounded down to whole amperes (the charger ignores fractions).
    whole_amps: bool = False
    # The only rate unit its profiles take, for when it does not report
    # ChargingScheduleAllowedChargingRateUnit (a reported value is used first).
    rate_unit: str | None = None
    # ChargePointMaxProfile is refused or not applied: the charger-wide limit goes out as a
    # TxDefaultProfile on each connector (with the connector's own limit, when lower).
    charge_point_max_ignored: bool = False
    # Relative profiles are refused: the running transaction's TxProfile is Absolute too.
    absolute_profiles: bool = False
    # RemoteStartTransaction with a chargingProfile fails: the profile follows as a TxProfile
    # once the transaction has started.
    remote_start_without_profile: bool = False
    # The configuration key whose value a remote start without an id tag uses as its id tag.
    remote_id_tag_key: str | None = None
    # MeterValues and StopTransaction carry the charger's own transaction ids, not ours.
    own_transaction_ids: bool = False
    # The energy register it reports on connector 0 is not a meter reading: dropped.
    connector_zero_register_ignored: bool = False
    # The lowest MeterValueSampleInterval it takes (s); the entry's option is raised to it.
    min_meter_interval: int | None = None
    # Takes numberPhases 1 <-> 3 in a profile and switches (the site controller's solar modes).
    phase_switching: bool = False
    # Shows a session's cost on its display: FinalCost (engine/costs/display.py) goes out after
    # each stop, as for a charger whose CustomDisplayCostAndPrice key is true.
    cost_display: bool = False
    # Said with every refused limit: the charger setting that makes it refuse.
    refusal_hint: str | None = None

    def changed(self) -> tuple[str, ...]:
        """Return the names of the behaviours that differ from a charger without quirks."""
        default = Quirks()
        return tuple(f.name for f in fields(self) if getattr(self, f.name) != getattr(default, f.name))


NO_QUIRKS = Quirks()
QUIRK_FLAGS = tuple(f.name for f in fields(Quirks))


def _matches(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    return re.fullmatch(pattern, (value or "").strip(), re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """A BootNotification rule: each given pattern must match its field whole, ignoring case."""

    vendor: str | None = None
    model: str | None = None
    firmware: str | None = None

    def matches(self, vendor: str | None, model: str | None, firmware: str | None) -> bool:
        """Return True when every pattern given matches."""
        return _matches(self.vendor, vendor) and _matches(self.model, model) and _matches(self.firmware, firmware)

    def describe(self) -> str:
        """Return the rule for people: `vendor ~ Autel.*, model ~ ...`."""
        parts = [f"{name} `{pattern}`" for name, pattern in self._parts() if pattern is not None]
        return ", ".join(parts)

    def _parts(self) -> tuple[tuple[str, str | None], ...]:
        return (("vendor", self.vendor), ("model", self.model), ("firmware", self.firmware))


@dataclass(frozen=True, slots=True, kw_only=True)
class Boot:
    """A BootNotification such a charger sends (detection tests and the demo charger use it)."""

    vendor: str
    model: str
    firmware: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Behaviour:
    """One known behaviour of a brand, and how it is handled and verified."""

    quirk: str  # what the charger does
    handling: str  # what this central system does about it
    flag: str | None  # the Quirks field that handles it; None: handled the same for every charger
    test: str  # the test (in tests/) that plays it with a simulated charger
    source: str  # where it is reported, and how sure (V vendor, M several reports or code, S one report)
    # What a simulated charger does on the wire to play it (tests/quirk_charger.py, scripts/demo_charger).
    plays: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuirkProfile:
    """The known behaviours of one brand (or model, or firmware) of charger."""

    name: str  # stable snake_case key, stored per charger when the user picks it
    brand: str
    match: tuple[Match, ...]  # any rule may match
    vendor_verified: bool  # the vendor string was seen in a real BootNotification
    example: Boot
    quirks: Quirks
    behaviours: tuple[Behaviour, ...]

    def matches(self, vendor: str | None, model: str | None, firmware: str | None) -> bool:
        """Return True when one of the rules matches the BootNotification."""
        return any(rule.matches(vendor, model, firmware) for rule in self.match)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(profiles: Iterable[QuirkProfile]) -> str:
    """Return README's "Supported chargers" table: one row per behaviour of every profile."""
    lines = [
        "| brand (profile) | matched by | behaviour | what ocpp_cs does | verified by | source |",
        "|---|---|---|---|---|---|",
    ]
    for profile in profiles:
        rules = " or ".join(rule.describe() for rule in profile.match)
        if not profile.vendor_verified:
            rules += " (vendor string not verified)"
        elif profile.example.vendor:
            rules += f" (seen: `{profile.example.vendor}`)"
        else:
            rules += " (seen: an empty vendor)"
        for index, behaviour in enumerate(profile.behaviours):
            first = index == 0
            handling = behaviour.handling
            if behaviour.flag is None:
                handling += " (every charger)"
            cells = (
                f"{profile.brand} (`{profile.name}`)" if first else "",
                rules if first else "",
                behaviour.quirk,
                handling,
                f"`{behaviour.test}`",
                behaviour.source,
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"
