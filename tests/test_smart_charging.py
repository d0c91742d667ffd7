"""Smart charging with real chargers: limits in A and W, refusals, bursts, restarts, profiles."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .control_charger import ControlCharger
from .helpers import action, device_id, entity_id, full_state, state, wait_for
from .test_control import booted


def profile(
    purpose: str = "TxDefaultProfile", periods: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    schedule = extra.pop("schedule", {})
    return {
        "chargingProfileId": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2024-01-01T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}] if periods is None else periods,
            **schedule,
        },
        **extra,
    }


def profiles_sent(cp: ControlCharger) -> list[dict[str, Any]]:
    return [request for name, request in cp.received if name == "SetChargingProfile"]


async def set_number(hass: HomeAssistant, unique_id: str, value: float) -> None:
    await hass.services.async_call(
        "number", "set_value", {"entity_id": entity_id(hass, unique_id, "number"), "value": value}, blocking=True
    )


def with_units(*units: str, profiles: str = "Core,RemoteTrigger,SmartCharging") -> type[ControlCharger]:
    class UnitCharger(ControlCharger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.units = units
            names = {"A": "Current", "W": "Power"}
            self.configuration = [
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
                {"key": "SupportedFeatureProfiles", "readonly": True, "value": profiles},
                {
                    "key": "ChargingScheduleAllowedChargingRateUnit",
                    "readonly": True,
                    "value": ",".join(names[u] for u in units),
                },
                {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
                {"key": "ChargingScheduleMaxPeriods", "readonly": True, "value": "4"},
            ]

    return UnitCharger


async def ready(hass: HomeAssistant, entry: Any, cp: ControlCharger) -> None:
    await booted(hass, cp)
    charger_state = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "ChargingScheduleAllowedChargingRateUnit" in charger_state.configuration, what="config")
    await hass.async_block_till_done()


async def test_amperes_only_charger_gets_watts_converted(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-A", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-A_0_power_limit", 11040)
        sent = profiles_sent(cp)[-1]
        assert sent["connector_id"] == 0
        profile = sent["profile"]
        assert profile["charging_profile_purpose"] == "ChargePointMaxProfile"
        schedule = profile["charging_schedule"]
        assert schedule["charging_rate_unit"] == "A"
        assert schedule["charging_schedule_period"][0]["limit"] == 16.0  # 11040 W / (230 V x 3)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-A_0_current_limit", "number")) == 16.0
        power = full_state(hass, "CP-A_0_power_limit", "number")
        assert float(power.state) == 11040
        assert power.attributes["converted"] is True
        assert power.attributes["sent_unit"] == "A"
        assert power.attributes["voltage"] == 230.0
        assert power.attributes["phases"] == 3
        # The charger-wide limit caps every connector's composite schedule, asked for in A.
        composites = ("CP-A_1_composite_limit", "CP-A_2_composite_limit")
        await wait_for(lambda: all(state(hass, unique_id) == "16.0" for unique_id in composites), what="composite")
        for unique_id in composites:
            composite = full_state(hass, unique_id)
            assert (composite.attributes["schedule_limit"], composite.attributes["schedule_unit"]) == (16.0, "A")
        asked = [request["charging_rate_unit"] for name, request in cp.received if name == "GetCompositeSchedule"]
        assert asked == ["A", "A"]


async def test_watts_only_charger_gets_amperes_converted_with_measured_voltage(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-W", cls=with_units("W")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        await cp.meter(1, [{"value": "240", "measurand": "Voltage", "phase": "L1-N", "unit": "V"}])
        await set_number(hass, "CP-W_1_current_limit", 10)
        profile = profiles_sent(cp)[-1]["profile"]
        assert profile["charging_profile_purpose"] == "TxDefaultProfile"
        assert profile["charging_schedule"]["charging_rate_unit"] == "W"
        assert profile["charging_schedule"]["charging_schedule_period"][0]["limit"] == 7200.0  # 10 A x 240 V x 3
        # Read back from the charger: the composite limit sensor of the connector, in A. The
        # charger refuses to answer in A, so it answers in W, converted like the limit.
        await wait_for(lambda: state(hass, "CP-W_1_composite_limit") == "10.0", what="composite read back")
        composite = full_state(hass, "CP-W_1_composite_limit")
        assert composite.attributes["unit_of_measurement"] == "A"
        assert composite.attributes["device_class"] == "current"
        assert composite.attributes["state_class"] == "measurement"
        assert (composite.attributes["schedule_limit"], composite.attributes["schedule_unit"]) == (7200.0, "W")
        asked = [request["charging_rate_unit"] for name, request in cp.received if name == "GetCompositeSchedule"]
        assert asked == ["A", None]


async def test_both_units_charger_gets_the_unit_as_set(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-B", cls=with_units("A", "W")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-B_2_power_limit", 7000)
        schedule = profiles_sent(cp)[-1]["profile"]["charging_schedule"]
        assert (schedule["charging_rate_unit"], float(schedule["charging_schedule_period"][0]["limit"])) == ("W", 7000)
        await set_number(hass, "CP-B_2_current_limit", 13.3)
        schedule = profiles_sent(cp)[-1]["profile"]["charging_schedule"]
        assert (schedule["charging_rate_unit"], float(schedule["charging_schedule_period"][0]["limit"])) == ("A", 13.3)
        # 0 pauses; between 0 and 6 A is refused before anything is sent.
        await set_number(hass, "CP-B_2_current_limit", 0)
        assert profiles_sent(cp)[-1]["profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"] == 0
        count = len(profiles_sent(cp))
        with pytest.raises(ServiceValidationError) as raised:
            await set_number(hass, "CP-B_2_current_limit", 3)
        assert raised.value.translation_key == "limit_out_of_range"
        assert len(profiles_sent(cp)) == count
        # Identical values are not sent again.
        await set_number(hass, "CP-B_2_current_limit", 0)
        assert len(profiles_sent(cp)) == count


async def test_running_transaction_gets_a_tx_profile_too(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-T", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        await set_number(hass, "CP-T_1_current_limit", 10)
        purposes = [
            (r["profile"]["charging_profile_purpose"], r["profile"].get("transaction_id")) for r in profiles_sent(cp)
        ]
        assert purposes[-2:] == [("TxDefaultProfile", None), ("TxProfile", started.transaction_id)]


async def test_charger_without_smart_charging(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-N", cls=with_units("A", profiles="Core,RemoteTrigger")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        assert state(hass, "CP-N_0_current_limit", "number") == "unavailable"
        assert state(hass, "CP-N_1_power_limit", "number") == "unavailable"
        assert ir.async_get(hass).async_get_issue(DOMAIN, "smart_charging_unsupported_CP-N") is not None
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "set_charging_profile", device_id=device_id(hass, "CP-N"), limit=16, unit="A")
        assert raised.value.translation_key == "feature_not_supported"
        assert profiles_sent(cp) == []


async def test_refused_limits(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    runtime_of(entry).limits.min_interval = 0
    async with charger(port_of(entry), "CP-R", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-R_1_current_limit", 16)
        cp.answers["SetChargingProfile"] = "Rejected"
        with pytest.raises(HomeAssistantError) as raised:
            await set_number(hass, "CP-R_1_current_limit", 10)
        assert raised.value.translation_key == "refused"
        # The number shows what the charger accepted, not what was asked.
        assert float(state(hass, "CP-R_1_current_limit", "number")) == 16

    async with charger(port_of(entry), "CP-X", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        cp.answers["SetChargingProfile"] = "Rejected"
        await ready(hass, entry, cp)
        for value in (10, 11, 12):
            with pytest.raises(HomeAssistantError):
                await set_number(hass, "CP-X_1_current_limit", value)
        await hass.async_block_till_done()
        assert ir.async_get(hass).async_get_issue(DOMAIN, "smart_charging_unsupported_CP-X") is not None
        assert state(hass, "CP-X_1_current_limit", "number") == "unavailable"


async def test_a_burst_sends_few_profiles_and_ends_at_the_last_value(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-U", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        before = len(profiles_sent(cp))
        values = [6 + i * 0.5 for i in range(50)]

        async def one(index: int, value: float) -> None:
            await asyncio.sleep(index * 0.02)
            await set_number(hass, "CP-U_0_current_limit", value)

        await asyncio.gather(*(one(i, v) for i, v in enumerate(values)))
        sent = profiles_sent(cp)[before:]
        assert 1 <= len(sent) <= 3
        assert sent[-1]["profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"] == values[-1]
        await hass.async_block_till_done()
        assert float(state(hass, "CP-U_0_current_limit", "number")) == values[-1]


async def test_limits_survive_a_restart_and_are_sent_again(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-P", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-P_1_current_limit", 12.5)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port_of(entry), "CP-P", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await cp.boot()
        await wait_for(lambda: len(profiles_sent(cp)) >= 1, what="limit sent again")
        profile = profiles_sent(cp)[0]["profile"]
        assert profile["charging_schedule"]["charging_schedule_period"][0]["limit"] == 12.5
        await hass.async_block_till_done()
        assert float(state(hass, "CP-P_1_current_limit", "number")) == 12.5


async def test_profile_rules_of_the_spec(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-S", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        dev = device_id(hass, "CP-S")

        bad: list[tuple[dict[str, Any], str]] = [
            ({"connector_id": 2, "charging_profile": profile("ChargePointMaxProfile")}, "charge_point_max_connector"),
            ({"connector_id": 1, "charging_profile": profile("TxProfile")}, "tx_profile_no_transaction"),
            ({"connector_id": 1, "limit": 10, "unit": "A", "purpose": "tx"}, "tx_profile_no_transaction"),
            (
                {"connector_id": 1, "charging_profile": profile(periods=[{"startPeriod": 0, "limit": 16.25}])},
                "limit_decimals",
            ),
            (
                {
                    "connector_id": 1,
                    "charging_profile": profile(
                        periods=[
                            {"startPeriod": 0, "limit": 16},
                            {"startPeriod": 600, "limit": 10},
                            {"startPeriod": 300, "limit": 8},
                        ]
                    ),
                },
                "periods_not_ascending",
            ),
            (
                {"connector_id": 1, "charging_profile": profile(periods=[{"startPeriod": 60, "limit": 16}])},
                "first_period_not_zero",
            ),
            ({"connector_id": 1, "charging_profile": profile(stackLevel=9)}, "stack_level_too_high"),
            (
                {
                    "connector_id": 1,
                    "charging_profile": profile(periods=[{"startPeriod": i * 60, "limit": 10} for i in range(5)]),
                },
                "too_many_periods",
            ),
            ({"connector_id": 1, "charging_profile": {"chargingProfileId": "x"}}, "invalid_profile"),
            ({"connector_id": 1, "charging_profile": profile(), "limit": 5}, "profile_or_limit"),
        ]
        for data, key in bad:
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "set_charging_profile", device_id=dev, **data)
            assert raised.value.translation_key == key, (data, key)
        assert profiles_sent(cp) == []

        answer = await action(hass, "set_charging_profile", device_id=dev, connector_id=1, charging_profile=profile())
        assert answer == {"status": "Accepted", "charging_profile_id": 7}
        answer = await action(
            hass,
            "set_charging_profile",
            device_id=device_id(hass, "CP-S_2"),
            limit=8,
            unit="A",
            stack_level=2,
            kind="recurring",
            recurrency="daily",
            duration=3600,
        )
        assert answer["status"] == "Accepted"
        sent = profiles_sent(cp)[-1]["profile"]
        assert (sent["charging_profile_kind"], sent["recurrency_kind"], sent["stack_level"]) == (
            "Recurring",
            "Daily",
            2,
        )

        # The plain limit form is the same limit the numbers show.
        answer = await action(hass, "set_charging_profile", device_id=dev, limit=20, unit="A")
        assert answer == {"status": "Accepted", "charging_profile_id": 1000}
        await hass.async_block_till_done()
        assert float(state(hass, "CP-S_0_current_limit", "number")) == 20

        schedule = await action(hass, "get_composite_schedule", device_id=dev, connector_id=1, duration=600)
        assert schedule["status"] == "Accepted"
        assert schedule["charging_schedule"]["charging_schedule_period"][0]["limit"] == 16.0

        assert await action(hass, "clear_charging_profile", device_id=dev) == {"status": "Accepted"}
        await hass.async_block_till_done()
        # Without a limit the number shows the one in force: the charger's maximum.
        assert float(state(hass, "CP-S_0_current_limit", "number")) == 32
        assert await action(hass, "clear_charging_profile", device_id=dev) == {"status": "Unknown"}


async def test_charger_settings_set_the_limit_range(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-O", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        assert full_state(hass, "CP-O_0_current_limit", "number").attributes["max"] == 32.0
        flow = await hass.config_entries.options.async_init(entry.entry_id)
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"next_step_id": "charger_settings"})
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"charger": "CP-O"})
        assert flow["step_id"] == "charger_details"
        flow = await hass.config_entries.options.async_configure(
            flow["flow_id"], {"max_current": 16, "phases": "1"}
        )
        assert flow["type"] == "create_entry"
        await hass.async_block_till_done()
        assert full_state(hass, "CP-O_0_current_limit", "number").attributes["max"] == 16.0
        assert full_state(hass, "CP-O_0_power_limit", "number").attributes["max"] == 3680  # 16 A x 230 V x 1
        # No limit was set: the numbers show the new maximum, the limit in force.
        assert float(state(hass, "CP-O_0_current_limit", "number")) == 16
        assert float(state(hass, "CP-O_1_power_limit", "number")) == 3680
        with pytest.raises(ServiceValidationError):
            await set_number(hass, "CP-O_0_current_limit", 20)
        charger_state = hub_of(entry).central.chargers["CP-O"]
        assert (charger_state.max_current, charger_state.phases) == (16.0, 1)


async def test_numbers_show_the_limit_in_force(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-F", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)

        def shown(unique_id: str) -> float:
            return float(state(hass, unique_id, "number"))

        # Nothing set: the charger's maximum (32 A; x 230 V x 3 phases in W), not an empty field.
        for scope in ("CP-F_0", "CP-F_1", "CP-F_2"):
            assert shown(f"{scope}_current_limit") == 32
            assert shown(f"{scope}_power_limit") == 22080

        # A charger-wide limit holds every connector that has none of its own.
        await set_number(hass, "CP-F_0_current_limit", 16)
        await hass.async_block_till_done()
        assert [shown(f"CP-F_{c}_current_limit") for c in (0, 1, 2)] == [16, 16, 16]
        assert shown("CP-F_1_power_limit") == 11040

        # A connector's own limit is what it shows.
        await set_number(hass, "CP-F_1_current_limit", 10)
        await hass.async_block_till_done()
        assert [shown(f"CP-F_{c}_current_limit") for c in (0, 1, 2)] == [16, 10, 16]

        # Cleared: back to the maximum where nothing else holds.
        dev = device_id(hass, "CP-F")
        assert await action(hass, "clear_charging_profile", device_id=dev, purpose="charge_point_max") == {
            "status": "Accepted"
        }
        await hass.async_block_till_done()
        assert [shown(f"CP-F_{c}_current_limit") for c in (0, 1, 2)] == [32, 10, 32]


async def test_power_limit_range_follows_the_nominal_voltage_not_the_wobble(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    # The range is kept in the entity registry: mains wobble must not rewrite it at every write.
    entry = await setup_entry()
    registry_updates: list[str] = []

    def registry_updated(event: Any) -> None:
        if event.data.get("action") == "update" and "power_limit" in event.data.get("entity_id", ""):
            registry_updates.append(event.data["entity_id"])

    hass.bus.async_listen("entity_registry_updated", registry_updated)
    async with charger(port_of(entry), "CP-V", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        for volts, limit in (("228.4", 9), ("233.1", 10), ("229.9", 11)):
            await cp.meter(1, [{"value": volts, "measurand": "Voltage", "phase": "L1-N", "unit": "V"}])
            await set_number(hass, "CP-V_1_power_limit", limit * 230 * 3)
            assert full_state(hass, "CP-V_1_power_limit", "number").attributes["max"] == 22080  # 32 A x 230 V x 3
        assert registry_updates == []
        # A 120 V supply is another grid: the range follows it.
        await cp.meter(1, [{"value": "118.6", "measurand": "Voltage", "phase": "L1-N", "unit": "V"}])
        await set_number(hass, "CP-V_1_power_limit", 3000)
        assert full_state(hass, "CP-V_1_power_limit", "number").attributes["max"] == 11520  # 32 A x 120 V x 3
