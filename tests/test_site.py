"""Site energy management with real chargers: a 25 A fuse, a house whose load changes, solar, fail-safe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.diagnostics import async_get_config_entry_diagnostics
from custom_components.ocpp_cs.engine.site import Mode
from custom_components.ocpp_cs.site import grid_stale_issue_id

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .control_charger import ControlCharger
from .flow_helpers import configure, form_values, options_step
from .helpers import entity_id, sampled, state, wait_for
from .test_control import booted

GRID = ("sensor.grid_l1", "sensor.grid_l2", "sensor.grid_l3")
SITE = {"main_fuse_current": 25, "grid_current_entities": list(GRID)}
BASE, STEERING, TRANSACTION = 3001, 3101, 3201


class SiteCharger(ControlCharger):
    """A one-connector, three-phase charger that takes profiles in A up to stack level 3."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = [
            {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
            {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,RemoteTrigger,SmartCharging"},
            {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
            {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
        ]


def grid(hass: HomeAssistant, *amperes: float | str) -> None:
    """Report the grid's current per phase (positive = import), as a meter's sensors would."""
    for sensor, value in zip(GRID, amperes, strict=True):
        hass.states.async_set(sensor, str(value), {"unit_of_measurement": "A", "device_class": "current"})


def profiles(cp: ControlCharger, profile_id: int) -> list[dict[str, Any]]:
    """Return the SetChargingProfile payloads the charger got with a profile id, oldest first."""
    return [
        request["profile"]
        for name, request in cp.received
        if name == "SetChargingProfile" and request["profile"]["charging_profile_id"] == profile_id
    ]


def limits(cp: ControlCharger, profile_id: int = STEERING) -> list[float]:
    """Return the limits of the profiles with this id the charger got, oldest first."""
    return [float(p["charging_schedule"]["charging_schedule_period"][0]["limit"]) for p in profiles(cp, profile_id)]


def site_requests(cp: ControlCharger) -> list[tuple[str, dict[str, Any]]]:
    """Return every profile request of the charger (SetChargingProfile, ClearChargingProfile)."""
    return [(name, request) for name, request in cp.received if "ChargingProfile" in name]


async def plugged_in(hass: HomeAssistant, entry: Any, cp: ControlCharger) -> None:
    """Boot, report a car plugged in, and wait until its configuration is read."""
    await booted(hass, cp, connectors=1)
    await cp.status(1, "Preparing")
    charger_state = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "ChargeProfileMaxStackLevel" in charger_state.configuration, what="configuration")
    await hass.async_block_till_done()


async def set_mode(hass: HomeAssistant, charge_point_id: str, mode: str) -> None:
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, f"{charge_point_id}_1_charging_mode", "select"), "option": mode},
        blocking=True,
    )


async def set_priority(hass: HomeAssistant, charge_point_id: str, priority: int) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, f"{charge_point_id}_1_charging_priority", "number"), "value": priority},
        blocking=True,
    )


