"""Session costs: energy per interval times the price then, to the cent, with a fee, replay-safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
import random

from custom_components.ocpp_cs.engine.costs import CostLedger, PriceInterval, PriceLog, energy_cost

T0 = datetime(2026, 12, 4, 10, tzinfo=UTC)
KEY = ("cp1", 7)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def prices() -> PriceLog:
    """0.20 until 11:00, 0.35 until 12:00, 0.10 after: a price sensor changing during a session."""
    log = PriceLog()
    log.record(at(-120), Decimal("0.20"))
    log.record(at(60), Decimal("0.35"))
    log.record(at(120), Decimal("0.10"))
    return log


# (minute, Wh register): the price changes at 60 and 120 fall between readings.
READINGS = [(0, 1000), (40, 5000), (80, 9000), (180, 16000)]
# The interval sum by hand: 4 kWh at 0.20; 4 kWh over 10:40-11:20 split 2/2 at 0.20/0.35;
# 7 kWh over 11:20-13:00 split 40/60 minutes: 2.8 kWh at 0.35, 4.2 kWh at 0.10.
BY_HAND = (
    Decimal("4") * Decimal("0.20")
    + 2 * Decimal("0.20")
    + 2 * Decimal("0.35")
    + Decimal("2.8") * Decimal("0.35")
    + Decimal("4.2") * Decimal("0.10")
)


def charge(ledger: CostLedger, readings: list[tuple[int, int]] = READINGS) -> None:
    ledger.start(KEY, at(readings[0][0]), readings[0][1], id_tag="CARD")
    for minute, wh in readings[1:-1]:
        ledger.reading(KEY, at(minute), wh)


def test_a_price_change_during_the_session_costs_the_interval_sum_to_the_cent() -> None:
    ledger = CostLedger(prices())
    charge(ledger)
    result = ledger.stop(KEY, at(180), 16000)
    assert result is not None
    assert result.first
    assert result.energy_wh == 15000
    assert result.energy_cost == BY_HAND == Decimal("3.30")
    assert result.cost == Decimal("3.30")
    # Not the total times the last price (1.50), nor times the first (3.00).
    assert result.cost != Decimal("15") * Decimal("0.10")


def test_open_since_tells_which_prices_are_still_needed() -> None:
    ledger = CostLedger(prices())
    assert ledger.open_since() is None
    charge(ledger)
    ledger.start(("cp2", 1), at(30), 0)
    assert ledger.open_since() == at(0)


def test_the_fee_is_added_once_per_session() -> None:
    ledger = CostLedger(prices(), fee=Decimal("1.50"))
    charge(ledger)
    result = ledger.stop(KEY, at(180), 16000)
    assert result is not None
    assert result.cost == Decimal("4.80")
    assert result.fee == Decimal("1.50")


def test_only_start_and_stop_are_spread_linearly_over_the_price_changes() -> None:
    ledger = CostLedger(prices())
    ledger.start(KEY, at(30), 0)
    result = ledger.stop(KEY, at(75), 1000)  # 1 kWh: 30 min at 0.20, 15 min at 0.35
    assert result is not None
    # 2/3 kWh * 0.20 + 1/3 kWh * 0.35 = 0.2500 exactly; a third of a kWh is not a float here.
    assert result.cost == Decimal("0.25")


def test_rounding_is_half_up_once_on_the_total() -> None:
    log = PriceLog()
    log.record(at(0), Decimal("0.2345"))
    ledger = CostLedger(log)
    ledger.start(KEY, at(0), 0)
    for minute in range(1, 10):  # nine readings of 1 kWh at 0.2345: rounding each would give 9 x 0.23
        ledger.reading(KEY, at(minute), minute * 1000)
    result = ledger.stop(KEY, at(10), 10000)
    assert result is not None
    assert result.energy_cost == Decimal("2.345")
    assert result.cost == Decimal("2.35")


def test_a_replayed_stop_never_counts_twice_and_late_readings_are_ignored() -> None:
    ledger = CostLedger(prices(), fee=Decimal(1))
    charge(ledger)
    first = ledger.stop(KEY, at(180), 16000)
    assert ledger.reading(KEY, at(200), 30000) is False  # a MeterValues replayed after the stop
    again = ledger.stop(KEY, at(240), 20000)  # a replayed (or reconstructed) stop, other values
    assert first is not None and again is not None
    assert again.first is False
    assert again.cost == first.cost
    assert ledger.settled(KEY) == first
    ledger.start(KEY, at(0), 0)  # a replayed start after the stop opens nothing
    assert ledger.running_cost(KEY) is None


def test_repeated_and_out_of_order_readings_give_the_same_cost() -> None:
    ordered = CostLedger(prices())
    charge(ordered)
    expected = ordered.stop(KEY, at(180), 16000)

    shuffled = CostLedger(prices())
    shuffled.start(KEY, at(0), 1000, id_tag="CARD")
    shuffled.start(KEY, at(0), 1000, id_tag="CARD")  # a replayed StartTransaction
    middle = READINGS[1:-1] * 3  # every reading three times
    random.Random(4).shuffle(middle)
    seen = [shuffled.reading(KEY, at(minute), wh) for minute, wh in middle]
    assert seen.count(True) == len(READINGS) - 2
    result = shuffled.stop(KEY, at(180), 16000)
    assert result == expected


def test_running_cost_and_a_register_that_goes_back() -> None:
    ledger = CostLedger(prices())
    charge(ledger)
    running = ledger.running_cost(KEY)
    assert running is not None
    assert running.cost == Decimal("4") * Decimal("0.20") + 2 * Decimal("0.20") + 2 * Decimal("0.35")
    assert ledger.reading(KEY, at(100), 2000)  # a meter swap: the drop delivers nothing
    assert ledger.reading(KEY, at(100.5), "garbage") is False
    result = ledger.stop(KEY, at(180), 3000)
    assert result is not None
    assert result.energy_wh == 2000  # last minus first register
    # 10:00-11:20 as before; 11:20-11:40 went back; 11:40-13:00: 1 kWh, 20 min at 0.35, 60 at 0.10.
    tail = Decimal(1) / 4 * Decimal("0.35") + Decimal(3) / 4 * Decimal("0.10")
    assert result.cost == (running.energy_cost + tail).quantize(Decimal("0.01"))


def test_unknown_sessions_and_reconstruction() -> None:
    ledger = CostLedger(prices())
    assert ledger.stop(("cp1", 99), at(10), 100) is None
    assert ledger.reading(("cp1", 99), at(10), 100) is False
    readings = {at(minute): Decimal(wh) for minute, wh in READINGS}
    rebuilt = ledger.reconstruct(KEY, readings, "CARD")
    assert rebuilt.cost == Decimal("3.30") and rebuilt.first
    assert ledger.reconstruct(KEY, readings).first is False  # a second reconstruction counts nothing
    assert ledger.stop(KEY, at(180), 16000).first is False  # type: ignore[union-attr]
    assert ledger.tag_cost("CARD") == Decimal("3.30")

    # A session seen in part here (its start and a reading) and completed from the history.
    ledger.start(("cp1", 8), at(0), 1000, id_tag="CARD")
    ledger.reading(("cp1", 8), at(40), 5000)
    merged = ledger.reconstruct(("cp1", 8), {at(80): 9000, at(180): 16000})
    assert merged.cost == Decimal("3.30") and merged.id_tag == "CARD"
    assert ledger.tag_cost("CARD") == Decimal("6.60")


def test_tag_totals_count_each_session_once() -> None:
    ledger = CostLedger(prices(), fee=Decimal("0.50"), max_settled=1)
    for tx in (1, 2):
        ledger.start(("cp1", tx), at(0), 0, id_tag="COMPANY")
        ledger.stop(("cp1", tx), at(30), 2000)  # 2 kWh at 0.20 + 0.50
        ledger.stop(("cp1", tx), at(30), 2000)  # replayed
    ledger.start(("cp1", 3), at(0), 0)  # no id tag (a free-vend session): in no tag's total
    ledger.stop(("cp1", 3), at(30), 2000)
    assert ledger.tag_cost("COMPANY") == Decimal("1.80")
    assert ledger.tag_cost("GUEST") == 0
    assert ledger.settled(("cp1", 1)) is None  # only the newest session is remembered here


def test_snapshot_and_restore_keep_open_and_settled_sessions() -> None:
    ledger = CostLedger(prices())
    charge(ledger)
    ledger.start(("cp1", 8), at(0), 0)
    ledger.stop(("cp1", 8), at(30), 1000)
    data = ledger.snapshot()

    restored = CostLedger(prices())
    restored.restore(data)
    restored.restore(data)  # twice: nothing doubles
    assert restored.snapshot() == data
    assert restored.stop(("cp1", 8), at(30), 1000).first is False  # type: ignore[union-attr]
    result = restored.stop(KEY, at(180), 16000)
    assert result is not None and result.cost == Decimal("3.30")


def test_a_forecast_timeline_as_price_log_and_edges() -> None:
    log = PriceLog()
    assert log.segments(at(0), at(10)) == []  # no price known: nothing to cost
    log.record_timeline([PriceInterval(at(0), at(60), Decimal("0.5")), PriceInterval(at(60), at(120), Decimal("1"))])
    assert log.segments(at(10), at(10)) == []
    assert log.segments(at(-30), at(90)) == [
        (at(-30), at(60), Decimal("0.5")),  # before the first step the first price holds
        (at(60), at(90), Decimal("1")),
    ]
    assert energy_cost({at(0): Decimal(0), at(120): Decimal(2000)}, log) == Decimal("1.5")
    assert energy_cost({}, log) == 0
    log.record(at(180), Decimal("2"))
    log.forget_before(at(90))  # an open session started at 11:30: only the price then is kept
    assert sorted(log.steps) == [at(60), at(180)]
