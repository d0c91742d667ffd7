"""Quirk profiles and charging limits: chargers that play a known brand's behaviour, and how we cope.

Each scenario also turns the profile off (`none`) to show the behaviour is real: the same limit
is then refused or silently not applied by the simulated charger.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.quirks import PROFILES
from custom_components.ocpp_cs.smart_charging import REFUSALS_BEFORE_UNSUPPORTED

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .helpers import action, device_id, has_entity, state, wait_for
from .quirk_charger import QuirkCharger, playing
from .test_site import BASE, SITE, grid, limits, profiles, set_mode
from .test_smart_charging import set_number


def sent(cp: QuirkCharger) -> dict[str, Any]:
    """Return the last SetChargingProfile request (connector id and profile)."""
    return next(request for name, request in reversed(cp.received) if name == "SetChargingProfile")


def applied(cp: QuirkCharger, connector_id: int, purpose: str) -> float | None:
    """Return the limit the simulated charger applies for a purpose, None when it has none."""
    profile = cp.profiles.get((connector_id, purpose))
    return None if profile is None else float(profile["charging_schedule"]["charging_schedule_period"][0]["limit"])


async def ready(hass: HomeAssistant, entry: Any, cp: QuirkCharger, connectors: int = 1) -> None:
    """Boot with the profile's BootNotification; wait until the configuration is read."""
    await cp.boot()
    for connector_id in range(connectors + 1):
        await cp.status(connector_id, "Available")
    state_of = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "SupportedFeatureProfiles" in state_of.configuration, what="configuration read")
    await hass.async_block_till_done()
    assert state_of.quirk_profile_in_force() is cp.profile
    if "no_smart_charging" not in cp.plays:
        # A number that is not available yet would ignore the value set (no profile would go out).
        limit = f"{cp.id}_{connectors}_current_limit"
        await wait_for(
            lambda: has_entity(hass, limit, "number") and state(hass, limit, "number") != "unavailable",
            what="limit numbers",
        )


def no_profile(hass: HomeAssistant, entry: Any, charge_point_id: str) -> None:
    hub_of(entry).central.set_quirk_profile(charge_point_id, "none")


