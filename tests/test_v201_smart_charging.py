"""Smart charging of OCPP 2.0.1 stations: limits, profiles and the site controller in 2.0.1 shapes."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.smart_charging import REFUSALS_BEFORE_UNSUPPORTED

from .charger201 import Sim201Charger, charger201, sampled201
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .helpers import action, device_id, has_entity, state, wait_for
from .test_site import BASE, SITE, STEERING, TRANSACTION, grid, set_mode
from .test_smart_charging import set_number
from .test_v201_actions import booted, sent

SCHEDULE = {
    "evse_id": 1,
    "duration": 86400,
    "schedule_start": "2026-01-01T00:00:00Z",
    "charging_rate_unit": "A",
    "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
}


def profiles(cs: Sim201Charger, profile_id: int | None = None) -> list[dict[str, Any]]:
    """The SetChargingProfile requests the station received (with one profile id), oldest first."""
    return [
        request
        for request in sent(cs, "SetChargingProfile")
        if profile_id is None or request["charging_profile"]["id"] == profile_id
    ]


async def test_limit_numbers_send_201_profiles_and_again_after_a_reboot(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-L") as cs:
        cs.answers["schedule"] = SCHEDULE
        await booted(hass, cs)
        await set_number(hass, "CS-L_0_current_limit", 20)
        (station,) = profiles(cs)
        profile = station["charging_profile"]
        assert station["evse_id"] == 0
        assert profile["charging_profile_purpose"] == "ChargingStationMaxProfile"
        (schedule,) = profile["charging_schedule"]
        assert schedule["id"] == profile["id"]
        assert schedule["charging_rate_unit"] == "A"
        assert schedule["charging_schedule_period"][0]["limit"] == 20
        # The composite schedule is read back per EVSE, in amperes, and shown.
        await wait_for(lambda: len(sent(cs, "GetCompositeSchedule")) >= 2, what="composite schedules")
        assert sent(cs, "GetCompositeSchedule")[:2] == [
            {"duration": 3600, "evse_id": 1, "charging_rate_unit": "A"},
            {"duration": 3600, "evse_id": 2, "charging_rate_unit": "A"},
        ]

        # A running transaction gets the EVSE's limit as its TxProfile, with the station's string id.
        await cs.transaction_event("Started", "TX-201", "CablePluggedIn", charging_state="EVConnected")
        await set_number(hass, "CS-L_1_current_limit", 10)
        tx_default, tx = profiles(cs)[1:]
        assert (tx_default["evse_id"], tx_default["charging_profile"]["charging_profile_purpose"]) == (
            1,
            "TxDefaultProfile",
        )
        assert tx["evse_id"] == 1
        assert tx["charging_profile"]["charging_profile_purpose"] == "TxProfile"
        assert tx["charging_profile"]["transaction_id"] == "TX-201"
        assert tx["charging_profile"]["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 10

    # Rebooted (profiles lost): both limits are sent again after its BootNotification.
    async with charger201(port_of(entry), "CS-L") as cs:
        await cs.boot()
        await wait_for(lambda: len(profiles(cs)) >= 2, what="the limits again")
        assert [(p["evse_id"], p["charging_profile"]["charging_profile_purpose"]) for p in profiles(cs)[:2]] == [
            (0, "ChargingStationMaxProfile"),
            (1, "TxDefaultProfile"),
        ]
        # Each accepted limit reads its EVSEs' composite schedules back: 1 and 2, then 1.
        await wait_for(lambda: len(sent(cs, "GetCompositeSchedule")) >= 3, what="the composite schedules")
        await hass.async_block_till_done()


async def test_profile_actions_in_201_shapes(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-P") as cs:
        await booted(hass, cs)
        station, evse_2 = device_id(hass, "CS-P"), device_id(hass, "CS-P_2")
        answer = await action(
            hass,
            "set_charging_profile",
            device_id=evse_2,
            charging_profile={
                "chargingProfileId": 42,
                "stackLevel": 2,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Recurring",
                "recurrencyKind": "Daily",
                "chargingSchedule": {
                    "duration": 3600,
                    "startSchedule": "2026-01-01T18:00:00Z",
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400.0, "numberPhases": 3}],
                },
            },
        )
        assert answer == {"status": "Accepted", "charging_profile_id": 42}
        assert profiles(cs) == [
            {
                "evse_id": 2,
                "charging_profile": {
                    "id": 42,
                    "stack_level": 2,
                    "charging_profile_purpose": "TxDefaultProfile",
                    "charging_profile_kind": "Recurring",
                    "recurrency_kind": "Daily",
                    "charging_schedule": [
                        {
                            "id": 42,
                            "duration": 3600,
                            "start_schedule": "2026-01-01T18:00:00Z",
                            "charging_rate_unit": "W",
                            "charging_schedule_period": [{"start_period": 0, "limit": 7400.0, "number_phases": 3}],
                        }
                    ],
                },
            }
        ]

        assert await action(hass, "clear_charging_profile", device_id=station, id=42) == {"status": "Accepted"}
        cs.answers["ClearChargingProfile"] = "Unknown"
        answer = await action(
            hass, "clear_charging_profile", device_id=evse_2, purpose="tx_default", stack_level=2
        )
        assert answer == {"status": "Unknown"}
        assert sent(cs, "ClearChargingProfile") == [
            {"charging_profile_id": 42},
            {
                "charging_profile_criteria": {
                    "evse_id": 2,
                    "charging_profile_purpose": "TxDefaultProfile",
                    "stack_level": 2,
                }
            },
        ]

        cs.answers["schedule"] = {**SCHEDULE, "evse_id": 2}
        answer = await action(hass, "get_composite_schedule", device_id=evse_2, duration=600, unit="A")
        assert answer == {
            "status": "Accepted",
            "connector_id": 2,
            "schedule_start": "2026-01-01T00:00:00Z",
            "charging_schedule": {
                "duration": 86400,
                "start_schedule": "2026-01-01T00:00:00Z",
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            },
        }
        assert {"duration": 600, "evse_id": 2, "charging_rate_unit": "A"} in sent(cs, "GetCompositeSchedule")


async def test_site_decisions_reach_a_201_station(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    async with charger201(port_of(entry), "CS-SITE") as cs:
        await booted(hass, cs, evses=1)
        await cs.transaction_event("Started", "TX-site", "CablePluggedIn", charging_state="EVConnected")
        await hass.async_block_till_done()
        caplog.set_level(logging.INFO)
        await set_mode(hass, "CS-SITE", "fast")
        await wait_for(lambda: bool(profiles(cs, BASE) and profiles(cs, STEERING)), what="site profiles")
        await wait_for(lambda: bool(profiles(cs, TRANSACTION)), what="the transaction's profile")
        await wait_for(lambda: runtime_of(entry).site.sender.idle, what="the answers")
        # Every one a valid 2.0.1 SetChargingProfile (the station checks each against its schema).
        base = profiles(cs, BASE)[0]
        assert base["evse_id"] == 1
        assert base["charging_profile"]["charging_schedule"][0]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 6.0}
        ]
        steering = profiles(cs, STEERING)[-1]["charging_profile"]
        assert steering["charging_profile_purpose"] == "TxDefaultProfile"
        assert steering["charging_schedule"][0]["duration"] == 480
        # 25 A fuse - 1 A margin - 5 A house.
        assert steering["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 19.0
        tx = profiles(cs, TRANSACTION)[-1]["charging_profile"]
        assert (tx["charging_profile_purpose"], tx["transaction_id"]) == ("TxProfile", "TX-site")
        assert float(state(hass, "CS-SITE_1_charging_priority", "number")) == 5

        # More house load: the lowering goes out, and nothing is logged as a warning or error.
        before = len(profiles(cs, STEERING))
        grid(hass, 30, 30, 30)
        await wait_for(lambda: len(profiles(cs, STEERING)) > before, what="the next decision")
        lowered = profiles(cs, STEERING)[-1]["charging_profile"]["charging_schedule"][0]
        assert lowered["charging_schedule_period"][0]["limit"] < 19.0
        await wait_for(lambda: runtime_of(entry).site.sender.idle, what="the answers")
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "ocpp_cs" in r.name]
        assert hub_of(entry).central.chargers["CS-SITE"].ocpp_version == "2.0.1"


async def test_a_201_station_refusing_site_profiles_is_not_steered(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Its draw stays in the house load, its limits are reported unsupported, one warning only."""
    grid(hass, 20, 20, 20)
    entry = await setup_entry(**SITE)
    runtime = runtime_of(entry)
    async with charger201(port_of(entry), "CS-NO") as cs:
        cs.answers["SetChargingProfile"] = "Rejected"
        await booted(hass, cs, evses=2)
        # Every EVSE has its charging mode.
        assert all(has_entity(hass, f"CS-NO_{evse}_charging_mode", "select") for evse in (1, 2))
        await cs.transaction_event("Started", "TX-no", "CablePluggedIn", charging_state="Charging")
        await cs.meter(1, [sampled201(16, "Current.Import", "A", phase=p) for p in ("L1", "L2", "L3")])
        await hass.async_block_till_done()
        await set_mode(hass, "CS-NO", "fast")
        # Every grid update is a step that tries again, until the refusals say it takes no profiles.
        for step in range(REFUSALS_BEFORE_UNSUPPORTED + 3):
            await wait_for(lambda: runtime.site.sender.idle, what="the answers")
            grid(hass, 20 + step / 10, 20, 20)
            await hass.async_block_till_done()
        await wait_for(lambda: runtime.site.sender.idle, what="the answers")
        assert profiles(cs, BASE)  # it was tried
        assert not runtime.limits.supported("CS-NO")
        issue = ir.async_get(hass).async_get_issue(DOMAIN, "smart_charging_unsupported_CS-NO")
        assert issue is not None and issue.translation_key == "smart_charging_refused"
        # Not steered: its 16 A are house load, not a draw the site could lower.
        decision = runtime.site.decision
        assert decision is not None
        assert ("CS-NO", 1) not in decision.targets
        assert decision.charging_power == 0
        tries = len(profiles(cs))
        grid(hass, 21, 21, 21)
        await hass.async_block_till_done()
        await wait_for(lambda: runtime.site.sender.idle, what="the answers")
        assert len(profiles(cs)) == tries
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "site limit" in r.getMessage()]
        assert len(warnings) == 1
