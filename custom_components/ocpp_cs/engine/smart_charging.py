"""Smart Charging (spec 3.12, 5.7, 5.16, 5.17, 7.8-7.14): limits, units, profiles, validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
import math
from typing import Any

from .configuration import parse_list
from .quirks import Quirks
from .state import ChargerState, ChargingLimit, ConnectorState
from .util import parse_datetime

UNIT_A = "A"
UNIT_W = "W"
PURPOSE_CHARGE_POINT_MAX = "ChargePointMaxProfile"
PURPOSE_TX_DEFAULT = "TxDefaultProfile"
PURPOSE_TX = "TxProfile"
PURPOSES = {
    "charge_point_max": PURPOSE_CHARGE_POINT_MAX,
    "tx_default": PURPOSE_TX_DEFAULT,
    "tx": PURPOSE_TX,
}
KINDS = {"absolute": "Absolute", "recurring": "Recurring", "relative": "Relative"}
RECURRENCY = {"daily": "Daily", "weekly": "Weekly"}

DEFAULT_VOLTAGE = 230.0
MIN_CHARGING_CURRENT = 6.0  # IEC 61851: below 6 A a car cannot charge; 0 pauses

# Profile ids of the limits this integration installs (one per scope, replaced in place).
LIMIT_PROFILE_ID_BASE = 1000
TX_PROFILE_ID_BASE = 2000
LIMIT_STACK_LEVEL = 0


class ProfileError(ValueError):
    """A charging profile that breaks a rule of the spec; `key` names the rule."""

    def __init__(self, key: str, **placeholders: Any) -> None:
        """Name the rule and the values that broke it."""
        super().__init__(key)
        self.key = key
        self.placeholders = {k: str(v) for k, v in placeholders.items()}


def allowed_units(charger: ChargerState) -> set[str]:
    """Return the rate units the charger takes (ChargingScheduleAllowedChargingRateUnit).

    A charger that does not say is assumed to take amperes, which every 1.6 charger must.
    """
    values = {v.casefold() for v in parse_list(charger.config_value("ChargingScheduleAllowedChargingRateUnit"))}
    units = set()
    if "current" in values or "a" in values:
        units.add(UNIT_A)
    if "power" in values or "w" in values:
        units.add(UNIT_W)
    if not units and (known := charger.quirks.rate_unit) is not None:
        return {known}  # it does not say, its quirk profile does
    return units or {UNIT_A}


def limit_stack_level(charger: ChargerState, wanted: int) -> int:
    """Return the stack level of the limits' profiles: the one wanted, as far as the charger goes."""
    if charger.quirks.stack_level_zero:
        return 0
    maximum = charger.config_int("ChargeProfileMaxStackLevel")
    return max(0, min(wanted, maximum)) if maximum is not None else wanted


def _readings(charger: ChargerState, connector_id: int) -> list[ConnectorState]:
    scopes = [charger.connectors[c] for c in (connector_id, 0) if c in charger.connectors]
    if connector_id == 0:
        scopes += [c for c in charger.connectors.values() if c.connector_id > 0]
    return scopes


def measured_voltage(charger: ChargerState, connector_id: int) -> float | None:
    """Return the average measured phase voltage for a scope, None when not reported."""
    for connector in _readings(charger, connector_id):
        values = [
            r.value
            for key, r in connector.meters.items()
            if key in ("voltage", "voltage_l1_n", "voltage_l2_n", "voltage_l3_n") and r.value > 50
        ]
        if values:
            return sum(values) / len(values)
    return None


def phases_in_use(charger: ChargerState, connector_id: int, configured: int) -> int:
    """Return how many phases carry current now (measured), else the charger's phases."""
    for connector in _readings(charger, connector_id):
        currents = [
            connector.meters[key].value
            for key in ("current_import_l1", "current_import_l2", "current_import_l3")
            if key in connector.meters
        ]
        if currents and connector.transaction is not None:
            in_use = sum(1 for value in currents if value > 1.0)
            if in_use:
                return in_use
    return configured