@pytest.mark.parametrize("name", [p.name for p in PROFILES if p.quirks.stack_level_zero])
async def test_stack_level_zero(hass: HomeAssistant, setup_entry: EntryFactory, name: str) -> None:
    # Local controller users pick a stack level to combine with an upstream's profiles.
    entry = await setup_entry(limit_stack_level=2)
    async with charger(port_of(entry), "CP-Z", cls=playing(name)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-Z_1_current_limit", 16)
        assert sent(cp)["profile"]["stack_level"] == 0
        assert applied(cp, 1, "TxDefaultProfile") == 16
        no_profile(hass, entry, "CP-Z")
        with pytest.raises(HomeAssistantError, match="Rejected"):
            await set_number(hass, "CP-Z_1_current_limit", 20)
        assert sent(cp)["profile"]["stack_level"] == 2


async def test_stack_level_within_charge_profile_max_stack_level(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(limit_stack_level=2)
    async with charger(port_of(entry), "CP-M", cls=playing("evbox_elvi")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        no_profile(hass, entry, "CP-M")  # read from ChargeProfileMaxStackLevel (0), for every charger
        await set_number(hass, "CP-M_1_current_limit", 16)
        assert sent(cp)["profile"]["stack_level"] == 0
        assert applied(cp, 1, "TxDefaultProfile") == 16


@pytest.mark.parametrize(("name", "minimum"), [("wallbox", 6), ("grizzl_e", 7)])
async def test_limits_in_whole_amps_above_the_minimum(
    hass: HomeAssistant, setup_entry: EntryFactory, name: str, minimum: int
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-W", cls=playing(name)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-W_1_current_limit", 8.8)
        assert applied(cp, 1, "TxDefaultProfile") == 8  # rounded down: never above the limit asked for
        assert float(state(hass, "CP-W_1_current_limit", "number")) == 8.8  # what the user set
        await action(hass, "set_charging_profile", device_id=device_id(hass, "CP-W"), connector_id=1, limit=4, unit="A")
        assert applied(cp, 1, "TxDefaultProfile") == minimum
        await set_number(hass, "CP-W_1_current_limit", 0)
        assert applied(cp, 1, "TxDefaultProfile") == 0  # 0 still pauses
        # Without the profile the charger takes both and applies neither.
        no_profile(hass, entry, "CP-W")
        await set_number(hass, "CP-W_1_current_limit", 9.5)
        assert float(sent(cp)["profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"]) == 9.5
        assert applied(cp, 1, "TxDefaultProfile") == 0


@pytest.mark.parametrize("name", ["grizzl_e_03_09", "evbox_elvi"])
async def test_charge_point_max_goes_out_as_tx_default(
    hass: HomeAssistant, setup_entry: EntryFactory, name: str
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-X", cls=playing(name)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        await set_number(hass, "CP-X_0_current_limit", 16)
        assert sent(cp)["connector_id"] == 1
        assert applied(cp, 1, "TxDefaultProfile") == 16
        assert applied(cp, 0, "ChargePointMaxProfile") is None
        # The connector's own limit does not lift the charger-wide one.
        await set_number(hass, "CP-X_1_current_limit", 20)
        assert applied(cp, 1, "TxDefaultProfile") == 16
        started = await cp.start_transaction(1, "CARD", 100)
        await set_number(hass, "CP-X_0_current_limit", 10)
        assert applied(cp, 1, "TxDefaultProfile") == 10
        tx_profile = cp.profiles[(1, "TxProfile")]
        assert (tx_profile["transaction_id"], applied(cp, 1, "TxProfile")) == (started.transaction_id, 10)
        assert float(state(hass, "CP-X_0_current_limit", "number")) == 10
        # Without the profile: a ChargePointMaxProfile, refused or not applied.
        no_profile(hass, entry, "CP-X")
        try:
            await set_number(hass, "CP-X_0_current_limit", 12)
        except HomeAssistantError as err:
            assert name == "evbox_elvi", err
        assert sent(cp)["profile"]["charging_profile_purpose"] == "ChargePointMaxProfile"
        assert applied(cp, 0, "ChargePointMaxProfile") is None


async def test_absolute_tx_profile(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-A", cls=playing("autel_maxicharger")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        started = await cp.start_transaction(1, "CARD", 100)
        await set_number(hass, "CP-A_1_current_limit", 10)
        tx_profile = cp.profiles[(1, "TxProfile")]
        assert tx_profile["charging_profile_kind"] == "Absolute"
        assert tx_profile["charging_schedule"]["start_schedule"] == "2020-01-01T00:00:00Z"
        assert (tx_profile["transaction_id"], applied(cp, 1, "TxProfile")) == (started.transaction_id, 10)
        assert cp.profiles[(1, "TxDefaultProfile")]["charging_profile_kind"] == "Absolute"
        no_profile(hass, entry, "CP-A")
        await set_number(hass, "CP-A_1_current_limit", 12)
        assert sent(cp)["profile"]["charging_profile_kind"] == "Relative"  # refused: the running one keeps 10 A
        assert applied(cp, 1, "TxProfile") == 10


async def test_rate_unit_from_the_profile(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-H", cls=playing("huawei_scharger")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        assert "ChargingScheduleAllowedChargingRateUnit" not in hub_of(entry).central.chargers["CP-H"].configuration
        await set_number(hass, "CP-H_1_current_limit", 16)
        schedule = sent(cp)["profile"]["charging_schedule"]
        assert schedule["charging_rate_unit"] == "W"
        assert applied(cp, 1, "TxDefaultProfile") == 11040  # 16 A x 230 V x 3
        no_profile(hass, entry, "CP-H")
        with pytest.raises(HomeAssistantError, match="Rejected"):
            await set_number(hass, "CP-H_1_current_limit", 10)
        assert sent(cp)["profile"]["charging_schedule"]["charging_rate_unit"] == "A"


async def test_refusal_hint(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-S", cls=playing("schneider_evlink")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        for attempt in range(REFUSALS_BEFORE_UNSUPPORTED):
            with pytest.raises(HomeAssistantError) as raised:
                await set_number(hass, "CP-S_0_current_limit", 16 + attempt)
            assert raised.value.translation_key == "refused_hint"
            assert "load balancer" in raised.value.translation_placeholders["hint"]
        issue = ir.async_get(hass).async_get_issue(DOMAIN, "smart_charging_unsupported_CP-S")
        assert issue is not None and issue.translation_key == "smart_charging_refused"
        assert "EM controlled by external system" in (issue.translation_placeholders or {})["hint"]


async def test_the_spread_charger_wide_limit_skips_connectors_the_site_steers(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """As each connector's TxDefaultProfile it would replace the site's base profile there."""
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    sender = runtime_of(entry).site.sender
    async with charger(port_of(entry), "CP-E", cls=playing("evbox_elvi", connectors=2)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp, connectors=2)
        await set_mode(hass, "CP-E", "fast")
        await wait_for(lambda: bool(profiles(cp, BASE)) and sender.idle, what="the site's profiles")
        await set_number(hass, "CP-E_0_current_limit", 16)
        targets = [request["connector_id"] for name, request in cp.received if name == "SetChargingProfile"]
        assert targets.count(2) == 1 and profiles(cp, 1001) == []
        assert float(state(hass, "CP-E_0_current_limit", "number")) == 16

        # Given back: connector 1 gets the charger-wide limit it skipped.
        await set_mode(hass, "CP-E", "manual")
        await wait_for(lambda: bool(profiles(cp, 1001)), what="the charger-wide limit on connector 1")
        assert limits(cp, 1001) == [16.0]


async def test_taking_over_clears_the_tx_profile_the_spread_charger_wide_limit_gave(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """Its TxProfile would outrank the site's TxDefaultProfiles were the site's own TxProfile refused."""
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE)
    sender = runtime_of(entry).site.sender
    async with charger(port_of(entry), "CP-E", cls=playing("evbox_elvi", connectors=2)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp, connectors=2)
        await cp.start_transaction(1, "CARD", 0)
        await set_number(hass, "CP-E_0_current_limit", 16)
        tx_profile = runtime_of(entry).limits.tx_profile_id(1)
        await wait_for(lambda: bool(profiles(cp, tx_profile)), what="the charger-wide limit as connector 1's TxProfile")
        await set_mode(hass, "CP-E", "fast")
        await wait_for(lambda: bool(profiles(cp, BASE)) and sender.idle, what="the site's profiles")
        clears = [request for name, request in cp.received if name == "ClearChargingProfile"]
        assert {"id": tx_profile} in clears
