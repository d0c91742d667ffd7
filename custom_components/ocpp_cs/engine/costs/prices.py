"""Price timelines from a Home Assistant price sensor's state and attributes (plain values, no HA).

A timeline is a list of `PriceInterval`s sorted by start, prices in currency per kWh as `Decimal`
(sensor attributes are floats; going through `str` keeps 0.1 as 0.1, so a cost sum is exact).

The forecast shapes read, as the integrations publish them:
- a list of `{start, end, price}` (or `value`) in `forecast`, `prices` or `data` (template
  sensors, EnergyZero-like integrations);
- Nord Pool (custom-components/nordpool, sensor.py `extra_state_attributes`): `raw_today` and
  `raw_tomorrow`, lists of `{"start", "end", "value"}` built by `_add_raw`; its `price_in_cents`
  attribute says the values are in cents;
- Tibber (its GraphQL `priceInfo`, which Tibber integrations copy into attributes): `today` and
  `tomorrow`, lists of `{"startsAt", "total", ...}` with no end (the next start is the end);
- ENTSO-e (JaccoR/hass-entso-e, sensor.py): `prices_today`, `prices_tomorrow` and `prices`,
  lists of `{"time", "price"}` from `get_timestamped_prices`, also without an end.
Nord Pool's `today`/`tomorrow` are bare lists of floats without times: they are not read
(`raw_today` carries the same prices with times).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

# Attribute names holding a forecast, in the order tried; pairs are concatenated (today + tomorrow).
_LIST_ATTRIBUTES: tuple[tuple[str, ...], ...] = (
    ("forecast",),
    ("raw_today", "raw_tomorrow"),
    ("prices_today", "prices_tomorrow"),
    ("today", "tomorrow"),
    ("prices",),
    ("data",),
)
_START_KEYS = ("start", "startsAt", "time", "start_time", "from")
_END_KEYS = ("end", "endsAt", "end_time", "till", "to")
_PRICE_KEYS = ("price", "value", "total")
# Units whose amount is a hundredth of the currency: cent, ct, öre, øre, penny.
_SUBUNITS = ("cent", "ct", "c/", "öre", "ore", "øre", "penny", "pence", "p/")
# An entry without an end lasts until the next one; the last one this long (hourly markets).
DEFAULT_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PriceInterval:
    """A price in force from `start` (inclusive) to `end` (exclusive), currency per kWh."""

    start: datetime
    end: datetime
    price: Decimal

    def covers(self, moment: datetime) -> bool:
        """Return True when `moment` lies in this interval."""
        return self.start <= moment < self.end


def to_decimal(value: Any) -> Decimal | None:
    """Return a number as an exact Decimal (floats through their shortest repr), None if not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def unit_factor(unit: str | None, *, in_cents: bool = False) -> Decimal:
    """Return what to multiply a price in `unit` by to get currency per kWh."""
    factor = Decimal(1)
    text = (unit or "").strip().lower()
    if text.endswith("/mwh"):
        factor /= 1000
    elif text.endswith("/wh"):
        factor *= 1000
    if in_cents or any(marker in text for marker in _SUBUNITS):
        factor /= 100
    return factor


def _first(entry: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in entry:
            return entry[key]
    return None


def _moment(value: Any) -> datetime | None:
    """Return an aware time; a naive one is ambiguous (local or UTC?) and refused rather than guessed."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return None


def _entries(raw: Any, factor: Decimal) -> list[tuple[datetime, datetime | None, Decimal]]:
    """Read one list attribute into (start, end or None, price per kWh), skipping malformed entries."""
    if not isinstance(raw, list):
        return []
    found = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        start = _moment(_first(entry, _START_KEYS))
        price = to_decimal(_first(entry, _PRICE_KEYS))
        if start is None or price is None:
            continue
        found.append((start, _moment(_first(entry, _END_KEYS)), price * factor))
    return found


def _close(entries: Iterable[tuple[datetime, datetime | None, Decimal]]) -> list[PriceInterval]:
    """Sort, give open entries the next start as their end, and drop overlaps (first one wins)."""
    ordered = sorted(entries, key=lambda entry: entry[0])
    timeline: list[PriceInterval] = []
    for index, (start, given_end, price) in enumerate(ordered):
        end = given_end
        if end is None:
            end = ordered[index + 1][0] if index + 1 < len(ordered) else start + DEFAULT_INTERVAL
        if end <= start or (timeline and start < timeline[-1].end):
            continue
        timeline.append(PriceInterval(start, end, price))
    return timeline


def _factor(attributes: Mapping[str, Any], unit: str | None) -> Decimal:
    """Return the sensor's unit factor; an attribute that is not a string (a broken template) is no unit."""
    unit = unit or attributes.get("unit_of_measurement")
    return unit_factor(unit if isinstance(unit, str) else None, in_cents=attributes.get("price_in_cents") is True)


def parse_forecast(attributes: Mapping[str, Any], unit: str | None = None) -> list[PriceInterval]:
    """Return the forecast a price sensor's attributes carry (empty when they carry none).

    `unit` is the sensor's unit of measurement (e.g. `EUR/kWh`, `c/kWh`, `EUR/MWh`); the
    attribute `unit_of_measurement`, when present, is used when `unit` is None.
    """
    factor = _factor(attributes, unit)
    for names in _LIST_ATTRIBUTES:
        entries = [entry for name in names for entry in _entries(attributes.get(name), factor)]
        if entries:
            return _close(entries)
    return []


def current_price(state: Any, attributes: Mapping[str, Any], unit: str | None = None) -> Decimal | None:
    """Return the sensor's state as currency per kWh (None when unavailable or not a number)."""
    price = to_decimal(state)
    if price is None:
        return None
    return price * _factor(attributes, unit)


def fixed_timeline(price: Decimal, start: datetime, end: datetime) -> list[PriceInterval]:
    """Return a timeline of one fixed price over [start, end) (the fixed-price option)."""
    return [PriceInterval(start, end, price)] if end > start else []


def price_at(timeline: Sequence[PriceInterval], moment: datetime) -> Decimal | None:
    """Return the price in force at `moment`, None outside the timeline."""
    for interval in timeline:
        if interval.covers(moment):
            return interval.price
    return None
