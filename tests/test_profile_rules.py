"""Smart charging, the finer rules: profiles the spec forbids, composite schedules as chargers
answer them, limits converted with the phases that carry current, and a charger that refuses
limits, then takes them again."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
import pytest

from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .control_charger import CALLERROR, ControlCharger
from .helpers import action, device_id, sampled, state, wait_for
from .test_smart_charging import profile, profiles_sent, ready, set_number, with_units


async def test_profiles_the_spec_forbids_are_refused_before_they_are_sent(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        running = started.transaction_id
        dev, connector_1 = device_id(hass, "CP-1"), device_id(hass, "CP-1_1")
        bad: list[tuple[str, dict[str, Any], str]] = [
            (dev, profile("TxProfile"), "tx_profile_connector"),
            (connector_1, profile("TxProfile", transactionId=running + 1), "tx_profile_wrong_transaction"),
            (connector_1, profile(transactionId=running), "transaction_id_only_tx"),
            (connector_1, profile(chargingProfileKind="Recurring"), "recurrency_required"),
            (connector_1, profile(periods=[]), "no_periods"),
            (connector_1, profile(schedule={"chargingRateUnit": "W"}), "unit_not_supported"),
            (connector_1, profile(periods=[{"startPeriod": 0, "limit": -1}]), "invalid_limit"),
            (connector_1, profile(periods=[{"startPeriod": 0, "limit": 6, "numberPhases": 4}]), "invalid_phases"),
            (connector_1, profile(schedule={"minChargingRate": 6.05}), "limit_decimals"),
        ]
        for device, charging_profile, key in bad:
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "set_charging_profile", device_id=device, charging_profile=charging_profile)
            assert raised.value.translation_key == key, key
        assert profiles_sent(cp) == []

        # The running transaction's own TxProfile goes through; so does a limit on one phase.
        answer = await action(
            hass, "set_charging_profile", device_id=connector_1,
            charging_profile=profile("TxProfile", transactionId=running),
        )
        assert answer == {"status": "Accepted", "charging_profile_id": 7}
        await action(hass, "set_charging_profile", device_id=connector_1, limit=10, unit="A", stack_level=2,
                     number_phases=1)
        period = profiles_sent(cp)[-1]["profile"]["charging_schedule"]["charging_schedule_period"][0]
        assert period == {"start_period": 0, "limit": 10.0, "number_phases": 1}


class ScheduleCharger(ControlCharger):
    """Answers GetCompositeSchedule with the schedule a test sets (None: without one)."""

    schedule: dict[str, Any] | None = None

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> Any:
        return call_result.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start=now_iso(), charging_schedule=self.schedule
        )


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_composite_schedules_as_chargers_answer_them(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=ScheduleCharger) as cp:
        assert isinstance(cp, ScheduleCharger)
        await ready_without_units(hass, entry, cp)
        connector_1 = device_id(hass, "CP-1_1")

        async def composite(schedule: dict[str, Any] | None) -> str:
            cp.schedule = schedule
            await action(hass, "get_composite_schedule", device_id=connector_1, duration=3600)
            await hass.async_block_till_done()
            return state(hass, "CP-1_1_composite_limit")

        two_periods = [{"start_period": 0, "limit": 16.0}, {"start_period": 86400, "limit": 6.0}]
        # Started now: the first period is in force, the second not yet.
        assert await composite({"charging_rate_unit": "A", "start_schedule": now_iso(),
                                "charging_schedule_period": two_periods}) == "16.0"
        # Without a start, or with one that is no time, the first period is taken.
        assert await composite({"charging_rate_unit": "A", "charging_schedule_period": two_periods[1:]}) == "6.0"
        assert await composite({"charging_rate_unit": "A", "start_schedule": "soon",
                                "charging_schedule_period": two_periods}) == "16.0"
        # No periods, or no schedule at all: no limit known.
        assert await composite({"charging_rate_unit": "A", "charging_schedule_period": []}) == "unknown"
        assert await composite({"charging_rate_unit": "A", "start_schedule": now_iso(),
                                "charging_schedule_period": two_periods}) == "16.0"
        assert await composite(None) == "unknown"


async def ready_without_units(hass: HomeAssistant, entry: Any, cp: ControlCharger) -> None:
    await cp.boot()
    for connector_id in range(3):
        await cp.status(connector_id, "Available")
    charger_state = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "SupportedFeatureProfiles" in charger_state.configuration, what="configuration")
    await hass.async_block_till_done()


async def test_a_watts_charger_gets_the_phases_that_carry_current(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """Amperes become watts with the measured voltage and the phases in use during a transaction."""
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=with_units("W")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        # Not charging yet (no phase above 1 A): the charger's three phases.
        await cp.meter(1, [sampled("0.5", "Current.Import", "A", phase=phase) for phase in ("L1", "L2", "L3")],
                       transaction_id=started.transaction_id)
        await hass.async_block_till_done()
        await action(hass, "set_charging_profile", device_id=device_id(hass, "CP-1_1"), limit=16, unit="A",
                     stack_level=2)
        assert profiles_sent(cp)[-1]["profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"] == (
            16 * 230 * 3
        )
        await cp.meter(1, [
            sampled("230", "Voltage", "V", phase="L1-N"),
            sampled("10", "Current.Import", "A", phase="L1"),
            sampled("10", "Current.Import", "A", phase="L2"),
            sampled("0.2", "Current.Import", "A", phase="L3"),
        ], transaction_id=started.transaction_id)
        await hass.async_block_till_done()
        await action(hass, "set_charging_profile", device_id=device_id(hass, "CP-1_1"), limit=16, unit="A",
                     stack_level=2)
        period = profiles_sent(cp)[-1]["profile"]["charging_schedule"]
        assert period["charging_rate_unit"] == "W"
        assert period["charging_schedule_period"][0]["limit"] == 16 * 230 * 2


class NoTxProfileCharger(ControlCharger):
    """Takes every profile but a TxProfile."""

    units = ("A",)

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        await self._answer("SetChargingProfile", "Accepted", connector_id=connector_id, profile=cs_charging_profiles)
        if cs_charging_profiles["charging_profile_purpose"] == "TxProfile":
            if self.answers.get("TxProfile") == CALLERROR:
                raise InternalError(description="no TxProfile here")
            return call_result.SetChargingProfile(status="Rejected")
        return call_result.SetChargingProfile(status="Accepted")


async def test_a_refused_tx_profile_leaves_the_limit_in_force(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    entry = await setup_entry()
    runtime_of(entry).limits.min_interval = 0
    async with charger(port_of(entry), "CP-1", cls=NoTxProfileCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await ready_without_units(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        await set_number(hass, "CP-1_1_current_limit", 10)
        assert f"CP-1 refused the TxProfile of transaction {started.transaction_id}" in caplog.text
        cp.answers["TxProfile"] = CALLERROR
        await set_number(hass, "CP-1_1_current_limit", 12)
        assert "CP-1: TxProfile not set" in caplog.text
        assert float(state(hass, "CP-1_1_current_limit", "number")) == 12


async def test_a_charger_that_refused_limits_and_takes_them_again(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    runtime_of(hub.entry).limits.min_interval = 0
    hub.boot_grace_seconds = 0
    issues = ir.async_get(hass)
    async with charger(port_of(entry), "CP-1", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        cp.answers["SetChargingProfile"] = "Rejected"
        await ready(hass, entry, cp)
        connector_1 = device_id(hass, "CP-1_1")
        for _attempt in range(3):
            with pytest.raises(HomeAssistantError):
                await action(hass, "set_charging_profile", device_id=connector_1, limit=10, unit="A")
        await hass.async_block_till_done()
        assert issues.async_get_issue(DOMAIN, "smart_charging_unsupported_CP-1") is not None

        # It boots again and says it has Smart Charging: refused in our eyes still, the issue stays.
        await cp.boot()
        await wait_for(lambda: hub.central.sessions["CP-1"]._background == set(), what="the follow-up of the boot")
        assert issues.async_get_issue(DOMAIN, "smart_charging_unsupported_CP-1") is not None

        # Now it takes a limit: the issue goes and the numbers are back.
        cp.answers["SetChargingProfile"] = "Accepted"
        await action(hass, "set_charging_profile", device_id=connector_1, limit=10, unit="A")
        await hass.async_block_till_done()
        assert issues.async_get_issue(DOMAIN, "smart_charging_unsupported_CP-1") is None
        assert float(state(hass, "CP-1_1_current_limit", "number")) == 10

        # Rebooted, it refuses the limit sent again: a warning, the limit stays Home Assistant's.
        caplog.set_level(logging.WARNING)
        cp.answers["SetChargingProfile"] = "Rejected"
        await cp.boot()
        await wait_for(lambda: "CP-1: could not restore the limit of connector 1" in caplog.text, what="a warning")
        assert issues.async_get_issue(DOMAIN, "smart_charging_unsupported_CP-1") is None
