"""Late real stops of sessions closed as reconstructed: their readings, their record, their cost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from custom_components.ocpp_cs.engine.costs import CostLedger, PriceLog, build_statement
from custom_components.ocpp_cs.engine.costs.accounting import MAX_PROVISIONAL
from custom_components.ocpp_cs.engine.orphans import DEFAULT_GRACE
from custom_components.ocpp_cs.engine.util import utcnow

from .core import CP, central, register, start, status, stop


async def reconstructed(meter_start: int = 1000) -> tuple[object, object, int]:
    """Return a central system whose transaction was closed as reconstructed at 3000 Wh."""
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=meter_start, minute=0, id_tag="TAG"))
    system.meter_values(CP, 1, register(3000, 10), transaction_id)
    system.status_notification(CP, status(1, "Available", 30))
    system.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    return system, recorder, transaction_id


async def test_the_late_stop_s_transaction_end_reading_is_its_end() -> None:
    system, recorder, transaction_id = await reconstructed()
    # A charger that sends meterStop 0 and its end in the Transaction.End sampled value.
    await system.stop_transaction(
        CP, stop(transaction_id, 0, minute=25, id_tag="TAG", readings=register(5000, 25, "Transaction.End"))
    )
    (record,) = system.history.query()
    assert (record.stop_seen, record.energy_wh) == (True, 4000)
    assert system.chargers[CP].connectors[1].energy_wh == 4000
    assert len(recorder.stopped) == 1


async def test_a_late_stop_after_the_session_left_the_recent_ones_completes_its_record() -> None:
    system, recorder, transaction_id = await reconstructed()
    system.recent_transactions.clear()  # (200 sessions later)
    await system.stop_transaction(CP, stop(transaction_id, 5000, minute=25, id_tag="TAG"))
    (record,) = system.history.query()
    assert (record.connector_id, record.meter_start, record.stop_seen, record.energy_wh) == (1, 1000, True, 4000)
    assert system.history.total_wh("TAG") == 4000
    assert system.chargers[CP].connectors[1].energy_wh == 4000
    assert len(recorder.stopped) == 1  # announced when it was closed, not again
    # A replay of it records nothing more.
    await system.stop_transaction(CP, stop(transaction_id, 5000, minute=25, id_tag="TAG"))
    assert (len(system.history), system.history.total_wh("TAG"), len(recorder.stopped)) == (1, 4000, 1)


async def test_a_lifetime_register_s_late_stop_goes_on_from_what_was_counted() -> None:
    # meterStart 0 with a lifetime register: the record implies its base (meterStop - energy).
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=0, minute=0, id_tag="TAG"))
    system.meter_values(CP, 1, register(9_000_000, 1), transaction_id)
    system.meter_values(CP, 1, register(9_002_000, 10), transaction_id)
    system.status_notification(CP, status(1, "Available", 30))
    system.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    assert system.history.query()[0].energy_wh == 2000
    system.recent_transactions.clear()
    await system.stop_transaction(CP, stop(transaction_id, 9_003_000, minute=25, id_tag="TAG"))
    (record,) = system.history.query()
    assert (record.stop_seen, record.energy_wh) == (True, 3000)
    assert system.chargers[CP].connectors[1].energy_wh == 3000
    assert len(recorder.stopped) == 1


T0 = datetime(2026, 12, 4, 10, tzinfo=UTC)
KEY = ("cp1", "TX-1")


def test_a_provisional_settlement_is_settled_again_by_the_real_stop_once() -> None:
    log = PriceLog()
    log.record(T0, Decimal("0.20"))
    log.record(T0 + timedelta(hours=1), Decimal("0.40"))
    ledger = CostLedger(log)
    ledger.start(KEY, T0, 0, "tag")
    ledger.reading(KEY, T0 + timedelta(minutes=30), 2000)
    first = ledger.stop(KEY, T0 + timedelta(minutes=40), 2000, final=False)
    assert first is not None and first.first and first.cost == Decimal("0.40")
    assert ledger.is_provisional(KEY) and ledger.tag_cost("tag") == Decimal("0.40")
    # A second reconstructed stop changes nothing.
    again = ledger.stop(KEY, T0 + timedelta(minutes=50), 2500, final=False)
    assert again is not None and not again.first and ledger.tag_cost("tag") == Decimal("0.40")
    # Kept over a restart.
    restored = CostLedger(log)
    restored.restore(ledger.snapshot())
    assert restored.is_provisional(KEY)
    # The real stop: 1 kWh more over the hour since, a third at 0.20, two thirds at 0.40.
    real = restored.stop(KEY, T0 + timedelta(hours=1, minutes=40), 3000)
    assert real is not None and not real.first and real.cost == Decimal("0.73")
    assert restored.tag_cost("tag") == Decimal("0.73")
    assert not restored.is_provisional(KEY)
    # Its replay: the same.
    replay = restored.stop(KEY, T0 + timedelta(hours=2), 3000)
    assert replay is not None and replay.cost == Decimal("0.73") and restored.tag_cost("tag") == Decimal("0.73")


def test_a_real_stop_no_later_than_the_last_reading_adds_to_the_last_interval() -> None:
    log = PriceLog()
    log.record(T0, Decimal("0.10"))
    ledger = CostLedger(log)
    ledger.reconstruct(KEY, {T0: 0, T0 + timedelta(minutes=30): 1000}, "tag", final=False)
    real = ledger.stop(KEY, T0 + timedelta(minutes=10), 4000)
    assert real is not None and real.cost == Decimal("0.40") and ledger.tag_cost("tag") == Decimal("0.40")


def test_a_v201_session_s_string_id_is_in_the_statement() -> None:
    stop_at = "2026-12-04T12:00:00+00:00"
    records = [
        {"charge_point_id": "CS-1", "transaction_id": "TX-9", "id_tag": "TAG", "stop": stop_at, "energy": 2.0},
        {"transaction_id": "x", "stop": stop_at},  # no station: not a session
        {"charge_point_id": "CS-1", "transaction_id": "", "stop": stop_at},  # no id: not one either
        {"charge_point_id": "CS-1", "transaction_id": None, "stop": stop_at},
    ]
    statement = build_statement(records, T0, T0 + timedelta(days=1))
    assert [(s.charge_point_id, s.transaction_id) for s in statement.sessions] == [("CS-1", "TX-9")]


def test_only_the_newest_provisional_sessions_keep_their_readings() -> None:
    ledger = CostLedger(PriceLog({T0: Decimal("0.10")}))
    for number in range(MAX_PROVISIONAL + 1):
        ledger.reconstruct(("cp1", number), {T0: 0, T0 + timedelta(minutes=10): 1000}, "tag", final=False)
    assert not ledger.is_provisional(("cp1", 0))
    assert ledger.is_provisional(("cp1", MAX_PROVISIONAL))
    # The oldest keeps its provisional cost: a late stop finds it settled.
    late = ledger.stop(("cp1", 0), T0 + timedelta(minutes=20), 5000)
    assert late is not None and not late.first and late.cost == Decimal("0.10")
