"""Fail-safe profiles: the controller's limits as SetChargingProfile payloads that expire onto a base."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
import json
from typing import Any

from ocpp.charge_point import snake_to_camel_case
from ocpp.messages import MessageType
import pytest

from custom_components.ocpp_cs.engine.schemas import validator
from custom_components.ocpp_cs.engine.site import ConnectorDecision, FailSafe, SiteConfig, refresh_due
from custom_components.ocpp_cs.engine.smart_charging import validate_profile
from custom_components.ocpp_cs.engine.state import ChargerState, ConnectorState, Transaction

NOW = datetime(2026, 6, 21, 12, 0, 7, 500000, tzinfo=UTC)
CONFIG = SiteConfig(main_fuse_current=25, fallback_current=6, profile_ttl=300, refresh_before=120)


def decision(limit: float = 11.3, phases: int = 1, number_phases: int | None = 1) -> ConnectorDecision:
    return ConnectorDecision(
        charge_point_id="garage",
        connector_id=2,
        limit=limit,
        phases=phases,
        number_phases=number_phases,
        urgent=False,
        reason="change",
    )


def valid(payload: dict[str, Any]) -> dict[str, Any]:
    """Check a payload against the ocpp library's SetChargingProfile schema, as it goes on the wire."""
    wire = json.loads(json.dumps(snake_to_camel_case(payload)), parse_float=Decimal)
    errors = list(validator(MessageType.Call, "SetChargingProfile").iter_errors(wire))
    assert errors == []
    if payload["cs_charging_profiles"]["charging_profile_purpose"] != "TxProfile":
        # and the engine's own profile rules (stack levels, periods, phases) for a plain charger
        charger = ChargerState(charge_point_id="garage")
        charger.connectors[2] = ConnectorState(connector_id=2)
        validate_profile(charger, payload["connector_id"], payload["cs_charging_profiles"])
    return wire


def test_the_base_profile_holds_the_fallback_for_good() -> None:
    wire = valid(FailSafe.from_config(CONFIG, base_stack_level=1).base_profile(2))
    profile = wire["csChargingProfiles"]
    assert wire["connectorId"] == 2
    assert profile["stackLevel"] == 1
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert "validTo" not in profile and "duration" not in profile["chargingSchedule"]
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 6}]


def test_the_steering_profile_expires_one_stack_level_above_the_base() -> None:
    builder = FailSafe.from_config(CONFIG, base_stack_level=1, max_stack_level=8)
    assert builder.stacked
    wire = valid(builder.steering_profile(decision(), NOW))
    profile = wire["csChargingProfiles"]
    assert profile["stackLevel"] == 2
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["chargingProfileKind"] == "Absolute"
    assert profile["validTo"] == "2026-06-21T12:05:07Z"
    schedule = profile["chargingSchedule"]
    assert schedule["startSchedule"] == "2026-06-21T12:00:07Z"
    assert schedule["duration"] == 300
    assert schedule["chargingRateUnit"] == "A"
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": Decimal("11.3"), "numberPhases": 1}]


def test_chargers_that_do_not_switch_phases_get_no_number_phases() -> None:
    wire = valid(FailSafe.from_config(CONFIG).steering_profile(decision(16, 3, None), NOW))
    assert wire["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 16}]


@pytest.mark.parametrize(
    ("max_stack_level", "stack_level_zero"), [(0, False), (None, True)], ids=["max_stack_level_0", "quirk"]
)
def test_without_a_second_stack_level_the_schedule_itself_falls_back(
    max_stack_level: int | None, stack_level_zero: bool
) -> None:
    builder = FailSafe.from_config(CONFIG, max_stack_level=max_stack_level, stack_level_zero=stack_level_zero)
    assert not builder.stacked
    wire = valid(builder.steering_profile(decision(), NOW))
    profile = wire["csChargingProfiles"]
    assert profile["stackLevel"] == 0
    assert "validTo" not in profile and "duration" not in profile["chargingSchedule"]
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": Decimal("11.3"), "numberPhases": 1},
        {"startPeriod": 300, "limit": 6, "numberPhases": 1},
    ]


def test_the_running_transactions_profile_falls_back_by_its_schedule() -> None:
    builder = FailSafe.from_config(CONFIG, base_stack_level=1)
    payload = builder.transaction_profile(decision(0, 3, None), 4711, NOW)
    wire = valid(payload)
    profile = wire["csChargingProfiles"]
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["transactionId"] == 4711
    assert profile["stackLevel"] == 2
    assert "validTo" not in profile and "validFrom" not in profile  # not allowed on a TxProfile (7.8)
    assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 0},
        {"startPeriod": 300, "limit": 6},
    ]
    # The engine's own profile rules accept it for a connector with that transaction running
    charger = ChargerState(charge_point_id="garage")
    charger.connectors[2] = ConnectorState(connector_id=2)
    charger.connectors[2].transaction = Transaction(
        transaction_id=4711,
        charge_point_id="garage",
        connector_id=2,
        id_tag="car",
        meter_start=0,
        start=NOW - timedelta(hours=1),
    )
    validate_profile(charger, 2, payload["cs_charging_profiles"])


def test_refresh_before_the_profile_expires() -> None:
    assert not refresh_due(CONFIG, sent_at=1000.0, now=1179.0)
    assert refresh_due(CONFIG, sent_at=1000.0, now=1180.0)
    assert CONFIG.refresh_interval == 180
