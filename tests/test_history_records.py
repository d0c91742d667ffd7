"""The transaction history (engine/history.py) on its own: a history file this version reads in
part, sessions that share a start, a stop without a start, and reconciliation of old sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.ocpp_cs.engine.history import TransactionHistory
from custom_components.ocpp_cs.engine.state import Transaction

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def session(number: int, start: datetime | None, *, stop: datetime | None, wh: int | None = 100) -> Transaction:
    return Transaction(
        transaction_id=number,
        charge_point_id="CP",
        connector_id=number,
        id_tag="CARD",
        meter_start=0 if start else None,
        start=start,
        meter_stop=wh if stop else None,
        stop=stop,
        start_seen=start is not None,
    )


def test_a_history_file_read_in_part() -> None:
    good = {"charge_point_id": "CP", "transaction_id": 1, "start": BASE.isoformat(),
            "stop": (BASE + timedelta(hours=1)).isoformat(), "meter_start": "100", "meter_stop": 1600.5,
            "energy_wh": 1500.5, "id_tag": "CARD"}
    history = TransactionHistory()
    history.restore({
        "records": [
            good,
            {**good, "energy_wh": 9999},  # the same session again: the first one stands
            {**good, "transaction_id": "two"},  # no number
            {"transaction_id": 3},  # no charger
            {**good, "transaction_id": 4, "start": None, "meter_start": None, "meter_stop": "lots",
             "energy_wh": None},  # a stop without its start, a meter value that is no number
        ],
        "totals_wh": {"card": 1500.5, "other": "a lot"},
    })
    first, fourth = history.query(charge_point_id="CP")[::-1]
    assert first.to_dict() == {
        "charge_point_id": "CP", "connector_id": 0, "transaction_id": 1, "id_tag": "CARD", "id_tag_name": None,
        "start": BASE.isoformat(), "stop": (BASE + timedelta(hours=1)).isoformat(), "meter_start": 100,
        "meter_stop": 1600.5, "energy_wh": 1500.5, "reason": None, "start_seen": True, "stop_seen": True,
    }
    answer = fourth.as_answer()
    assert (answer["transaction_id"], answer["meter_start"], answer["meter_stop"]) == (4, None, None)
    assert answer["duration"] is None
    assert history.total_wh("CARD") == 1500.5
    assert history.total_wh("OTHER") == 0.0


def test_sessions_that_share_a_start_and_a_real_stop_that_replaces_a_reconstructed_one() -> None:
    history = TransactionHistory()
    # Two connectors started at the same second; neither sent its stop (ends reconstructed).
    for number in (1, 2):
        assert history.add(session(number, BASE, stop=None), reconstructed_stop=BASE + timedelta(hours=2))
    # The second one's StopTransaction comes after all: it replaces the reconstruction, in place.
    replaced = history.add(session(2, BASE, stop=BASE + timedelta(hours=1), wh=700))
    assert replaced is not None and replaced.stop_seen
    assert [(r.transaction_id, r.stop_seen, r.energy_wh) for r in history] == [(1, False, 0.0), (2, True, 700)]
    assert history.stopped("CP", 2) and not history.stopped("CP", 1)


def test_reconciling_sessions_older_than_everything_kept_adds_nothing() -> None:
    history = TransactionHistory(max_records=2)
    for number in (5, 6):
        history.add(session(number, BASE + timedelta(hours=number), stop=BASE + timedelta(hours=number, minutes=5)))
    old = session(1, BASE, stop=BASE + timedelta(minutes=5))
    running = session(7, BASE + timedelta(hours=7), stop=None)
    assert history.reconcile([old, running], lambda _tag: None) == 0
    assert [r.transaction_id for r in history] == [5, 6]
    assert history.total_wh("CARD") == 200