@dataclass(frozen=True, slots=True)
class Conversion:
    """How a limit was turned into the unit the charger takes."""

    value: float
    unit: str
    converted: bool
    voltage: float
    phases: int


def to_charger_unit(
    limit: ChargingLimit, units: set[str], voltage: float | None, phases: int
) -> Conversion:
    """Return the limit in a unit the charger takes, converting A <-> W when needed."""
    volts = voltage or DEFAULT_VOLTAGE
    if limit.unit in units:
        return Conversion(round(limit.value, 1), limit.unit, False, volts, phases)
    if limit.unit == UNIT_W:
        return Conversion(round(limit.value / (volts * phases), 1), UNIT_A, True, volts, phases)
    return Conversion(round(limit.value * volts * phases, 1), UNIT_W, True, volts, phases)


def shape(conversion: Conversion, quirks: Quirks) -> Conversion:
    """Return a limit in A as the charger applies it: whole amperes, not below its minimum (0 pauses)."""
    if conversion.unit != UNIT_A or conversion.value <= 0:
        return conversion
    value = conversion.value
    if quirks.min_current is not None and value < quirks.min_current:
        value = quirks.min_current
    elif quirks.whole_amps:
        value = float(math.floor(value))
    return replace(conversion, value=value) if value != conversion.value else conversion


def lower(first: ChargingLimit, second: ChargingLimit | None, voltage: float | None, phases: int) -> ChargingLimit:
    """Return the lower of two limits (compared in A), the first when the second is None."""
    if second is None:
        return first
    if limit_in(second, UNIT_A, voltage, phases) < limit_in(first, UNIT_A, voltage, phases):
        return second
    return first


def limit_targets(
    charger: ChargerState, connector_id: int, limit: ChargingLimit
) -> list[tuple[int, str, ChargingLimit]]:
    """
    Return where a scope's limit goes: (connector id, profile purpose, limit) for each profile.

    The charger-wide limit is a ChargePointMaxProfile, a connector's a TxDefaultProfile. A
    charger that ignores ChargePointMaxProfile (quirk) gets the charger-wide limit as each
    connector's TxDefaultProfile instead, lowered to the connector's own limit, which the
    connector's limit then replaces (lowered to the charger-wide one) when it is set.
    """
    if not charger.quirks.charge_point_max_ignored:
        return [(connector_id, PURPOSE_CHARGE_POINT_MAX if connector_id == 0 else PURPOSE_TX_DEFAULT, limit)]
    if connector_id > 0:
        voltage, phases = measured_voltage(charger, connector_id), phases_in_use(charger, connector_id, charger.phases)
        return [(connector_id, PURPOSE_TX_DEFAULT, lower(limit, charger.limits.get(0), voltage, phases))]
    connectors = sorted(c for c in charger.connectors if c > 0) or [1]
    return [
        (
            target,
            PURPOSE_TX_DEFAULT,
            lower(
                limit,
                charger.limits.get(target),
                measured_voltage(charger, target),
                phases_in_use(charger, target, charger.phases),
            ),
        )
        for target in connectors
    ]


def limit_in(limit: ChargingLimit, unit: str, voltage: float | None, phases: int) -> float:
    """Return a limit expressed in A or W."""
    if limit.unit == unit:
        return limit.value
    volts = voltage or DEFAULT_VOLTAGE
    if unit == UNIT_A:
        return round(limit.value / (volts * phases), 1)
    return round(limit.value * volts * phases, 1)


def limit_profile(
    purpose: str,
    connector_id: int,
    value: float,
    unit: str,
    *,
    profile_id: int,
    stack_level: int = LIMIT_STACK_LEVEL,
    transaction_id: int | str | None = None,
    number_phases: int | None = None,
    absolute: bool = False,
) -> dict[str, Any]:
    """Return a one-period profile that holds `value` from now on (snake_case keys).

    Absolute, but for a TxProfile: Relative to the transaction's start, unless `absolute`
    (chargers that refuse Relative profiles).
    """
    period: dict[str, Any] = {"start_period": 0, "limit": round(value, 1)}
    if number_phases:
        period["number_phases"] = number_phases
    profile: dict[str, Any] = {
        "charging_profile_id": profile_id,
        "stack_level": stack_level,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Relative" if purpose == PURPOSE_TX and not absolute else "Absolute",
        "charging_schedule": {"charging_rate_unit": unit, "charging_schedule_period": [period]},
    }
    if profile["charging_profile_kind"] == "Absolute":
        # Absolute schedules need a start; one in the past avoids a gap (spec 3.12.2 note).
        profile["charging_schedule"]["start_schedule"] = "2020-01-01T00:00:00Z"
    if transaction_id is not None:
        profile["transaction_id"] = transaction_id
    return profile


