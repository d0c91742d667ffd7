"""Sharing a limited resource (per-phase fuse headroom, or solar surplus) among connectors.

Two steps, the same for both resources: `admit` gives each claim its minimum in the order given
(higher priority first), pausing those whose minimum no longer fits; `share` then fills the
admitted claims from their minimum towards their maximum, one priority after the other, equal
priorities rising together (max-min fair: a claim held back by a full phase does not hold back
claims that do not use that phase).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

EPSILON = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """One connector's claim on a resource: `uses` maps resource index -> units per ampere."""

    key: Hashable
    priority: int
    low: float  # A it needs to run at all
    high: float  # A it would take
    uses: tuple[tuple[int, float], ...]

    def fits(self, amperes: float, capacity: Sequence[float]) -> bool:
        """Return True when `amperes` of this claim fit into what is left of every resource it uses."""
        return all(capacity[index] - amperes * weight >= -EPSILON for index, weight in self.uses)


def _take(claim: Claim, amperes: float, capacity: list[float]) -> None:
    for index, weight in claim.uses:
        capacity[index] -= amperes * weight


def admit(claims: Iterable[Claim], capacity: list[float]) -> list[Claim]:
    """Reserve each claim's `low` in the order given while it fits; return the admitted claims.

    `capacity` is reduced by what was reserved.
    """
    admitted = []
    for claim in claims:
        if claim.fits(claim.low, capacity):
            _take(claim, claim.low, capacity)
            admitted.append(claim)
    return admitted


def _fill_group(group: list[Claim], capacity: list[float]) -> dict[Hashable, float]:
    """Raise a group's claims together above their `low` until each reaches `high` or a full resource."""
    extra = {claim.key: 0.0 for claim in group}
    rising = [claim for claim in group if claim.high - claim.low > EPSILON]
    while rising:
        rates: dict[int, float] = {}
        for claim in rising:
            for index, weight in claim.uses:
                rates[index] = rates.get(index, 0.0) + weight
        step = min(claim.high - claim.low - extra[claim.key] for claim in rising)
        for index, rate in rates.items():
            if rate > EPSILON:
                step = min(step, max(0.0, capacity[index]) / rate)
        for claim in rising:
            extra[claim.key] += step
            _take(claim, step, capacity)
        full = {index for index in rates if capacity[index] <= EPSILON}
        rising = [
            claim
            for claim in rising
            if claim.high - claim.low - extra[claim.key] > EPSILON and not any(index in full for index, _ in claim.uses)
        ]
    return {claim.key: claim.low + extra[claim.key] for claim in group}


def share(admitted: Sequence[Claim], capacity: list[float]) -> dict[Hashable, float]:
    """Fill admitted claims from `low` towards `high`, higher priority first; return A per key.

    `capacity` is reduced by what was given (beyond the `low` that `admit` reserved).
    """
    result: dict[Hashable, float] = {}
    ordered = sorted(admitted, key=lambda claim: -claim.priority)
    for _, group in groupby(ordered, key=lambda claim: claim.priority):
        result.update(_fill_group(list(group), capacity))
    return result
