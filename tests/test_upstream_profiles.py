"""Local controller mode: the upstream's charging profiles beside Home Assistant's limits.

Home Assistant's limit is a profile of its own on the relayed charger (id and stack level from
the options). When the upstream clears it, it is sent again; when the upstream installs a
profile that replaces it, the user is told once, in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v16 import call
import pytest

from custom_components.ocpp_cs.engine.smart_charging import PURPOSE_CHARGE_POINT_MAX

from .conftest import EntryFactory, hub_of, port_of
from .helpers import wait_for
from .test_local_controller import RelayCharger, boot, relayed
from .test_smart_charging import set_number
from .upstream import Upstream, upstream_fixture  # noqa: F401 (the fixture)

COLLISION = "the upstream installed a charging profile with the id or the stack level of Home Assistant's limits"


def profile(profile_id: int, stack_level: int, purpose: str, limit: float) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2020-01-01T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def times_sent(cp: RelayCharger, profile_id: int) -> int:
    """Return how often the charger got a profile with this id (from anyone)."""
    return sum(
        1 for action, request in cp.received
        if action == "SetChargingProfile" and request["profile"]["charging_profile_id"] == profile_id
    )


async def test_the_upstream_clears_and_replaces_home_assistants_limit(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await setup_entry(upstream_url=upstream.url, limit_profile_id=4000, limit_stack_level=3)
    hub = hub_of(entry)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        charger_state = hub.central.chargers["CP-1"]
        await wait_for(lambda: "ChargeProfileMaxStackLevel" in charger_state.configuration, what="configuration")
        backend = await upstream.session("CP-1")
        await set_number(hass, "CP-1_0_current_limit", 10)
        assert set(cp.installed) == {4000}
        assert times_sent(cp, 4000) == 1

        # The upstream clears a profile of its own: Home Assistant's stays, nothing is sent again.
        upstream_profile = profile(7, 1, "TxDefaultProfile", 16)
        await backend.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=upstream_profile))
        assert (await backend.call(call.ClearChargingProfile(id=7))).status == "Accepted"
        # ... or asks to clear what the charger does not have (it answers Unknown).
        assert (await backend.call(call.ClearChargingProfile(id=8))).status == "Unknown"
        # ... or clears by a stack level that is not Home Assistant's.
        assert (await backend.call(call.ClearChargingProfile(stack_level=1))).status == "Unknown"
        await hass.async_block_till_done()
        assert set(cp.installed) == {4000}
        assert times_sent(cp, 4000) == 1

        # The upstream clears Home Assistant's by its id: it is sent again.
        assert (await backend.call(call.ClearChargingProfile(id=4000))).status == "Accepted"
        await wait_for(lambda: 4000 in cp.installed, what="Home Assistant's limit sent again")
        assert times_sent(cp, 4000) == 2

        # The upstream installs a profile with Home Assistant's id: the user is told, once.
        caplog.set_level(logging.WARNING)
        await backend.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile(
            4000, 1, PURPOSE_CHARGE_POINT_MAX, 6
        )))
        await backend.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile(
            9, 3, PURPOSE_CHARGE_POINT_MAX, 6
        )))
        await hass.async_block_till_done()
        warnings = [record.getMessage() for record in caplog.records if COLLISION in record.getMessage()]
        assert len(warnings) == 1
        assert "profile 4000, stack level 1" in warnings[0]


async def test_a_profile_beside_home_assistants_limit_is_no_collision(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await setup_entry(upstream_url=upstream.url, limit_profile_id=4000, limit_stack_level=3)
    hub = hub_of(entry)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        charger_state = hub.central.chargers["CP-1"]
        await wait_for(lambda: "ChargeProfileMaxStackLevel" in charger_state.configuration, what="configuration")
        backend = await upstream.session("CP-1")
        await set_number(hass, "CP-1_0_current_limit", 10)
        caplog.set_level(logging.WARNING)
        # Another id and another stack level: both profiles are in force.
        await backend.call(call.SetChargingProfile(connector_id=0, cs_charging_profiles=profile(
            9, 2, PURPOSE_CHARGE_POINT_MAX, 6
        )))
        await hass.async_block_till_done()
        assert not [record for record in caplog.records if COLLISION in record.getMessage()]
        assert set(cp.installed) == {4000, 9}