def validate_profile(charger: ChargerState, connector_id: int, profile: Mapping[str, Any]) -> None:
    """
    Check a ChargingProfile (snake_case keys) against the spec; raise ProfileError.

    One decimal at most in limits is the schema's (multipleOf 0.1), checked before.
    """
    purpose = profile.get("charging_profile_purpose")
    if purpose == PURPOSE_CHARGE_POINT_MAX and connector_id != 0:
        raise ProfileError("charge_point_max_connector", connector_id=connector_id)
    if purpose == PURPOSE_TX:
        if connector_id == 0:
            raise ProfileError("tx_profile_connector")
        connector = charger.connectors.get(connector_id)
        transaction = connector.transaction if connector else None
        if transaction is None:
            raise ProfileError("tx_profile_no_transaction", connector_id=connector_id)
        wanted = profile.get("transaction_id")
        if wanted is not None and wanted != transaction.transaction_id:
            raise ProfileError(
                "tx_profile_wrong_transaction", transaction_id=wanted, running=transaction.transaction_id
            )
    elif profile.get("transaction_id") is not None:
        raise ProfileError("transaction_id_only_tx")
    if profile.get("charging_profile_kind") == "Recurring" and not profile.get("recurrency_kind"):
        raise ProfileError("recurrency_required")
    max_stack = charger.config_int("ChargeProfileMaxStackLevel")
    stack_level = int(profile.get("stack_level", 0))
    if max_stack is not None and stack_level > max_stack:
        raise ProfileError("stack_level_too_high", stack_level=stack_level, maximum=max_stack)
    schedule = profile.get("charging_schedule") or {}
    periods = schedule.get("charging_schedule_period") or []
    if not periods:
        raise ProfileError("no_periods")
    max_periods = charger.config_int("ChargingScheduleMaxPeriods")
    if max_periods is not None and len(periods) > max_periods:
        raise ProfileError("too_many_periods", periods=len(periods), maximum=max_periods)
    unit = schedule.get("charging_rate_unit")
    if unit not in allowed_units(charger) and "ChargingScheduleAllowedChargingRateUnit" in charger.configuration:
        raise ProfileError("unit_not_supported", unit=unit, units=",".join(sorted(allowed_units(charger))))
    previous = -1
    for period in periods:
        start = int(period.get("start_period", -1))
        if start <= previous:
            raise ProfileError("periods_not_ascending", start_period=start)
        if previous == -1 and start != 0:
            raise ProfileError("first_period_not_zero", start_period=start)
        previous = start
        limit = period.get("limit")
        if limit is None or float(limit) < 0:
            raise ProfileError("invalid_limit", limit=limit)
        phases = period.get("number_phases")
        if phases is not None and int(phases) not in (1, 2, 3):
            raise ProfileError("invalid_phases", number_phases=phases)


def current_limit_of_schedule(schedule: Mapping[str, Any], now: datetime) -> tuple[float, str] | None:
    """Return the limit in force now of a GetCompositeSchedule answer (snake_case), with its unit."""
    periods = schedule.get("charging_schedule_period") or []
    if not periods:
        return None
    start = schedule.get("start_schedule")
    elapsed: float | None = None
    if isinstance(start, str):
        started = parse_datetime(start)
        if started is not None:
            elapsed = (now - started).total_seconds()
    current = periods[0]
    for period in periods:
        if elapsed is not None and float(period.get("start_period", 0)) <= elapsed:
            current = period
    return float(current["limit"]), str(schedule.get("charging_rate_unit") or UNIT_A)