async def test_two_chargers_share_the_fuse_and_follow_the_house_load(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    port = port_of(entry)
    async with (
        charger(port, "CP-1", cls=SiteCharger) as cp1,
        charger(port, "CP-2", cls=SiteCharger) as cp2,
        charger(port, "CP-3", cls=SiteCharger) as cp3,
    ):
        assert isinstance(cp1, SiteCharger) and isinstance(cp2, SiteCharger) and isinstance(cp3, SiteCharger)
        for cp in (cp1, cp2, cp3):
            await plugged_in(hass, entry, cp)
        assert state(hass, "CP-1_1_charging_mode", "select") == "manual"
        assert float(state(hass, "CP-1_1_charging_priority", "number")) == 5
        await set_priority(hass, "CP-1", 3)
        await set_priority(hass, "CP-2", 7)
        await set_mode(hass, "CP-1", "fast")
        await set_mode(hass, "CP-2", "fast")
        await wait_for(lambda: bool(limits(cp1) and limits(cp2)), what="the first site limits")

        # First the fail-safe: the base profile holds the fallback current for good, at the
        # limits' stack level; the steering profile above it expires after 8 minutes.
        base = profiles(cp1, BASE)[0]
        assert base["stack_level"] == 0
        assert base["charging_profile_purpose"] == "TxDefaultProfile"
        assert "valid_to" not in base
        assert base["charging_schedule"]["charging_schedule_period"] == [{"start_period": 0, "limit": 6.0}]
        steering = profiles(cp1, STEERING)[0]
        assert steering["stack_level"] == 1
        assert steering["charging_schedule"]["duration"] == 480
        assert "valid_to" in steering
        # 25 A fuse - 1 A margin - 5 A house: 19 A per phase. Minimums first, the rest to the
        # higher priority.
        await wait_for(lambda: (limits(cp1)[-1], limits(cp2)[-1]) == (6.0, 13.0), what="the priorities' shares")
        await wait_for(lambda: runtime_of(entry).site.sender.idle, what="the answers")
        site = (await async_get_config_entry_diagnostics(hass, entry))["site"]
        assert site["enabled"] is True and site["grid_stale"] is False
        assert site["connectors"]["CP-2/1"]["mode"] == "fast"
        assert site["connectors"]["CP-2/1"]["priority"] == 7
        assert site["connectors"]["CP-2/1"]["sent"]["limit"] == 13.0
        assert state(hass, f"{entry.entry_id}_site_headroom_current") == "20.0"

        # The house takes 15 A on L1 (the meter shows it with the chargers' 19 A): 9 A are left
        # on L1, one minimum fits. Both lowerings go out at this sensor update; the lower
        # priority pauses.
        sent = (len(limits(cp1)), len(limits(cp2)))
        grid(hass, 34, 24, 24)
        await wait_for(
            lambda: len(limits(cp1)) > sent[0] and len(limits(cp2)) > sent[1], what="the lowering for the fuse"
        )
        assert limits(cp1)[-1] == 0.0
        assert limits(cp2)[-1] == 9.0
        assert float(state(hass, f"{entry.entry_id}_site_headroom_current")) == -9.0
        await hass.async_block_till_done()

        # CP-3 stayed manual: the controller sent it nothing.
        assert site_requests(cp3) == []


async def test_stale_grid_sensor_sends_the_fallback_and_raises_a_repair_issue(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    issue_id = grid_stale_issue_id(entry.entry_id)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(limits(cp)), what="the first site limit")
        assert limits(cp)[-1] == 19.0
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

        grid(hass, "unavailable", 5, 5)
        await wait_for(lambda: limits(cp)[-1] == 6.0, what="the fallback current")
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "site_grid_stale"
        assert issue.translation_placeholders == {"entities": ", ".join(GRID), "fallback_current": "6"}

        grid(hass, 5, 5, 5)
        await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None, what="the issue cleared")


async def settle(predicate: Callable[[], bool], what: str) -> None:
    """Run the loop until `predicate` holds, without sleeping: the clock is frozen."""
    for _ in range(20000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"no {what}")


