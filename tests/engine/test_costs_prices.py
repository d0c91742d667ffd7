"""Price forecasts from the attribute shapes of the price integrations, units, the fixed price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from custom_components.ocpp_cs.engine.costs import (
    PriceInterval,
    current_price,
    fixed_timeline,
    parse_forecast,
    price_at,
    to_decimal,
    unit_factor,
)

CET = timezone(timedelta(hours=1))
MIDNIGHT = datetime(2026, 12, 4, tzinfo=CET)


def hour(n: int) -> datetime:
    return MIDNIGHT + timedelta(hours=n)


def test_a_start_end_price_list_becomes_the_timeline() -> None:
    attributes = {
        "forecast": [
            {"start": hour(1).isoformat(), "end": hour(2).isoformat(), "price": 0.3},
            {"start": hour(0).isoformat(), "end": hour(1).isoformat(), "price": 0.1},
        ]
    }
    assert parse_forecast(attributes, "EUR/kWh") == [
        PriceInterval(hour(0), hour(1), Decimal("0.1")),
        PriceInterval(hour(1), hour(2), Decimal("0.3")),
    ]


def test_nord_pool_raw_today_and_tomorrow_with_datetimes_and_cents() -> None:
    attributes = {
        "unit_of_measurement": "c/kWh",
        "raw_today": [
            {"start": hour(22), "end": hour(23), "value": 12.5},
            {"start": hour(23), "end": hour(24), "value": 10},
        ],
        "raw_tomorrow": [{"start": hour(24), "end": hour(25), "value": 8.25}],
        "today": [12.5, 10.0],  # bare floats, no times: not read
    }
    timeline = parse_forecast(attributes)
    assert [(i.start, i.price) for i in timeline] == [
        (hour(22), Decimal("0.125")),
        (hour(23), Decimal("0.10")),
        (hour(24), Decimal("0.0825")),
    ]
    assert timeline[-1].end == hour(25)


def test_nord_pool_price_in_cents_attribute() -> None:
    attributes = {"price_in_cents": True, "raw_today": [{"start": hour(0), "end": hour(1), "value": 20}]}
    assert parse_forecast(attributes, "EUR/kWh")[0].price == Decimal("0.20")


def test_tibber_today_tomorrow_starts_at_total_end_at_the_next_start() -> None:
    attributes = {
        "today": [
            {"startsAt": "2026-12-04T22:00:00.000+01:00", "total": 0.2512, "energy": 0.1, "tax": 0.15},
            {"startsAt": "2026-12-04T23:00:00.000+01:00", "total": 0.2301},
        ],
        "tomorrow": [{"startsAt": "2026-12-05T00:00:00.000+01:00", "total": 0.2000}],
    }
    timeline = parse_forecast(attributes, "NOK/kWh")
    assert [(i.start, i.end, i.price) for i in timeline] == [
        (hour(22), hour(23), Decimal("0.2512")),
        (hour(23), hour(24), Decimal("0.2301")),
        (hour(24), hour(25), Decimal("0.2")),  # the last one lasts an hour
    ]


def test_entsoe_prices_time_price_per_mwh() -> None:
    attributes = {
        "prices": [
            {"time": "2026-12-04 00:00:00+01:00", "price": 95.5},
            {"time": "2026-12-04 01:00:00+01:00", "price": 80.0},
        ]
    }
    timeline = parse_forecast(attributes, "EUR/MWh")
    assert [(i.start, i.end, i.price) for i in timeline] == [
        (hour(0), hour(1), Decimal("0.0955")),
        (hour(1), hour(2), Decimal("0.08")),
    ]


def test_quarter_hours_keep_their_own_end() -> None:
    start = datetime(2026, 12, 4, 10, tzinfo=UTC)
    attributes = {
        "prices_today": [
            {"time": (start + timedelta(minutes=15 * n)).isoformat(), "price": 0.1 * (n + 1)} for n in range(4)
        ]
    }
    timeline = parse_forecast(attributes, "EUR/kWh")
    assert [i.end - i.start for i in timeline] == [timedelta(minutes=15)] * 3 + [timedelta(hours=1)]


def test_malformed_and_naive_entries_are_skipped_and_overlaps_dropped() -> None:
    attributes = {
        "forecast": [
            {"start": "2026-12-04T00:00:00", "end": "2026-12-04T01:00:00", "price": 1},  # naive: ambiguous
            {"start": "yesterday", "price": 1},
            {"start": hour(0).isoformat(), "price": "n/a"},
            {"start": hour(0).isoformat(), "end": hour(2).isoformat(), "price": True},
            "0.3",
            {"start": hour(3).isoformat(), "end": hour(5).isoformat(), "value": "0.4"},
            {"start": hour(4).isoformat(), "end": hour(6).isoformat(), "price": 0.5},  # overlaps: dropped
            {"start": hour(7).isoformat(), "end": hour(7).isoformat(), "price": 0.5},  # empty: dropped
            {"start": "2026-12-04T23:00:00Z", "end": "2026-12-05T00:00:00z", "price": 0.6},
        ]
    }
    timeline = parse_forecast(attributes)
    assert [(i.start, i.price) for i in timeline] == [
        (hour(3), Decimal("0.4")),
        (datetime(2026, 12, 4, 23, tzinfo=UTC), Decimal("0.6")),
    ]


def test_no_forecast_attribute_is_an_empty_timeline() -> None:
    assert parse_forecast({"friendly_name": "Price", "forecast": "soon", "data": []}) == []


def test_a_unit_attribute_that_is_not_text_is_no_unit() -> None:
    attributes = {"unit_of_measurement": 3, "forecast": [{"start": hour(0).isoformat(), "price": 0.3}]}
    assert parse_forecast(attributes)[0].price == Decimal("0.3")


def test_units() -> None:
    assert unit_factor("EUR/kWh") == 1
    assert unit_factor("€/MWh") == Decimal("0.001")
    assert unit_factor("ct/kWh") == Decimal("0.01")
    assert unit_factor("öre/kWh") == Decimal("0.01")
    assert unit_factor("EUR/Wh") == 1000
    assert unit_factor(None) == 1


def test_the_current_price_and_a_fixed_price() -> None:
    assert current_price("25.3", {"unit_of_measurement": "c/kWh"}) == Decimal("0.253")
    assert current_price("unavailable", {}) is None
    assert current_price(80, {}, "EUR/MWh") == Decimal("0.080")
    timeline = fixed_timeline(Decimal("0.30"), hour(0), hour(24))
    assert price_at(timeline, hour(12)) == Decimal("0.30")
    assert price_at(timeline, hour(24)) is None
    assert fixed_timeline(Decimal("0.30"), hour(1), hour(1)) == []


def test_decimals_are_exact() -> None:
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(Decimal("NaN")) is None
    assert to_decimal(float("inf")) is None
    assert to_decimal(None) is None
    assert to_decimal(Decimal("2.5")) == Decimal("2.5")
