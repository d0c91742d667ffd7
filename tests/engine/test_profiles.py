"""Charging profiles as the core builds and checks them, and limits converted for a charger."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custom_components.ocpp_cs.engine.configuration import ConfigurationValue
from custom_components.ocpp_cs.engine.smart_charging import (
    PURPOSE_CHARGE_POINT_MAX,
    PURPOSE_TX,
    PURPOSE_TX_DEFAULT,
    ProfileError,
    current_limit_of_schedule,
    limit_profile,
    limit_targets,
    to_charger_unit,
    validate_profile,
)
from custom_components.ocpp_cs.engine.state import ChargerState, ChargingLimit, Transaction


def test_a_limit_becomes_a_one_period_absolute_profile() -> None:
    profile = limit_profile(PURPOSE_TX_DEFAULT, 1, 15.96, "A", profile_id=3, number_phases=3)
    assert profile == {
        "charging_profile_id": 3,
        "stack_level": profile["stack_level"],
        "charging_profile_purpose": PURPOSE_TX_DEFAULT,
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16.0, "number_phases": 3}],
            # Absolute schedules need a start; one in the past avoids a gap.
            "start_schedule": "2020-01-01T00:00:00Z",
        },
    }


def test_a_transaction_profile_is_relative_unless_asked_otherwise() -> None:
    relative = limit_profile(PURPOSE_TX, 1, 10, "W", profile_id=4, transaction_id=9)
    assert relative["charging_profile_kind"] == "Relative"
    assert relative["transaction_id"] == 9
    assert "start_schedule" not in relative["charging_schedule"]
    absolute = limit_profile(PURPOSE_TX, 1, 10, "W", profile_id=4, transaction_id=9, absolute=True)
    assert absolute["charging_profile_kind"] == "Absolute"


def test_limits_are_converted_to_a_unit_the_charger_takes() -> None:
    watts = to_charger_unit(ChargingLimit(11040, "W"), {"A"}, 230.0, 3)
    assert (watts.value, watts.unit, watts.converted) == (16.0, "A", True)
    amps = to_charger_unit(ChargingLimit(16, "A"), {"W"}, None, 1)
    assert (amps.value, amps.unit) == (3680.0, "W")
    kept = to_charger_unit(ChargingLimit(16, "A"), {"A", "W"}, None, 3)
    assert (kept.value, kept.unit, kept.converted) == (16, "A", False)


def test_a_charger_wide_limit_is_a_charge_point_max_profile() -> None:
    charger = ChargerState("CP-1", accepted=True)
    limit = ChargingLimit(20, "A")
    assert limit_targets(charger, 0, limit) == [(0, PURPOSE_CHARGE_POINT_MAX, limit)]
    assert limit_targets(charger, 2, limit) == [(2, PURPOSE_TX_DEFAULT, limit)]


def profile(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "charging_profile_id": 1,
        "stack_level": 1,
        "charging_profile_purpose": PURPOSE_TX_DEFAULT,
        "charging_profile_kind": "Absolute",
        "charging_schedule": {
            "charging_rate_unit": "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16}, {"start_period": 600, "limit": 8}],
        },
    }
    base.update(changes)
    return base


def refusal(charger: ChargerState, connector_id: int, wanted: dict[str, Any]) -> str:
    with pytest.raises(ProfileError) as refused:
        validate_profile(charger, connector_id, wanted)
    return str(refused.value.args[0])


def test_profiles_are_checked_against_the_spec_and_the_chargers_limits() -> None:
    charger = ChargerState("CP-1", accepted=True)
    charger.configuration["ChargeProfileMaxStackLevel"] = ConfigurationValue("2", readonly=True)
    validate_profile(charger, 1, profile())
    assert refusal(charger, 1, profile(charging_profile_purpose=PURPOSE_CHARGE_POINT_MAX)) == (
        "charge_point_max_connector"
    )
    assert refusal(charger, 1, profile(stack_level=3)) == "stack_level_too_high"
    assert refusal(charger, 1, profile(charging_profile_purpose=PURPOSE_TX)) == "tx_profile_no_transaction"
    assert refusal(charger, 1, profile(transaction_id=5)) == "transaction_id_only_tx"
    assert refusal(charger, 1, profile(charging_profile_kind="Recurring")) == "recurrency_required"
    backwards = {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 6}] * 2}
    assert refusal(charger, 1, profile(charging_schedule=backwards)) == "periods_not_ascending"
    late = {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 60, "limit": 6}]}
    assert refusal(charger, 1, profile(charging_schedule=late)) == "first_period_not_zero"
    connector, _ = charger.connector(1)
    connector.transaction = Transaction(7, "CP-1", 1, "TAG", 0, datetime(2025, 1, 1, tzinfo=UTC))
    validate_profile(charger, 1, profile(charging_profile_purpose=PURPOSE_TX, transaction_id=7))
    assert refusal(charger, 1, profile(charging_profile_purpose=PURPOSE_TX, transaction_id=8)) == (
        "tx_profile_wrong_transaction"
    )


def test_the_limit_in_force_now_of_a_composite_schedule() -> None:
    schedule = {
        "start_schedule": "2025-01-01T10:00:00Z",
        "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": 7000}, {"start_period": 3600, "limit": 3500}],
    }
    assert current_limit_of_schedule(schedule, datetime(2025, 1, 1, 10, 30, tzinfo=UTC)) == (7000.0, "W")
    assert current_limit_of_schedule(schedule, datetime(2025, 1, 1, 11, 30, tzinfo=UTC)) == (3500.0, "W")
    assert current_limit_of_schedule({"charging_schedule_period": []}, datetime(2025, 1, 1, tzinfo=UTC)) is None
