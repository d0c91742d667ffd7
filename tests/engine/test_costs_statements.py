"""Statements per id tag over a period, and their CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
import io

from custom_components.ocpp_cs.engine.costs import build_statement, render_csv

DECEMBER = datetime(2026, 12, 1, tzinfo=UTC)
JANUARY = datetime(2027, 1, 1, tzinfo=UTC)


def record(tx: int, tag: str, stop: str | None, kwh: float, cost: float | None, **extra: object) -> dict[str, object]:
    return {
        "charge_point_id": "cp1",
        "connector_id": 1,
        "transaction_id": tx,
        "id_tag": tag,
        "start": "2026-12-03T18:00:00+00:00",
        "stop": stop,
        "energy": kwh,
        "cost": cost,
        "currency": "EUR" if cost is not None else None,
        **extra,
    }


RECORDS = [
    record(1, "COMPANY", "2026-12-03T21:00:00+00:00", 20.123, 4.51),
    record(2, "COMPANY", "2026-12-10T06:30:00Z", 11.5, 2.3),
    record(2, "COMPANY", "2026-12-10T06:30:00Z", 11.5, 2.3),  # the same session twice (a replay)
    record(3, "GUEST", "2026-12-12T10:00:00+00:00", 5.0, 1.75),
    record(4, "GUEST", "2026-12-31T23:59:59+00:00", 1.0, None),  # before prices were set up
    record(5, "COMPANY", "2027-01-01T00:00:00+00:00", 30.0, 6.0),  # ends in January: not December's
    record(6, "COMPANY", "2026-11-30T23:00:00+00:00", 30.0, 6.0),  # November's
    record(7, "COMPANY", None, 3.0, None),  # still running
    {"transaction_id": "x", "stop": "2026-12-05T00:00:00+00:00"},  # not a session
    {"transaction_id": 8, "stop": "soon"},
    {"transaction_id": 10, "id_tag": "GUEST", "stop": datetime(2027, 1, 2), "energy": 1},  # naive: UTC, January
    {"transaction_id": 9, "id_tag": "GUEST", "stop": "2026-12-13T00:00:00+00:00"},  # no energy recorded
    {
        "charge_point_id": "cp2",
        "transaction_id": 1,  # another charger's transaction 1: a different session
        "id_tag": "GUEST",
        "stop": datetime(2026, 12, 20, tzinfo=UTC),
        "energy_wh": 2500,
        "cost": "0.60",
        "currency": "EUR",
    },
]


def test_a_monthly_statement_per_tag() -> None:
    statement = build_statement(RECORDS, DECEMBER, JANUARY)
    assert statement.currency == "EUR"
    answer = statement.as_answer()
    assert answer["tags"] == [
        {"id_tag": "COMPANY", "sessions": 2, "energy": 31.623, "cost": 6.81, "uncosted_sessions": 0},
        {"id_tag": "GUEST", "sessions": 4, "energy": 8.5, "cost": 2.35, "uncosted_sessions": 2},
    ]
    assert answer["start"] == "2026-12-01T00:00:00+00:00"
    assert statement.tags["COMPANY"].cost == Decimal("6.81")  # exact: 4.51 + 2.30, not a float sum


def test_one_tag_only() -> None:
    statement = build_statement(RECORDS, DECEMBER, JANUARY, id_tag="GUEST")
    assert list(statement.tags) == ["GUEST"]
    assert [session.transaction_id for session in statement.sessions] == [3, 9, 1, 4]


def test_the_csv_has_one_row_per_session_and_a_total_per_tag() -> None:
    text = render_csv(build_statement(RECORDS, DECEMBER, JANUARY))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6 + 2
    assert rows[0] == {
        "id_tag": "COMPANY",
        "charge_point_id": "cp1",
        "connector_id": "1",
        "transaction_id": "1",
        "start": "2026-12-03T18:00:00+00:00",
        "stop": "2026-12-03T21:00:00+00:00",
        "energy_kwh": "20.123",
        "cost": "4.51",
        "currency": "EUR",
    }
    uncosted = next(row for row in rows if row["transaction_id"] == "4")
    assert uncosted["cost"] == "" and uncosted["currency"] == ""
    other_charger = next(row for row in rows if row["charge_point_id"] == "cp2")
    assert other_charger["connector_id"] == "" and other_charger["start"] == ""
    assert other_charger["energy_kwh"] == "2.500"
    totals = [row for row in rows if row["charge_point_id"] == "total"]
    assert [(row["id_tag"], row["energy_kwh"], row["cost"]) for row in totals] == [
        ("COMPANY", "31.623", "6.81"),
        ("GUEST", "8.500", "2.35"),
    ]


def test_an_empty_period() -> None:
    statement = build_statement(RECORDS, JANUARY, datetime(2027, 2, 1, tzinfo=UTC), id_tag="NOBODY")
    assert statement.as_answer()["tags"] == []
    assert render_csv(statement).splitlines() == [
        "id_tag,charge_point_id,connector_id,transaction_id,start,stop,energy_kwh,cost,currency"
    ]
