"""What Home Assistant asks a charger once it connected or booted, and how refusals are taken.

After an accepted BootNotification: read the configuration (all keys, else the standard ones in
chunks), set the user's MeterValue options where they differ, ask for statuses the charger did
not report, send the limits again. A charger that connects without booting is asked to boot, or,
relayed, only for its statuses (a BootNotification would reach the upstream as a reboot).
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
import pytest

from custom_components.ocpp_cs.engine.configuration import STANDARD_KEYS
from custom_components.ocpp_cs.engine.session import ChargePointSession

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import action, device_id, wait_for
from .test_local_controller import boot, relayed
from .upstream import Upstream, upstream_fixture  # noqa: F401 (the fixture)

STATUS_TRIGGER = ("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": None})
BOOT_TRIGGER = ("TriggerMessage", {"requested_message": "BootNotification", "connector_id": None})


async def follow_up_done(hub: Any, charge_point_id: str) -> ChargePointSession:
    """Wait until Home Assistant's follow-up of a charger's connection and boot is over."""
    session = hub.central.sessions[charge_point_id]
    await wait_for(lambda: not session._background, what="the follow-up of the boot")
    return session


class EmptyConfigurationCharger(ControlCharger):
    """Answers GetConfiguration without keys with none; named keys with a CALLERROR."""

    @on(Action.get_configuration, skip_schema_validation=True)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        self.received.append(("GetConfiguration", {"key": key}))
        if key:
            raise InternalError(description="cannot read named keys")
        return call_result.GetConfiguration(configuration_key=[])


async def test_a_refused_chunk_ends_the_configuration_reading(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 0
    async with charger(port_of(entry), "CP-1", cls=EmptyConfigurationCharger) as cp:
        await cp.boot()
        await follow_up_done(hub, "CP-1")
        reads = [request["key"] for action, request in cp.received if action == "GetConfiguration"]
        # All keys (none came), then the first chunk of standard keys, refused: no more chunks.
        assert len(reads) == 2
        assert reads[0] is None
        assert reads[1] == list(STANDARD_KEYS[:10])
        assert "CP-1: reading configuration keys failed" in caplog.text
        # The rest of the follow-up goes on: the statuses it did not report are asked for.
        assert STATUS_TRIGGER in cp.received


async def test_options_in_force_are_not_set_again_and_a_charger_without_remote_trigger_is_not_asked(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(meter_value_sample_interval=60, meter_values_sampled_data="Power.Active.Import")
    hub = hub_of(entry)
    hub.boot_grace_seconds = 0

    class CoreOnlyCharger(ControlCharger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.configuration = [
                {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core"},
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
            ]

    async with charger(port_of(entry), "CP-1", cls=CoreOnlyCharger) as cp:
        await cp.boot()
        await follow_up_done(hub, "CP-1")
        changes = [request for action, request in cp.received if action == "ChangeConfiguration"]
        assert changes == [{"key": "MeterValuesSampledData", "value": "Power.Active.Import"}]
        assert not [request for action, request in cp.received if action == "TriggerMessage"
                    and request["requested_message"] == "StatusNotification"]


async def test_a_charger_that_will_not_be_triggered_still_gets_its_limits(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """It connects without booting and refuses TriggerMessage: its statuses are not asked either."""
    caplog.set_level(logging.DEBUG, logger="custom_components.ocpp_cs.commands")
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 0.05
    async with charger(port_of(entry), "CP-1", cls=ControlCharger) as cp:
        cp.answers["TriggerMessage"] = "Rejected"
        session = hub.central.sessions["CP-1"]
        await wait_for(lambda: BOOT_TRIGGER in cp.received, what="asked to boot")
        await follow_up_done(hub, "CP-1")
        assert STATUS_TRIGGER in cp.received
        assert "CP-1: TriggerMessage BootNotification failed" in caplog.text
        assert "CP-1: TriggerMessage StatusNotification failed" in caplog.text
        assert not session.booted


async def test_a_relayed_charger_that_comes_back_without_booting_is_asked_only_for_statuses(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
    hub.boot_grace_seconds = 0.05
    async with relayed(port_of(entry), "CP-1") as cp:
        await wait_for(lambda: STATUS_TRIGGER in cp.received, what="asked for its statuses")
        await follow_up_done(hub, "CP-1")
        assert BOOT_TRIGGER not in cp.received
    boots = [frame for frame in upstream.state.frames["CP-1"] if '"BootNotification"' in frame]
    assert len(boots) == 1


async def test_a_configuration_answer_with_entries_that_are_no_keys_is_read_for_the_rest(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """Answers are not checked against the schema (chargers bend it): odd entries are skipped."""
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 0

    class SloppyCharger(ControlCharger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.configuration = [
                {"key": "HeartbeatInterval", "readonly": False, "value": 300},
                {"key": "LocalPreAuthorize", "readonly": 0, "value": False},
                {"key": "AuthorizationKey", "readonly": False},
                "Ocpp16",
                {"key": "", "value": "no name"},
                {"key": "NumberOfConnectors", "value": "two"},  # no readonly, no number
                {"key": "AuthorizeRemoteTxRequests", "readonly": False, "value": "maybe"},
            ]

    async with charger(port_of(entry), "CP-1", cls=SloppyCharger) as cp:
        await cp.boot()
        await follow_up_done(hub, "CP-1")
        answer = await action(hass, "get_configuration", device_id=device_id(hass, "CP-1"))
    charger_state = hub.central.chargers["CP-1"]
    assert charger_state.config_value("HeartbeatInterval") == "300"
    assert charger_state.config_value("LocalPreAuthorize") == "false"
    assert charger_state.config_value("AuthorizationKey") is None
    assert set(charger_state.configuration) == {
        "HeartbeatInterval", "LocalPreAuthorize", "AuthorizationKey", "NumberOfConnectors", "AuthorizeRemoteTxRequests"
    }
    # Values that are no number or no boolean read as unknown.
    assert charger_state.configuration["NumberOfConnectors"].readonly is False
    assert charger_state.config_int("NumberOfConnectors") is None
    assert charger_state.config_bool("AuthorizeRemoteTxRequests") is None
    assert answer["configuration_key"][:2] == [
        {"key": "HeartbeatInterval", "readonly": False, "value": 300},
        {"key": "LocalPreAuthorize", "readonly": False, "value": False},
    ]
