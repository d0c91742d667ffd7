"""Session cost accounting: the energy metered in each interval times the price in force then.

Money is `Decimal` throughout: prices come in as exact decimals (see prices.to_decimal), the
per-interval products are summed unrounded, and the total is rounded once, half up, to the cent
(`CENT`). Rounding each interval would let a long session drift by a cent per interval.

Energy between two meter readings is spread linearly over the time between them, so a price
change between two readings splits that energy in proportion to the time on each side. A
session with only meterStart and meterStop is one such pair.

Replay safety: the ledger is keyed by (charge point id, transaction id). Readings are keyed by
their timestamp (a repeated reading changes nothing; readings may arrive in any order, they are
sorted when costed). A stop settles the session once; a replayed or reconstructed stop gets the
settled result back with `first=False`, and readings after the stop are ignored.

A stop that was not the charger's own (its end reconstructed, `final=False`) settles the
session provisionally: its readings are kept, and when the real stop comes later the session is
settled again with the real energy and its tag's total moves by the difference (once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from ..records import TransactionId
from .prices import PriceInterval, to_decimal

CENT = Decimal("0.01")
MAX_SETTLED = 10_000  # settled sessions remembered for replays (the history keeps 5000 records)
MAX_PROVISIONAL = 100  # provisionally settled sessions whose readings are kept for their real stop
_WH_PER_KWH = Decimal(1000)


def _transaction_id(value: Any) -> TransactionId:
    """Return a stored transaction id as it was: 1.6's integers, 2.0.1 stations' strings."""
    return value if isinstance(value, str) else int(value)


type SessionKey = tuple[str, TransactionId]


@dataclass(slots=True)
class PriceLog:
    """The prices that were in force, as steps: each price holds from its time until the next one.

    The glue records the price sensor's state whenever it changes (and the fixed price once);
    a forecast timeline can be added too (its starts become steps).
    """

    steps: dict[datetime, Decimal] = field(default_factory=dict)

    def record(self, since: datetime, price: Decimal) -> None:
        """Record that `price` holds from `since` on (the same step twice changes nothing)."""
        self.steps[since] = price

    def record_timeline(self, timeline: Sequence[PriceInterval]) -> None:
        """Record a forecast's intervals as steps."""
        for interval in timeline:
            self.record(interval.start, interval.price)

    def forget_before(self, moment: datetime) -> None:
        """Drop steps no longer needed: all before `moment` but the one in force at `moment`."""
        older = sorted(at for at in self.steps if at <= moment)
        for at in older[:-1]:
            del self.steps[at]

    def segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Decimal]]:
        """Return [start, end) cut at the price changes, each piece with its price.

        Before the first step the first price holds: a session that began just before the
        first price was seen is costed at that price rather than for free.
        """
        if not self.steps or end <= start:
            return []
        times = sorted(self.steps)
        price = self.steps[times[0]]
        for moment in times:
            if moment > start:
                break
            price = self.steps[moment]
        pieces = []
        cursor = start
        for moment in times:
            if cursor < moment < end and self.steps[moment] != price:
                pieces.append((cursor, moment, price))
                cursor = moment
            if moment <= cursor:
                price = self.steps[moment]
        pieces.append((cursor, end, price))
        return pieces


@dataclass(frozen=True, slots=True)
class SessionCost:
    """What one session cost: the energy cost, the fee, and their total rounded to the cent."""

    energy_wh: Decimal
    energy_cost: Decimal  # unrounded sum of the intervals
    fee: Decimal
    first: bool = True  # False when this is a replayed stop: add nothing to any total
    id_tag: str | None = None

    @property
    def cost(self) -> Decimal:
        """Return the session's total, rounded half up to the cent."""
        return (self.energy_cost + self.fee).quantize(CENT, rounding=ROUND_HALF_UP)


def energy_cost(readings: Mapping[datetime, Decimal], prices: PriceLog) -> Decimal:
    """Return the unrounded cost of the energy between consecutive readings (Wh registers)."""
    ordered = sorted(readings.items())
    total = Decimal(0)
    for (t0, wh0), (t1, wh1) in pairwise(ordered):
        delta = wh1 - wh0
        if delta <= 0:  # a register that went back (a meter swap) delivered nothing we can price
            continue
        span = Decimal((t1 - t0).total_seconds())
        for start, end, price in prices.segments(t0, t1):
            share = Decimal((end - start).total_seconds()) / span
            total += delta * share / _WH_PER_KWH * price
    return total