async def advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: int, sender: Any, amperes: float
) -> None:
    """Move the clock on in 10 s steps, the grid sensors reporting, each step's messages answered.

    Small steps: the WebSockets' keep-alive pings (30 s) and the calls' answer timeouts (30 s)
    run on this clock too.
    """
    for _ in range(seconds // 10):
        freezer.tick(timedelta(seconds=10))
        grid(hass, amperes, amperes, amperes)
        async_fire_time_changed(hass)
        for _ in range(200):
            await asyncio.sleep(0)
        await settle(lambda: sender.idle, "answers")


async def test_profiles_are_refreshed_before_they_expire(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 1000)
        await cp.status(1, "Charging")
        await set_mode(hass, "CP-1", "fast")
        sender = runtime_of(entry).site.sender
        # Answered before the clock moves (a call waits 30 s at most for its answer).
        await settle(lambda: bool(profiles(cp, TRANSACTION)) and sender.idle, "the first site limits")
        first = profiles(cp, STEERING)[-1]
        # The running transaction gets its TxProfile: the limit, then the fallback from 480 s.
        tx = profiles(cp, TRANSACTION)[-1]
        assert tx["transaction_id"] == started.transaction_id
        assert tx["charging_profile_purpose"] == "TxProfile"
        periods = tx["charging_schedule"]["charging_schedule_period"]
        assert periods == [{"start_period": 0, "limit": 19.0}, {"start_period": 480, "limit": 6.0}]
        count = len(profiles(cp, STEERING))

        # Four minutes on: nothing changed (the meter shows the house's 5 A and the car's 19 A),
        # nothing is sent.
        await advance(hass, freezer, 240, sender, 24)
        assert len(profiles(cp, STEERING)) == count
        # Five minutes after the send, three before it expires: sent again, valid 8 minutes more.
        await advance(hass, freezer, 70, sender, 24)
        await settle(lambda: len(profiles(cp, STEERING)) > count, "the refresh")
        refreshed = profiles(cp, STEERING)[-1]
        assert refreshed["valid_to"] > first["valid_to"]
        assert limits(cp)[-1] == 19.0
        await settle(lambda: len(profiles(cp, TRANSACTION)) > 1 and sender.idle, "the TxProfile refreshed")


async def test_back_to_manual_clears_the_site_profiles_and_restores_the_users_limit(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await hass.services.async_call(
            "number", "set_value", {"entity_id": entity_id(hass, "CP-1_1_current_limit", "number"), "value": 16},
            blocking=True,
        )
        user_limit = runtime_of(entry).limits.limit_profile_id(1)
        assert limits(cp, user_limit) == [16.0]
        await set_mode(hass, "CP-1", "solar")
        await wait_for(lambda: bool(profiles(cp, BASE)), what="the base profile")

        await set_mode(hass, "CP-1", "manual")
        await wait_for(lambda: len(limits(cp, user_limit)) == 2, what="the user's limit again")
        cleared = [request["id"] for name, request in cp.received if name == "ClearChargingProfile"]
        assert cleared == [STEERING, TRANSACTION, BASE]
        assert limits(cp, user_limit)[-1] == 16.0


async def test_mode_and_priority_are_restored(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "min_solar")
        await set_priority(hass, "CP-1", 8)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    site = runtime_of(entry).site
    assert site.mode("CP-1", 1) is Mode.MIN_SOLAR
    assert site.priority("CP-1", 1) == 8
    assert state(hass, "CP-1_1_charging_mode", "select") == "min_solar"
    assert float(state(hass, "CP-1_1_charging_priority", "number")) == 8


async def test_site_step_is_validated_and_applied_without_a_reload(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    hass.states.async_set("sensor.grid_power", "1.2", {"unit_of_measurement": "kW"})
    hass.states.async_set("sensor.not_power", "3", {"unit_of_measurement": "A"})
    entry = await setup_entry()
    runtime = runtime_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "fast")
        await hass.async_block_till_done()
        # No fuse, no grid measurement: the controller is off and sends nothing.
        assert runtime.site.controller is None
        assert site_requests(cp) == []

        form = await options_step(hass, entry, "site")
        assert form["step_id"] == "site"
        values = form_values(form)
        assert values == {"site_phases": "3", "fallback_current": 6.0, "solar_start_delay": 60, "solar_stop_delay": 300}
        cases = [
            ({"main_fuse_current": 25, "grid_current_entities": list(GRID[:2])}, "grid_current_entities",
             "grid_current_count"),
            ({"main_fuse_current": 25, "grid_power_entity": "sensor.not_power"}, "grid_power_entity",
             "grid_power_unit"),
            ({"main_fuse_current": 25}, "base", "grid_measurement_required"),
            ({"grid_power_entity": "sensor.grid_power"}, "main_fuse_current", "main_fuse_required"),
            ({"main_fuse_current": 5, "grid_power_entity": "sensor.grid_power", "fallback_current": 8},
             "fallback_current", "fallback_above_fuse"),
        ]
        for given, field, error in cases:
            result = await configure(hass, form["flow_id"], {**values, **given})
            assert result["type"] is FlowResultType.FORM
            assert result["errors"] == {field: error}

        result = await configure(hass, form["flow_id"], {**values, **SITE})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED and entry.runtime_data is runtime  # not reloaded
        assert entry.options["main_fuse_current"] == 25
        assert entry.options["grid_power_entity"] is None
        assert runtime.site.controller is not None
        await wait_for(lambda: bool(limits(cp)), what="the first site limit")

        # The Settings step keeps the Site options.
        form = await options_step(hass, entry, "settings")
        result = await configure(hass, form["flow_id"], form_values(form))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options["grid_current_entities"] == list(GRID)


async def test_min_current_is_a_charger_setting(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        form = await options_step(hass, entry, "charger_settings")
        details = await configure(hass, form["flow_id"], {"charger": "CP-1"})
        values = form_values(details)
        assert values["min_current"] == 6.0
        result = await configure(hass, details["flow_id"], {**values, "min_current": 40, "max_current": 32})
        assert result["errors"] == {"min_current": "min_above_max"}
        result = await configure(hass, details["flow_id"], {**values, "min_current": 8})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        central = hub_of(entry).central
        assert central.chargers["CP-1"].min_current == 8.0
        stored = next(c for c in central.snapshot()["chargers"] if c["charge_point_id"] == "CP-1")
        assert stored["min_current"] == 8.0


async def test_solar_starts_after_the_start_delay_and_pauses_after_the_stop_delay(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    def power(watts: float) -> None:
        hass.states.async_set("sensor.grid_power", str(watts / 1000), {"unit_of_measurement": "kW"})

    power(-5000)  # 5 kW of export: a three-phase minimum (6 A x 230 V x 3 = 4140 W) fits
    entry = await setup_entry(main_fuse_current=25, grid_power_entity="sensor.grid_power")
    sender = runtime_of(entry).site.sender
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "solar")
        # Taken over paused: it starts only once the surplus has lasted.
        await settle(lambda: bool(limits(cp)) and sender.idle, "the first site limit")
        assert limits(cp) == [0.0]

        async def minutes(count: float, watts: float) -> None:
            for _ in range(int(count * 6)):
                freezer.tick(timedelta(seconds=10))
                power(watts)
                async_fire_time_changed(hass)
                for _ in range(200):
                    await asyncio.sleep(0)
                await settle(lambda: sender.idle, "answers")

        await minutes(0.5, -5000)
        assert limits(cp) == [0.0]
        await minutes(1, -5000)
        assert limits(cp)[-1] == 7.2  # 5000 W / 690 W per A, down to 0.1 A
        # The meter now shows the car's 4968 W less export: the surplus is what it was.
        await minutes(1 / 6, -32)
        assert float(state(hass, f"{entry.entry_id}_site_surplus_power")) == 5000.0
        assert float(state(hass, f"{entry.entry_id}_site_charging_power")) == 4968.0

        # A cloud: the house imports 1 kW with the car at 7.2 A. The surplus (3968 W) no longer
        # gives the minimum; it holds the minimum for the stop delay, then pauses.
        await minutes(4, 1000)
        assert 0.0 not in limits(cp)[1:]
        await minutes(1.5, 1000)
        assert limits(cp)[-1] == 0.0


async def test_what_the_chargers_measure_and_every_grid_sensor_count(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    hass.states.async_set("sensor.grid_power", "-1000", {"unit_of_measurement": "W"})
    entry = await setup_entry(**SITE, grid_power_entity="sensor.grid_power")
    issue_id = grid_stale_issue_id(entry.entry_id)
    site = runtime_of(entry).site
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(limits(cp)) and site.sender.idle, what="the first site limit")
        # Assumed to draw its limit until it says what it draws: 19 A on three phases (the site
        # sensors show the controller's last step: the grid's next report).
        grid(hass, 24, 24, 24)
        await hass.async_block_till_done()
        assert float(state(hass, f"{entry.entry_id}_site_charging_power")) == 19 * 3 * 230
        currents = [sampled("10", "Current.Import", "A", phase=phase) for phase in ("L1", "L2", "L3")]
        await cp.meter(1, currents)
        await wait_for(
            lambda: state(hass, f"{entry.entry_id}_site_charging_power") == str(10.0 * 3 * 230),
            what="the measured draw",
        )
        for broken in ("unavailable", "n/a"):
            hass.states.async_set("sensor.grid_power", broken, {"unit_of_measurement": "W"})
            await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None, what="issue")
            hass.states.async_set("sensor.grid_power", "-1000", {"unit_of_measurement": "W"})
            await wait_for(lambda: ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None, what="no issue")
        hass.states.async_set("sensor.grid_power", "-0.001", {"unit_of_measurement": "MW"})
        await hass.async_block_till_done()
        assert site.decision is not None and site.decision.surplus_power == 1000.0
    # The charger went away: what it held is forgotten (it may come back without its profiles).
    await wait_for(lambda: not site.sender.sent, what="the charger forgotten")


async def test_a_fuse_lowering_reaches_the_running_transaction_first(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    sender = runtime_of(entry).site.sender
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await cp.start_transaction(1, "CARD", 1000)
        await cp.status(1, "Charging")
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(profiles(cp, TRANSACTION)) and sender.idle, what="the first site limits")
        seen = len(cp.received)
        # The house takes 21 A on L1 besides the car's 19 A: 3 A are left, below the minimum.
        grid(hass, 40, 24, 24)
        await wait_for(lambda: len(profiles(cp, TRANSACTION)) == 2 and sender.idle, what="the lowering")
        sent = [request["profile"] for name, request in cp.received[seen:] if name == "SetChargingProfile"]
        # The TxProfile is what limits a running transaction: it goes first.
        assert [p["charging_profile_id"] for p in sent] == [TRANSACTION, STEERING]
        assert [float(p["charging_schedule"]["charging_schedule_period"][0]["limit"]) for p in sent] == [0.0, 0.0]


async def test_no_repair_issue_while_home_assistant_starts(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    # The grid sensors' integration has not loaded yet.
    hass.set_state(CoreState.starting)
    entry = await setup_entry(**SITE)
    issue_id = grid_stale_issue_id(entry.entry_id)
    site = runtime_of(entry).site
    assert site.decision is not None and site.decision.grid_stale
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    hass.set_state(CoreState.running)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=6))
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    grid(hass, 5, 5, 5)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


class SwitchingCharger(SiteCharger):
    """A three-phase charger that says it switches to one phase during a session (OCPP 1.6 9.4.4)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append({"key": "ConnectorSwitch3to1PhaseSupported", "readonly": True, "value": "true"})


def phases_sent(cp: ControlCharger) -> list[int | None]:
    """Return the numberPhases of the steering profiles the charger got, oldest first (None: not set)."""
    return [p["charging_schedule"]["charging_schedule_period"][0].get("number_phases") for p in profiles(cp, STEERING)]


@pytest.mark.parametrize(("cls", "expected"), [(SwitchingCharger, 1), (SiteCharger, None)])
async def test_solar_switches_to_one_phase_where_the_charger_can(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    freezer: FrozenDateTimeFactory,
    cls: type[SiteCharger],
    expected: int | None,
) -> None:
    def power(watts: float) -> None:
        hass.states.async_set("sensor.grid_power", str(watts), {"unit_of_measurement": "W"})

    # 2.5 kW of export: one phase's minimum (6 A x 230 V = 1380 W) fits, three phases' (4140 W) not.
    power(-2500)
    entry = await setup_entry(main_fuse_current=25, grid_power_entity="sensor.grid_power")
    sender = runtime_of(entry).site.sender
    async with charger(port_of(entry), "CP-1", cls=cls) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "solar")
        await settle(lambda: bool(limits(cp)) and sender.idle, "the first site limit")
        for _ in range(12):  # two minutes: past the start delay
            freezer.tick(timedelta(seconds=10))
            # The meter sees the car draw what it was last allowed, on the phases it was given.
            drawn = limits(cp)[-1] * 230 * (phases_sent(cp)[-1] or 3)
            power(-2500 + drawn)
            async_fire_time_changed(hass)
            for _ in range(200):
                await asyncio.sleep(0)
            await settle(lambda: sender.idle, "answers")
        if expected is None:
            # It cannot switch: it waits for three phases' worth, paused, and no numberPhases is sent.
            assert set(limits(cp)) == {0.0}
            assert set(phases_sent(cp)) == {None}
        else:
            assert limits(cp)[-1] == pytest.approx(2500 / 230, abs=0.1)
            assert phases_sent(cp)[-1] == 1


async def limit_number(hass: HomeAssistant, charge_point_id: str, connector_id: int, value: float) -> None:
    await hass.services.async_call(
        "number",
        "set_value",
        {"entity_id": entity_id(hass, f"{charge_point_id}_{connector_id}_current_limit", "number"), "value": value},
        blocking=True,
    )


async def test_the_users_limit_never_replaces_the_base_profile_of_a_steered_connector(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Same stack level and purpose replace each other (OCPP 1.6 3.13.2): the site's base must win."""
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    runtime = runtime_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await limit_number(hass, "CP-1", 1, 16)
        await limit_number(hass, "CP-1", 0, 20)
        user_limit, charger_wide = runtime.limits.limit_profile_id(1), runtime.limits.limit_profile_id(0)
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(profiles(cp, BASE)) and runtime.site.sender.idle, what="the base profile")

        # Moving the limit of a steered connector says why it cannot, and sends nothing.
        with pytest.raises(ServiceValidationError) as raised:
            await limit_number(hass, "CP-1", 1, 10)
        assert raised.value.translation_key == "connector_steered"
        assert raised.value.translation_placeholders == {"charge_point_id": "CP-1", "connector_id": "1", "mode": "fast"}
        assert limits(cp, user_limit) == [16.0]
        assert float(state(hass, "CP-1_1_current_limit", "number")) == 16

        # The charger reboots on the same connection: the site's base goes out again, the user's
        # connector limit does not (the charger-wide ChargePointMaxProfile replaces no TxDefault: it does).
        await cp.boot()
        await wait_for(lambda: len(profiles(cp, BASE)) == 2, what="the base profile again")
        await wait_for(lambda: len(limits(cp, charger_wide)) == 2, what="the charger-wide limit again")
        await wait_for(lambda: runtime.site.sender.idle, what="the answers")
        await hass.async_block_till_done()
        assert limits(cp, user_limit) == [16.0]
        assert "could not restore" not in caplog.text  # skipped, not tried and refused
        base_level = profiles(cp, BASE)[-1]["stack_level"]
        tx_defaults = [
            p["charging_profile_id"]
            for name, request in cp.received
            if name == "SetChargingProfile"
            and (p := request["profile"])["charging_profile_purpose"] == "TxDefaultProfile"
            and p["stack_level"] == base_level
            and request["connector_id"] == 1
        ]
        assert tx_defaults[-1] == BASE

        # Given back: the user's stored limit is sent again.
        await set_mode(hass, "CP-1", "manual")
        await wait_for(lambda: len(limits(cp, user_limit)) == 2, what="the user's limit again")
        assert limits(cp, user_limit)[-1] == 16.0


