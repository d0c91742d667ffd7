"""The quirk table: detection from BootNotification, the user's choice, README, the demo charger."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib.machinery
import importlib.util
from pathlib import Path
import random
import re
import sys
from types import ModuleType
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_device
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from websockets.asyncio.client import connect

from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.engine.quirks import (
    BY_NAME,
    CHOICES,
    PROFILES,
    QUIRK_FLAGS,
    Quirks,
    detect,
    markdown_table,
    resolve,
)
from custom_components.ocpp_cs.engine.state import ChargerState

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .flow_helpers import strings
from .helpers import find_device, wait_for
from .quirk_charger import PLAYS, QuirkCharger, playing
from .test_quirks_limits import ready
from .test_smart_charging import set_number

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    """Import one of scripts/ (the demo charger has no .py suffix), once."""
    module_name = "script_" + name.replace(".py", "")
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader = importlib.machinery.SourceFileLoader(module_name, str(ROOT / "scripts" / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_every_profile_is_detected_from_its_boot_notification(
    hass: HomeAssistant, setup_entry: EntryFactory, name: str
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-D", cls=playing(name)) as cp:
        assert isinstance(cp, QuirkCharger)
        answer = await cp.boot()
        assert answer.status == "Accepted"  # an empty vendor (Huawei) too
        state_of = hub_of(entry).central.chargers["CP-D"]
        in_force = state_of.quirk_profile_in_force()
        assert in_force is not None and in_force.name == name
        assert state_of.quirks == BY_NAME[name].quirks


@pytest.mark.parametrize(
    ("vendor", "model", "firmware", "expected"),
    [
        ("Wall Box Chargers", "PLP1-0-2-3", "6.4.41", "wallbox"),
        ("WALLBOX", "Commander 2", None, "wallbox"),
        ("United Chargers", "GRS-*", "03.09.0", "grizzl_e_03_09"),
        ("United Chargers", "GRS-*", "03.10.2", "grizzl_e_03_09"),
        ("United Chargers", "GRS-*", "03.11.0", "grizzl_e"),
        ("United Chargers", "GRS-*", None, "grizzl_e"),
        ("Acme", "Grizzl-E Mini Connect", "5.1", "grizzl_e"),
        ("", "ACChargePoint", "SmartCharger-22KT-S0", "huawei_scharger"),
        ("HUAWEI", "SCharger-7KS-S0", None, "huawei_scharger"),
        ("", "SomethingElse", None, None),
        ("ABB", "TAC-W11-G5-R0", None, "abb_terra_ac"),
        ("ABB", "Terra AC wallbox", None, "abb_terra_ac"),
        ("Acme", "TACW1142521G1487", None, "abb_terra_ac"),
        ("ABB", "Terra 54", None, None),  # a DC charger
        ("ABB", "Terra 184", None, None),
        ("Acme", "Tactical 22", None, None),
        ("  autel ", "MaxiChargerAC", None, "autel_maxicharger"),
        ("Bender GmbH Co. KG", "CC612", "4.12-2464", "bender_cc612"),
        ("Acme", "ICC1324", None, "bender_cc612"),
        ("EV-BOX", "G3", None, None),  # only the Elvi is known to need the profile
        ("EVBox", "BusinessLine", None, None),
        ("EVBox", "Elvi", None, "evbox_elvi"),
        ("EV-BOX", "ELVI-22", None, "evbox_elvi"),
        ("Schneider Electric", "EVlink Pro AC", None, "schneider_evlink"),
        ("Sim", "Sim-22", "1.0", None),
        ("ocpp_cs", "Demo 22kW", "1.4.2", None),
        (None, None, None, None),
    ],
)
def test_detection_rules(vendor: str | None, model: str | None, firmware: str | None, expected: str | None) -> None:
    detected = detect(vendor, model, firmware)
    assert (detected.name if detected else None) == expected
    # The user's choice wins; `none` is none; a name this version does not know counts as `auto`.
    assert resolve("none", vendor, model, firmware) is None
    assert resolve("autel_maxicharger", vendor, model, firmware) is BY_NAME["autel_maxicharger"]
    assert resolve("gone_in_a_later_version", vendor, model, firmware) is detected


def test_the_table_is_consistent() -> None:
    assert len({p.brand.split(" (")[0].split(" ")[0].lower() for p in PROFILES}) >= 10  # brands
    assert len(BY_NAME) == len(PROFILES)
    assert CHOICES[:2] == ("auto", "none")
    test_names = {
        node.name
        for path in (ROOT / "tests").glob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name.startswith("test_")
    }
    for profile in PROFILES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", profile.name), profile.name
        assert profile.matches(profile.example.vendor, profile.example.model, profile.example.firmware)
        assert detect(profile.example.vendor, profile.example.model, profile.example.firmware) is profile
        flags = {b.flag for b in profile.behaviours if b.flag is not None}
        # Every behaviour a profile changes is documented, and every documented flag is set.
        assert flags == set(profile.quirks.changed()), profile.name
        assert flags <= set(QUIRK_FLAGS)
        for behaviour in profile.behaviours:
            assert behaviour.test in test_names, behaviour.test
            assert behaviour.plays is None or behaviour.plays in PLAYS, behaviour.plays
            assert re.search(r"\((V|M|S|V/M)\)$", behaviour.source), behaviour.source
    assert Quirks().changed() == ()


def test_readme_table_is_generated_from_the_code() -> None:
    generator = load_script("gen_quirks_table.py")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert generator.between_markers(readme) == generator.generated(), "run scripts/gen_quirks_table.py"
    assert generator.generated() == "\n" + markdown_table(PROFILES)
    section = readme[readme.index("## Supported chargers") : readme.index("## Known charger quirks")]
    assert generator.START in section and generator.END in section
    for profile in PROFILES:
        assert f"(`{profile.name}`)" in section


def test_choices_have_strings() -> None:
    selector = strings()["selector"]["quirk_profile"]["options"]
    assert list(selector) == list(CHOICES)
    for profile in PROFILES:
        assert selector[profile.name] == profile.brand


async def test_choice_in_charger_settings(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-O", cls=playing("wallbox")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        flow = await hass.config_entries.options.async_init(entry.entry_id)
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"next_step_id": "charger_settings"})
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"charger": "CP-O"})
        assert flow["step_id"] == "charger_details"
        detected = flow["description_placeholders"]["detected_quirk_profile"]
        assert detected == "Wallbox Pulsar / Commander / Copper (wallbox)"
        fields = {str(key): key for key in flow["data_schema"].schema}
        assert fields["quirk_profile"].default() == "auto"
        flow = await hass.config_entries.options.async_configure(
            flow["flow_id"], {"max_current": 32, "phases": "3", "quirk_profile": "none"}
        )
        assert flow["type"] == "create_entry"
        central = hub_of(entry).central
        assert central.chargers["CP-O"].quirk_profile == "none"
        assert central.chargers["CP-O"].quirk_profile_in_force() is None
        # Kept with the charger's other settings, across a restart.
        restored = ChargerState.from_dict(central.chargers["CP-O"].to_dict())
        assert restored.quirk_profile == "none"
        with pytest.raises(ValueError, match="unknown quirk profile"):
            central.set_quirk_profile("CP-O", "no_such_profile")
        central.set_quirk_profile("CP-O", "autel_maxicharger")
        flow = await hass.config_entries.options.async_init(entry.entry_id)
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"next_step_id": "charger_settings"})
        flow = await hass.config_entries.options.async_configure(flow["flow_id"], {"charger": "CP-O"})
        fields = {str(key): key for key in flow["data_schema"].schema}
        assert fields["quirk_profile"].default() == "autel_maxicharger"


async def test_diagnostics_show_the_quirk_profile(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-G", cls=playing("grizzl_e_03_09")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        device = find_device(hass, "CP-G")
        assert device is not None
        data = await get_diagnostics_for_device(hass, hass_client, entry, device)
        assert data["quirks"] == {
            "choice": "auto",
            "detected": "grizzl_e_03_09",
            "in_force": "grizzl_e_03_09",
            "changed": ["stack_level_zero", "min_current", "whole_amps", "charge_point_max_ignored"],
        }
        assert data["quirk_profile"] == "auto"


def test_demo_charger_lists_and_plays_every_profile() -> None:
    demo = load_script("demo_charger")
    assert set(demo.PLAYS) == PLAYS  # the demo plays what the tests play
    listing = demo.quirk_list()
    for profile in PROFILES:
        assert f"{profile.name}: {profile.brand}" in listing
        assert demo.plays_of(profile) <= set(demo.PLAYS)


@pytest.mark.parametrize("name", list(BY_NAME))
async def test_demo_charger_plays_a_profile(hass: HomeAssistant, setup_entry: EntryFactory, name: str) -> None:
    demo = load_script("demo_charger")
    entry = await setup_entry(limit_stack_level=1)
    station = demo.Station(
        charge_point_id="DEMO-Q",
        serial="DEMO-0001",
        connectors={1: demo.Connector(connector_id=1, energy_wh=1000.0, next_session=1e12)},
        configuration=demo.default_configuration(1),
        speed=1.0,
        rng=random.Random(1),
        state_file=None,
    )
    demo.play_quirks(station, name)
    async with connect(f"ws://127.0.0.1:{port_of(entry)}/ocpp/DEMO-Q", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        session = demo.DemoChargePoint(station, ws)
        running = asyncio.get_running_loop().create_task(session.run())
        central = hub_of(entry).central
        try:
            await wait_for(lambda: "DEMO-Q" in central.chargers, what="the demo charger")
            state_of = central.chargers["DEMO-Q"]
            await wait_for(lambda: state_of.boot.model == BY_NAME[name].example.model, what="its boot")
            in_force = state_of.quirk_profile_in_force()
            assert in_force is not None and in_force.name == name
            await wait_for(lambda: "SupportedFeatureProfiles" in state_of.configuration, what="configuration read")
            plays = demo.plays_of(BY_NAME[name])
            unit_reported = "ChargingScheduleAllowedChargingRateUnit" in state_of.configuration
            assert unit_reported == ("takes_watts_only_unreported" not in plays)
            if "booleans_as_int" in plays:
                assert state_of.config_value("AuthorizeRemoteTxRequests") == "0"
            await hass.async_block_till_done()
            # A limit of 8.8 A on the connector: the integration copes with what the charger plays.
            if "no_smart_charging" in plays:
                assert not runtime_of(entry).limits.supported("DEMO-Q")
            elif "rejects_profiles_settings_disabled" in plays:
                with pytest.raises(HomeAssistantError) as raised:
                    await set_number(hass, "DEMO-Q_1_current_limit", 8.8)
                assert raised.value.translation_key == "refused_hint"
            else:
                await set_number(hass, "DEMO-Q_1_current_limit", 8.8)
                installed = [p for p in station.profiles if p.purpose == "TxDefaultProfile" and p.connector_id == 1]
                assert len(installed) == 1, station.profiles
                limit = installed[0].periods[0][1]
                expected = 8.0 if BY_NAME[name].quirks.whole_amps else 8.8
                assert limit == (round(expected * 230 * 3, 1) if "takes_watts_only_unreported" in plays else expected)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running


async def test_demo_charger_session_with_its_own_transaction_ids(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """A whole demo story (plug, start, meter values, stop) of a charger that uses its own transaction ids."""
    demo = load_script("demo_charger")
    entry = await setup_entry()
    stopped: list[dict[str, Any]] = []
    hass.bus.async_listen(EVENT_TRANSACTION_STOPPED, lambda event: stopped.append(dict(event.data)))
    loop = asyncio.get_running_loop()
    station = demo.Station(
        charge_point_id="DEMO-E",
        serial="DEMO-0002",
        connectors={1: demo.Connector(connector_id=1, energy_wh=1000.0, next_session=loop.time() + 0.2)},
        configuration=demo.default_configuration(1),
        speed=200.0,
        rng=random.Random(3),
        state_file=None,
    )
    demo.play_quirks(station, "etrel_inch")
    async with connect(f"ws://127.0.0.1:{port_of(entry)}/ocpp/DEMO-E", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        running = loop.create_task(demo.DemoChargePoint(station, ws).run())
        try:
            await wait_for(lambda: bool(stopped), timeout=20, what="a whole session")
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running
    central = hub_of(entry).central
    assert stopped[0]["transaction_id"] == 1  # ours, though the charger said 700001
    assert 0 < stopped[0]["energy"] < 100
    assert central.chargers["DEMO-E"].connectors[1].transaction is None
    assert not central.open_transactions