@dataclass(slots=True)
class _OpenSession:
    id_tag: str | None
    readings: dict[datetime, Decimal] = field(default_factory=dict)


class CostLedger:
    """Costs of the sessions of one entry, replay-safe (see the module docstring)."""

    def __init__(
        self, prices: PriceLog | None = None, fee: Decimal = Decimal(0), max_settled: int = MAX_SETTLED
    ) -> None:
        """Start with the given price log and fixed fee per session."""
        self.prices = prices if prices is not None else PriceLog()
        self.fee = fee
        self._max_settled = max_settled
        self._open: dict[SessionKey, _OpenSession] = {}
        self._settled: dict[SessionKey, SessionCost] = {}
        self._provisional: dict[SessionKey, _OpenSession] = {}
        self._tag_costs: dict[str, Decimal] = {}

    def start(self, key: SessionKey, at: datetime, meter_start_wh: float | Decimal, id_tag: str | None = None) -> None:
        """Open a session with its meterStart (a replayed start changes nothing)."""
        if key in self._settled or key in self._open:
            return
        self._open[key] = _OpenSession(id_tag)
        self.reading(key, at, meter_start_wh)

    def reading(self, key: SessionKey, at: datetime, register_wh: float | Decimal) -> bool:
        """Add an Energy.Active.Import.Register reading; False when ignored (unknown, settled, seen)."""
        session = self._open.get(key)
        value = to_decimal(register_wh)
        if session is None or value is None or at in session.readings:
            return False
        session.readings[at] = value
        return True

    def is_open(self, key: SessionKey) -> bool:
        """Return True while a session is open here (started, not settled)."""
        return key in self._open

    def running_cost(self, key: SessionKey) -> SessionCost | None:
        """Return the cost so far of an open session (None when not open)."""
        session = self._open.get(key)
        if session is None:
            return None
        return self._cost(session)

    def stop(
        self, key: SessionKey, at: datetime, meter_stop_wh: float | Decimal, *, final: bool = True
    ) -> SessionCost | None:
        """Settle a session at its meterStop; a replayed stop returns the settled cost with first=False.

        `final=False`: the stop was reconstructed, the session is settled provisionally. The real
        stop of a provisional session settles it again (`resettled`) and returns the new cost with
        first=False: the ledger's tag total has moved by the difference, nothing is to be added.
        None when the session was never started here (the glue may then `reconstruct` it).
        """
        if (settled := self._settled.get(key)) is not None:
            if final and key in self._provisional:
                return self._resettle(key, at, meter_stop_wh)
            return replace(settled, first=False)
        if key not in self._open:
            return None
        self.reading(key, at, meter_stop_wh)
        return self._settle(key, self._open.pop(key), final=final)

    def reconstruct(
        self,
        key: SessionKey,
        readings: Mapping[datetime, float | Decimal],
        id_tag: str | None = None,
        *,
        final: bool = True,
    ) -> SessionCost:
        """Settle a session from readings recovered elsewhere (history), with any seen here; once only."""
        if (settled := self._settled.get(key)) is not None:
            return replace(settled, first=False)
        self._open.setdefault(key, _OpenSession(id_tag))
        for at, value in readings.items():
            self.reading(key, at, value)
        return self._settle(key, self._open.pop(key), final=final)

    def is_provisional(self, key: SessionKey) -> bool:
        """Return True while a session is settled provisionally (its end reconstructed)."""
        return key in self._provisional

    def _resettle(self, key: SessionKey, at: datetime, meter_stop_wh: float | Decimal) -> SessionCost:
        """Settle a provisional session again at its real stop; its tag's total moves by the difference."""
        session = self._provisional.pop(key)
        value = to_decimal(meter_stop_wh)
        last = max(session.readings, default=None)
        if value is not None and last is not None and at <= last:
            # The real stop is no later than the last reading: the rest went in the last interval.
            session.readings[last] = max(session.readings[last], value)
        elif value is not None:
            session.readings[at] = value
        before = self._settled[key]
        result = self._cost(session)
        self._settled[key] = result
        if session.id_tag is not None:
            self._tag_costs[session.id_tag] = self.tag_cost(session.id_tag) + result.cost - before.cost
        return replace(result, first=False)

    def settled(self, key: SessionKey) -> SessionCost | None:
        """Return a settled session's cost."""
        return self._settled.get(key)

    def tag_cost(self, id_tag: str) -> Decimal:
        """Return what an id tag's settled sessions cost in all (each session once, to the cent)."""
        return self._tag_costs.get(id_tag, Decimal(0))

    def open_since(self) -> datetime | None:
        """Return the first reading of the oldest open session (prices before it are not needed)."""
        firsts = [min(session.readings) for session in self._open.values() if session.readings]
        return min(firsts, default=None)

    def _settle(self, key: SessionKey, session: _OpenSession, *, final: bool = True) -> SessionCost:
        result = self._cost(session)
        self._settled[key] = result
        if not final:
            self._provisional[key] = session
            while len(self._provisional) > MAX_PROVISIONAL:
                del self._provisional[next(iter(self._provisional))]
        if session.id_tag is not None:
            self._tag_costs[session.id_tag] = self.tag_cost(session.id_tag) + result.cost
        # Only the newest sessions are remembered: a stop is replayed within hours (a charger's
        # offline queue), and the history's own record stops older replays.
        while len(self._settled) > self._max_settled:
            forgotten = next(iter(self._settled))
            del self._settled[forgotten]
            self._provisional.pop(forgotten, None)
        return result

    def _cost(self, session: _OpenSession) -> SessionCost:
        readings = session.readings
        values = [readings[at] for at in sorted(readings)]
        energy = max(Decimal(0), values[-1] - values[0]) if values else Decimal(0)
        return SessionCost(energy, energy_cost(readings, self.prices), self.fee, True, session.id_tag)

    def snapshot(self) -> dict[str, Any]:
        """Return the ledger as JSON-able data (Decimals as strings, so nothing is lost)."""
        return {
            "open": _sessions(self._open),
            "provisional": _sessions(self._provisional),
            "settled": [
                {
                    "key": list(key),
                    "id_tag": cost.id_tag,
                    "energy_wh": str(cost.energy_wh),
                    "energy_cost": str(cost.energy_cost),
                    "fee": str(cost.fee),
                }
                for key, cost in self._settled.items()
            ],
            "tag_costs": {tag: str(cost) for tag, cost in self._tag_costs.items()},
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Load what `snapshot` returned into an empty ledger (a second load changes nothing)."""
        if self._open or self._settled or self._tag_costs:
            return
        for item in data.get("settled", []):
            key = (str(item["key"][0]), _transaction_id(item["key"][1]))
            self._settled[key] = SessionCost(
                Decimal(item["energy_wh"]), Decimal(item["energy_cost"]), Decimal(item["fee"]), True, item.get("id_tag")
            )
        _restore_sessions(self._open, data.get("open", []))
        _restore_sessions(self._provisional, data.get("provisional", []))
        self._tag_costs = {tag: Decimal(cost) for tag, cost in data.get("tag_costs", {}).items()}


def _sessions(sessions: Mapping[SessionKey, _OpenSession]) -> list[dict[str, Any]]:
    """Return sessions with their readings as JSON-able data."""
    return [
        {
            "key": list(key),
            "id_tag": session.id_tag,
            "readings": [[at.isoformat(), str(value)] for at, value in sorted(session.readings.items())],
        }
        for key, session in sessions.items()
    ]


def _restore_sessions(into: dict[SessionKey, _OpenSession], items: Sequence[Mapping[str, Any]]) -> None:
    """Load sessions that `_sessions` returned."""
    for item in items:
        key = (str(item["key"][0]), _transaction_id(item["key"][1]))
        session = into[key] = _OpenSession(item.get("id_tag"))
        for at, value in item.get("readings", []):
            session.readings[datetime.fromisoformat(at)] = Decimal(value)