async def test_taking_a_connector_over_clears_the_users_tx_profile(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """It overrides every TxDefaultProfile: left in force, a refused site TxProfile would leave it ruling."""
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    runtime = runtime_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await cp.start_transaction(1, "CARD", 1000)
        await cp.status(1, "Charging")
        await limit_number(hass, "CP-1", 1, 16)
        users_tx = runtime.limits.tx_profile_id(1)
        assert limits(cp, users_tx) == [16.0]
        seen = len(cp.received)
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(profiles(cp, TRANSACTION)) and runtime.site.sender.idle, what="the site limits")
        requests = [(name, request) for name, request in cp.received[seen:] if "ChargingProfile" in name]
        assert requests[0] == ("ClearChargingProfile", {"id": users_tx})


async def test_a_fallback_of_0_a_and_solar_delays_of_0_s_are_kept(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """0 A pauses the car when Home Assistant is gone (the safest): it is not the 6 A default."""
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE, fallback_current=0, solar_start_delay=0, solar_stop_delay=0)
    runtime = runtime_of(entry)
    controller = runtime.site.controller
    assert controller is not None
    assert (controller.config.fallback_current, controller.config.solar_start_delay) == (0.0, 0.0)
    assert controller.config.solar_stop_delay == 0.0
    async with charger(port_of(entry), "CP-1", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await set_mode(hass, "CP-1", "fast")
        await wait_for(lambda: bool(profiles(cp, BASE)), what="the base profile")
        assert limits(cp, BASE) == [0.0]

        form = await options_step(hass, entry, "site")
        values = form_values(form)
        assert (values["fallback_current"], values["solar_start_delay"], values["solar_stop_delay"]) == (0, 0, 0)
