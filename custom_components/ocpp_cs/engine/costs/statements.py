"""Statements: per id tag sessions, kWh and cost over a period, and their CSV (pure functions).

The input is history-like records: mappings with the keys of a history answer
(`charge_point_id`, `transaction_id`, `id_tag`, `start`, `stop` as ISO strings or datetimes,
`energy` in kWh or `energy_wh`, and `cost`, `currency` once sessions are costed). A session
belongs to the period its stop falls in (`start <= stop < end`): its cost is known only then,
and a monthly statement counts a session that runs over midnight on the 1st once, in the month it
ended. Sessions still running are left out. The same (charge point, transaction) twice counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
import io
from typing import Any

from ..records import TransactionId
from ..util import parse_datetime
from .accounting import CENT
from .prices import to_decimal

_KWH = Decimal("0.001")
CSV_COLUMNS = (
    "id_tag",
    "charge_point_id",
    "connector_id",
    "transaction_id",
    "start",
    "stop",
    "energy_kwh",
    "cost",
    "currency",
)


@dataclass(frozen=True, slots=True)
class StatementSession:
    """One session on a statement."""

    id_tag: str
    charge_point_id: str
    connector_id: int | None
    transaction_id: TransactionId
    start: datetime | None
    stop: datetime
    energy_kwh: Decimal
    cost: Decimal | None  # None when the session was not costed (no price source then)
    currency: str | None


@dataclass(slots=True)
class TagTotals:
    """One id tag's line: how many sessions, their kWh and their cost."""

    id_tag: str
    sessions: int = 0
    energy_kwh: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    uncosted_sessions: int = 0  # sessions without a cost: the cost total leaves them out

    def as_answer(self) -> dict[str, Any]:
        """Return the line as an action answer (floats, rounded to Wh and cents)."""
        return {
            "id_tag": self.id_tag,
            "sessions": self.sessions,
            "energy": float(self.energy_kwh.quantize(_KWH, rounding=ROUND_HALF_UP)),
            "cost": float(self.cost.quantize(CENT, rounding=ROUND_HALF_UP)),
            "uncosted_sessions": self.uncosted_sessions,
        }


@dataclass(slots=True)
class Statement:
    """A period's statement: the sessions and the per-tag totals."""

    start: datetime
    end: datetime
    currency: str | None
    sessions: list[StatementSession] = field(default_factory=list)
    tags: dict[str, TagTotals] = field(default_factory=dict)

    def as_answer(self) -> dict[str, Any]:
        """Return the statement as an action answer."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "currency": self.currency,
            "tags": [totals.as_answer() for totals in self.tags.values()],
        }


def _moment(value: Any) -> datetime | None:
    """Return a record's time; naive ones are UTC, as the engine's own timestamps (util.parse_datetime)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return parse_datetime(value) if isinstance(value, str) else None


def _energy_kwh(record: Mapping[str, Any]) -> Decimal:
    if (kwh := to_decimal(record.get("energy"))) is not None:
        return kwh
    if (wh := to_decimal(record.get("energy_wh"))) is not None:
        return wh / 1000
    return Decimal(0)


def _session(record: Mapping[str, Any]) -> StatementSession | None:
    stop = _moment(record.get("stop"))
    transaction_id = record.get("transaction_id")
    # 1.6 sessions under our integer ids; a 2.0.1 station's under its own string, which means
    # nothing without the station (every history record names it).
    if isinstance(transaction_id, str):
        if not (transaction_id and record.get("charge_point_id")):
            return None
    elif not isinstance(transaction_id, int):
        return None
    if stop is None:
        return None
    connector_id = record.get("connector_id")
    return StatementSession(
        id_tag=str(record.get("id_tag") or ""),
        charge_point_id=str(record.get("charge_point_id") or ""),
        connector_id=connector_id if isinstance(connector_id, int) else None,
        transaction_id=transaction_id,
        start=_moment(record.get("start")),
        stop=stop,
        energy_kwh=_energy_kwh(record),
        cost=to_decimal(record.get("cost")),
        currency=record.get("currency") if isinstance(record.get("currency"), str) else None,
    )


def build_statement(
    records: Iterable[Mapping[str, Any]], start: datetime, end: datetime, id_tag: str | None = None
) -> Statement:
    """Return the statement of the sessions that stopped in [start, end), of one tag or of all."""
    statement = Statement(start, end, None)
    seen: set[tuple[str, TransactionId]] = set()
    for record in records:
        session = _session(record)
        if session is None or not start <= session.stop < end:
            continue
        if id_tag is not None and session.id_tag != id_tag:
            continue
        if (session.charge_point_id, session.transaction_id) in seen:
            continue
        seen.add((session.charge_point_id, session.transaction_id))
        statement.sessions.append(session)
        statement.currency = statement.currency or session.currency
        totals = statement.tags.setdefault(session.id_tag, TagTotals(session.id_tag))
        totals.sessions += 1
        totals.energy_kwh += session.energy_kwh
        if session.cost is None:
            totals.uncosted_sessions += 1
        else:
            totals.cost += session.cost
    statement.sessions.sort(key=lambda session: (session.id_tag, session.stop))
    return statement


def render_csv(statement: Statement) -> str:
    """Return the statement's sessions as CSV, one row per session and one total row per tag."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for session in statement.sessions:
        writer.writerow(
            (
                session.id_tag,
                session.charge_point_id,
                "" if session.connector_id is None else session.connector_id,
                session.transaction_id,
                session.start.isoformat() if session.start else "",
                session.stop.isoformat(),
                session.energy_kwh.quantize(_KWH, rounding=ROUND_HALF_UP),
                "" if session.cost is None else session.cost.quantize(CENT, rounding=ROUND_HALF_UP),
                session.currency or "",
            )
        )
    for totals in statement.tags.values():
        writer.writerow(
            (
                totals.id_tag,
                "total",
                "",
                "",
                statement.start.isoformat(),
                statement.end.isoformat(),
                totals.energy_kwh.quantize(_KWH, rounding=ROUND_HALF_UP),
                totals.cost.quantize(CENT, rounding=ROUND_HALF_UP),
                statement.currency or "",
            )
        )
    return out.getvalue()
