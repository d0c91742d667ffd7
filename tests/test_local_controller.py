"""Local controller mode: chargers relayed to a real upstream central system, watched and steered by HA."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
import contextlib
from datetime import timedelta
import itertools
import json
import ssl
import threading
import time
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events, async_fire_time_changed
from websockets.exceptions import InvalidStatus

from custom_components.ocpp_cs import commands, diagnostics
from custom_components.ocpp_cs.const import (
    DOMAIN,
    EVENT_ID_TAG_PRESENTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)
from custom_components.ocpp_cs.engine.relay import LOCAL_CALL_PREFIX, RelaySession
from custom_components.ocpp_cs.hub import OcppHub
from custom_components.ocpp_cs.local_controller import outage_issue_id

from .charger import charger, now_iso
from .conftest import EntryFactory, free_port, hub_of, port_of, runtime_of
from .control_charger import ControlCharger
from .flow_helpers import configure, options_step
from .helpers import entity_id, full_state, sampled, state, wait_for
from .test_config_flow import _write_certificate
from .test_smart_charging import set_number
from .upstream import FIRST_TRANSACTION_ID, HEARTBEAT_INTERVAL, Upstream


class RelayCharger(ControlCharger):
    """A charger behind the local controller: predictable message ids, frames recorded, profiles per spec.

    Profiles are kept as a charger keeps them (spec 3.12, 5.16): one with the same id, or with
    the same stack level and purpose, is replaced; others are added. The composite schedule
    of a connector is the lowest of the ChargePointMaxProfiles and the connector's TxProfile
    (else its TxDefaultProfile) with the highest stack level.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = itertools.count(1)
        self._unique_id_generator = lambda: f"{self.id}-{next(ids)}"
        self.sent: list[str] = []
        self.installed: dict[int, tuple[int, dict[str, Any]]] = {}
        self.configuration.append({"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "5"})

    async def _send(self, message: str) -> None:
        self.sent.append(message)
        await super()._send(message)

    def sent_calls(self) -> list[str]:
        return [frame for frame in self.sent if json.loads(frame)[0] == 2]

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        await self._answer("SetChargingProfile", "Accepted", connector_id=connector_id, profile=cs_charging_profiles)
        profile = cs_charging_profiles
        for profile_id, (_, other) in list(self.installed.items()):
            if profile_id == profile["charging_profile_id"] or (
                other["stack_level"] == profile["stack_level"]
                and other["charging_profile_purpose"] == profile["charging_profile_purpose"]
            ):
                del self.installed[profile_id]
        self.installed[profile["charging_profile_id"]] = (connector_id, profile)
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(self, **request: Any) -> Any:
        await self._answer("ClearChargingProfile", "Accepted", **request)
        cleared = [
            profile_id
            for profile_id, (connector_id, profile) in self.installed.items()
            if (request.get("id") in (None, profile_id))
            and request.get("connector_id") in (None, connector_id)
            and request.get("charging_profile_purpose") in (None, profile["charging_profile_purpose"])
            and request.get("stack_level") in (None, profile["stack_level"])
        ]
        for profile_id in cleared:
            del self.installed[profile_id]
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    def composite(self, connector_id: int) -> float | None:
        def limit(profile: dict[str, Any]) -> float:
            return float(profile["charging_schedule"]["charging_schedule_period"][0]["limit"])

        profiles = list(self.installed.values())
        limits = [limit(p) for c, p in profiles if p["charging_profile_purpose"] == "ChargePointMaxProfile"]
        for purpose in ("TxProfile", "TxDefaultProfile"):
            stack = [p for c, p in profiles if p["charging_profile_purpose"] == purpose and c in (0, connector_id)]
            if stack:
                limits.append(limit(max(stack, key=lambda p: p["stack_level"])))
                break
        return min(limits) if limits else None

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> Any:
        await self._answer("GetCompositeSchedule", "Accepted", connector_id=connector_id, duration=duration)
        limit = self.composite(connector_id)
        if limit is None:
            return call_result.GetCompositeSchedule(status="Accepted", connector_id=connector_id)
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=now_iso(),
            charging_schedule={
                "duration": duration,
                "start_schedule": now_iso(),
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            },
        )


@pytest.fixture
async def upstream(socket_enabled: None) -> AsyncIterator[Upstream]:
    """A running upstream central system (the operator's backend) on its own port."""
    backend = Upstream()
    await backend.start()
    yield backend
    await backend.stop()


@contextlib.asynccontextmanager
async def relayed(port: int, charge_point_id: str, timeout: float = 15.0) -> AsyncIterator[RelayCharger]:
    """Connect a charger, retrying while the local controller answers 503 (its upstream is down)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with charger(port, charge_point_id, cls=RelayCharger) as cp:
                assert isinstance(cp, RelayCharger)
                yield cp
                return
        except InvalidStatus as err:
            if err.response.status_code != 503 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def boot(hass: HomeAssistant, cp: RelayCharger) -> None:
    result = await cp.boot()
    assert result.status == "Accepted"
    for connector_id in range(3):
        await cp.status(connector_id, "Available")
    await hass.async_block_till_done()


def fast_redial(hub: OcppHub) -> None:
    assert runtime_of(hub.entry).local_controller.relay is not None
    settings = runtime_of(hub.entry).local_controller.relay.settings
    settings.backoff_initial = 0.05
    settings.backoff_max = 0.2


def upstream_ids(backend: Upstream, charge_point_id: str) -> list[str]:
    return [json.loads(frame)[1] for frame in backend.state.frames.get(charge_point_id, [])]


# --- a session through the relay ---------------------------------------------------------------


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_session_through_the_upstream(hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream) -> None:
    """The upstream answers (its interval, its tag list, its transaction ids); HA records it all."""
    entry = await setup_entry(upstream_url=upstream.url, unknown_id_tags="accept")
    hub = hub_of(entry)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)
    async with relayed(port_of(entry), "CP-1") as cp:
        result = await cp.boot()
        assert (result.status, result.interval) == ("Accepted", HEARTBEAT_INTERVAL)
        # Same path (the charge point id appended to the upstream URL) and subprotocol.
        assert upstream.state.paths == ["/backend/CP-1"]
        assert upstream.state.subprotocols == ["ocpp1.6"]
        assert isinstance(hub.central.sessions["CP-1"], RelaySession)
        for connector_id in range(3):
            await cp.status(connector_id, "Available")
        await hass.async_block_till_done()
        assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "on"
        assert state(hass, "CP-1_1_status") == "available"

        # The upstream's tag list decides, not the entry's `accept` policy.
        assert (await cp.authorize("UNKNOWN")).id_tag_info["status"] == "Invalid"
        assert (await cp.authorize("CARD")).id_tag_info["status"] == "Accepted"

        start = await cp.start_transaction(1, "CARD", 1000)
        assert start.transaction_id == FIRST_TRANSACTION_ID
        await cp.status(1, "Charging")
        await cp.meter(1, [sampled("2500", "Energy.Active.Import.Register", "Wh")], transaction_id=FIRST_TRANSACTION_ID)
        await hass.async_block_till_done()
        assert state(hass, "CP-1_1_transaction_id") == str(FIRST_TRANSACTION_ID)
        assert state(hass, "CP-1_1_id_tag") == "CARD"
        assert float(state(hass, "CP-1_1_session_energy")) == 1.5
        assert state(hass, "CP-1_1_status") == "charging"
        assert state(hass, "CP-1_1_charging", "switch") == "on"

        await cp.stop_transaction(FIRST_TRANSACTION_ID, 4000, reason="EVDisconnected")
        await hass.async_block_till_done()
        assert upstream.state.stopped == [FIRST_TRANSACTION_ID]

    assert [e.data["transaction_id"] for e in started] == [FIRST_TRANSACTION_ID]
    assert [(e.data["transaction_id"], e.data["energy"], e.data["reason"]) for e in stopped] == [
        (FIRST_TRANSACTION_ID, 3.0, "ev_disconnected")
    ]
    assert [(e.data["id_tag"], e.data["status"]) for e in presented] == [
        ("UNKNOWN", "invalid"), ("CARD", "accepted"), ("CARD", "accepted")
    ]
    assert float(state(hass, "CP-1_1_session_energy")) == 3.0
    assert state(hass, "CP-1_1_stop_reason") == "ev_disconnected"
    # Upstream ids live apart: the entry's own counter neither collides nor moves.
    assert hub.central.next_transaction_id == 1
    assert hub.central.open_transactions == {}
    assert hub.central.observed_transactions == {}

    # Verbatim: every frame the charger sent reached the upstream unchanged, same message ids.
    charger_calls = cp.sent_calls()
    assert charger_calls
    assert set(charger_calls) <= set(upstream.state.frames["CP-1"])
    # HA's own requests (configuration read, status trigger) reached the charger, never the upstream.
    assert any(name == "GetConfiguration" for name, _ in cp.received)
    assert not [i for i in upstream_ids(upstream, "CP-1") if i.startswith(LOCAL_CALL_PREFIX)]
    assert all(json.loads(frame)[0] == 2 for frame in upstream.state.frames["CP-1"])
    # ... and the charger's answers to them did not either: the upstream only saw the charger's calls.
    assert len(upstream.state.frames["CP-1"]) == len(charger_calls)


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_upstream_requests_reach_the_charger(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """SetChargingProfile and RemoteStartTransaction of the upstream are relayed; HA sees the session."""
    entry = await setup_entry(upstream_url=upstream.url)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        backend = await upstream.session("CP-1")

        profile = {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "startSchedule": "2020-01-01T00:00:00Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        }
        result = await backend.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
        assert result.status == "Accepted"
        assert 7 in cp.installed

        result = await backend.call(call.RemoteStartTransaction(id_tag="OPERATOR", connector_id=1))
        assert result.status == "Accepted"
        await wait_for(lambda: len(started) == 1, what="the remote start's transaction")
        await hass.async_block_till_done()
        assert started[0].data["transaction_id"] == FIRST_TRANSACTION_ID
        assert started[0].data["id_tag"] == "OPERATOR"
        assert state(hass, "CP-1_1_transaction_id") == str(FIRST_TRANSACTION_ID)

        # The upstream reads and changes the configuration: HA's copy follows.
        result = await backend.call(call.ChangeConfiguration(key="HeartbeatInterval", value="123"))
        assert result.status == "Accepted"
        charger_state = hub_of(entry).central.chargers["CP-1"]
        assert charger_state.config_value("HeartbeatInterval") == "123"

        # HA stops the upstream's transaction with its own RemoteStopTransaction.
        await hass.services.async_call(
            "switch", "turn_off", {"entity_id": entity_id(hass, "CP-1_1_charging", "switch")}, blocking=True
        )
        await wait_for(lambda: upstream.state.stopped == [FIRST_TRANSACTION_ID], what="the stop upstream")
        assert ("RemoteStopTransaction", {"transaction_id": FIRST_TRANSACTION_ID}) in cp.received
        # HA's request went to the charger only: the upstream saw the charger's StopTransaction.
        assert not [i for i in upstream_ids(upstream, "CP-1") if i.startswith(LOCAL_CALL_PREFIX)]


async def test_home_assistant_limit_combines_with_the_upstream_profile(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """HA's limit is its own profile (id and stack level from the options); the upstream's stays."""
    entry = await setup_entry(upstream_url=upstream.url, limit_profile_id=4000, limit_stack_level=3)
    hub = hub_of(entry)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        charger_state = hub.central.chargers["CP-1"]
        await wait_for(lambda: "ChargeProfileMaxStackLevel" in charger_state.configuration, what="configuration")
        backend = await upstream.session("CP-1")
        upstream_profile = {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "startSchedule": "2020-01-01T00:00:00Z",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        }
        result = await backend.call(call.SetChargingProfile(connector_id=1, cs_charging_profiles=upstream_profile))
        assert result.status == "Accepted"

        # The charger-wide limit: a ChargePointMaxProfile next to the upstream's TxDefaultProfile.
        await set_number(hass, "CP-1_0_current_limit", 10)
        assert set(cp.installed) == {7, 4000}
        connector, profile = cp.installed[4000]
        assert (connector, profile["stack_level"], profile["charging_profile_purpose"]) == (
            0, 3, "ChargePointMaxProfile"
        )
        assert cp.composite(1) == 10.0  # the lower of both
        await wait_for(lambda: state(hass, "CP-1_1_composite_limit") == "10.0", what="composite limit")

        # Above the upstream's limit, the upstream's is the one in force.
        await set_number(hass, "CP-1_0_current_limit", 20)
        assert cp.composite(1) == 16.0
        await wait_for(lambda: state(hass, "CP-1_1_composite_limit") == "16.0", what="composite limit")

        # A connector limit: TxDefaultProfile 4001 at stack level 3, beside the upstream's (stack level 1).
        await set_number(hass, "CP-1_1_current_limit", 12)
        assert set(cp.installed) == {7, 4000, 4001}
        assert cp.installed[4001][1]["stack_level"] == 3

        # The upstream clears every profile: HA's limits come back, the upstream's are its business.
        result = await backend.call(call.ClearChargingProfile())
        assert result.status == "Accepted"
        await wait_for(lambda: {4000, 4001} <= set(cp.installed), what="HA's limits sent again")
        assert 7 not in cp.installed

    # None of HA's requests or of the charger's answers to them reached the upstream.
    frames = [json.loads(frame) for frame in upstream.state.frames["CP-1"]]
    assert not [f for f in frames if f[1].startswith(LOCAL_CALL_PREFIX)]
    set_profiles = [f for f in frames if f[0] == 3]
    assert len(set_profiles) == 2  # the answers to the upstream's SetChargingProfile and ClearChargingProfile


# --- losing the upstream ------------------------------------------------------------------------


async def test_upstream_lost_and_back(hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream) -> None:
    """The charger is disconnected while the upstream is gone, refused meanwhile, and back after."""
    entry = await setup_entry(upstream_url=upstream.url, upstream_outage_minutes=1)
    hub = hub_of(entry)
    fast_redial(hub)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    timestamp = now_iso()
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        start = await cp.start_transaction(1, "CARD", 1000, timestamp=timestamp)
        assert start.transaction_id == FIRST_TRANSACTION_ID

        await upstream.stop()
        # The charger's connection is closed: it keeps its messages, as with the backend itself.
        await asyncio.wait_for(cp.connection.wait_closed(), 5)
        assert cp.connection.close_code == 1013
        await wait_for(lambda: "CP-1" not in hub.central.sessions, what="the session closed")
        await hass.async_block_till_done()
        assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "off"
        assert state(hass, "CP-1_0_connected", "binary_sensor") == "off"

    # Refused (503, with Retry-After) while the upstream is down.
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port_of(entry), "CP-1", cls=RelayCharger):
            pass
    assert refused.value.response.status_code == 503
    assert "Retry-After" in refused.value.response.headers

    # A repair issue once the outage lasts the configured minute (with the redial's error).
    assert runtime_of(hub.entry).local_controller is not None
    status = runtime_of(hub.entry).local_controller.status("CP-1")
    assert status is not None
    await wait_for(
        lambda: status.last_failure is not None and status.last_failure.kind == "refused", what="a redial refused"
    )
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, outage_issue_id("CP-1")) is None
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1, seconds=1))
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, outage_issue_id("CP-1"))
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["error"].startswith("refused")

    await upstream.start()
    await wait_for(lambda: runtime_of(hub.entry).local_controller.relay is not None
                   and runtime_of(hub.entry).local_controller.relay.is_connected("CP-1"), what="the upstream redialled")
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, outage_issue_id("CP-1")) is None
    assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "on"

    async with relayed(port_of(entry), "CP-1") as cp:
        # The charger replays its queued messages: the StartTransaction whose answer it missed ...
        replay = await cp.start_transaction(1, "CARD", 1000, timestamp=timestamp)
        assert replay.transaction_id == FIRST_TRANSACTION_ID
        # ... and the StopTransaction it kept while disconnected.
        await cp.stop_transaction(FIRST_TRANSACTION_ID, 3000)
        await hass.async_block_till_done()

    assert [e.data["transaction_id"] for e in started] == [FIRST_TRANSACTION_ID]
    assert [(e.data["transaction_id"], e.data["energy"]) for e in stopped] == [(FIRST_TRANSACTION_ID, 2.0)]
    assert upstream.state.stopped == [FIRST_TRANSACTION_ID]
    assert hub.central.observed_transactions == {}


async def test_upstream_unreachable_at_first(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """Nothing listens upstream: the charger is refused (503) and the binary sensor says why."""
    backend = Upstream()
    entry = await setup_entry(upstream_url=backend.url)
    hub = hub_of(entry)
    assert runtime_of(hub.entry).local_controller.relay is not None
    runtime_of(hub.entry).local_controller.relay.settings.backoff_initial = 60  # no redial of its own during the test
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port_of(entry), "CP-1", cls=RelayCharger):
            pass
    assert refused.value.response.status_code == 503
    assert "CP-1" not in hub.central.sessions
    await hass.async_block_till_done()
    assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "off"
    assert "refused" in full_state(hass, "CP-1_0_upstream_connected", "binary_sensor").attributes["last_error"]
    await backend.start()
    try:
        # The charger's next attempt (a second later) dials the upstream itself: accepted at once.
        await asyncio.sleep(1.05)
        async with charger(port_of(entry), "CP-1", cls=RelayCharger) as cp:
            assert isinstance(cp, RelayCharger)
            await boot(hass, cp)
            assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "on"
    finally:
        await backend.stop()


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_restart_keeps_the_upstream_transaction(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """An observed transaction survives a reload under the upstream's id; the counter stays ours."""
    entry = await setup_entry(upstream_url=upstream.url)
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        start = await cp.start_transaction(1, "CARD", 1000)
    assert start.transaction_id == FIRST_TRANSACTION_ID
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = hub_of(entry)
    assert list(hub.central.observed_transactions) == [("CP-1", FIRST_TRANSACTION_ID)]
    assert hub.central.next_transaction_id == 1
    assert state(hass, "CP-1_1_transaction_id") == str(FIRST_TRANSACTION_ID)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with relayed(port_of(entry), "CP-1") as cp:
        await cp.stop_transaction(FIRST_TRANSACTION_ID, 1500)
        await hass.async_block_till_done()
    assert [(e.data["transaction_id"], e.data["energy"]) for e in stopped] == [(FIRST_TRANSACTION_ID, 0.5)]


# --- per-charger settings and the test-connection step -----------------------------------------




async def test_charger_options_password_and_relaying(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """A charger's upstream password is sent upstream; turning relaying off serves it locally."""
    upstream.state.passwords["CP-1"] = "s3cret"
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    fast_redial(hub)
    # Unknown to the upstream without its password: refused at the handshake.
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port_of(entry), "CP-1", cls=RelayCharger):
            pass
    assert refused.value.response.status_code == 503
    assert "CP-1" in hub.central.chargers  # known (accept policy), its settings can be edited

    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CP-1"})
    assert details["step_id"] == "charger_details"
    assert {"relayed", "upstream_password"} <= {str(key) for key in details["data_schema"].schema}
    result = await configure(
        hass, details["flow_id"], {"max_current": 32, "phases": "3", "relayed": True, "upstream_password": "s3cret"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    charger_state = hub.central.chargers["CP-1"]
    assert (charger_state.relayed, charger_state.upstream_password) == (None, "s3cret")
    assert hub.central.snapshot()["chargers"][0]["upstream_password"] == "s3cret"

    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
    assert upstream.state.headers[-1]["Authorization"].startswith("Basic ")

    # Relaying off: this central system answers alone, with its own transaction ids.
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CP-1"})
    await configure(
        hass, details["flow_id"], {"max_current": 32, "phases": "3", "relayed": False, "upstream_password": "s3cret"}
    )
    assert charger_state.relayed is False
    # Saved again unchanged: nothing to reconnect for.
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CP-1"})
    await configure(
        hass, details["flow_id"], {"max_current": 32, "phases": "3", "relayed": False, "upstream_password": "s3cret"}
    )
    assert charger_state.relayed is False
    frames_before = len(upstream.state.frames["CP-1"])
    async with charger(port_of(entry), "CP-1", cls=RelayCharger) as cp:
        result = await cp.boot()
        assert result.interval != HEARTBEAT_INTERVAL
        start = await cp.start_transaction(1, "CARD", 1000)
        assert start.transaction_id == 1
        await hass.async_block_till_done()
        assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "unavailable"
    assert len(upstream.state.frames["CP-1"]) == frames_before

    # Diagnostics: the upstream connection's state, the upstream password redacted.
    data = await diagnostics.async_get_config_entry_diagnostics(hass, entry)
    charger_data = data["chargers"]["CP-1"]
    assert charger_data["upstream_password"] == "**REDACTED**"
    assert charger_data["upstream"]["connected"] is False
    assert charger_data["relayed"] is False


async def test_charger_credentials_are_passed_on(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """Without an upstream password (and no password of ours) the charger's own credentials go upstream."""
    upstream.state.passwords["CP-2"] = "backend-pw"
    entry = await setup_entry(upstream_url=upstream.url)
    token = base64.b64encode(b"CP-2:backend-pw").decode()
    headers = {"Authorization": f"Basic {token}"}
    async with charger(port_of(entry), "CP-2", cls=RelayCharger, additional_headers=headers) as cp:
        assert (await cp.boot()).interval == HEARTBEAT_INTERVAL


async def test_test_connection_step(hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream) -> None:
    """The options flow's test reports success, a wrong password (401) and a refused connection."""
    # Without an upstream the menu does not offer the test; one chosen from a menu shown
    # before the upstream was removed says why it ends.
    plain = await setup_entry(upstream_url="ws://127.0.0.1:1/ocpp")
    menu = await hass.config_entries.options.async_init(plain.entry_id)
    assert "test_upstream" in menu["menu_options"]
    hass.config_entries.async_update_entry(plain, options={"upstream_url": None})
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_configure(menu["flow_id"], {"next_step_id": "test_upstream"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_upstream_url"
    menu = await hass.config_entries.options.async_init(plain.entry_id)
    assert "test_upstream" not in menu["menu_options"]

    upstream.state.passwords["CP-9"] = "right"
    entry = await setup_entry(upstream_url=upstream.url)
    form = await options_step(hass, entry, "test_upstream")
    assert form["type"] is FlowResultType.FORM
    assert form["description_placeholders"]["url"] == upstream.url

    result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-9", "upstream_password": "wrong"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "upstream_unauthorized"}
    assert result["description_placeholders"]["status"] == "401"

    result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-9", "upstream_password": "right"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "upstream_test_ok"
    assert upstream.state.paths[-1] == "/backend/CP-9"

    # A charger relayed right now is not tested again (the upstream might drop its connection).
    async with relayed(port_of(entry), "CP-1") as cp:
        await cp.boot()
        paths = len(upstream.state.paths)
        form = await options_step(hass, entry, "test_upstream")
        result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-1"})
        assert result["reason"] == "upstream_test_connected"
        assert len(upstream.state.paths) == paths

    await upstream.stop()
    form = await options_step(hass, entry, "test_upstream")
    result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-9", "upstream_password": "right"})
    assert result["errors"] == {"base": "upstream_refused"}


async def test_test_connection_tls(hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Any) -> None:
    """A wss:// upstream with a private CA: verified by default, trusted with its CA file."""
    certfile, keyfile = await hass.async_add_executor_job(_write_certificate, tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    await hass.async_add_executor_job(context.load_cert_chain, certfile, keyfile)
    backend = Upstream(ssl_context=context)
    # On a loop of its own: the handshakes our side refuses must not count as errors of HA's loop.
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, _context: None)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(backend.start(), loop))
    try:
        entry = await setup_entry(upstream_url=backend.url)
        form = await options_step(hass, entry, "test_upstream")
        result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-1"})
        assert result["errors"] == {"base": "upstream_tls_verify"}
        assert "certificate" in result["description_placeholders"]["detail"]

        with_ca = await setup_entry(upstream_url=backend.url, upstream_ca_file=certfile)
        form = await options_step(hass, with_ca, "test_upstream")
        result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-1"})
        assert result["reason"] == "upstream_test_ok"

        insecure = await setup_entry(upstream_url=backend.url, upstream_skip_verify=True)
        form = await options_step(hass, insecure, "test_upstream")
        result = await configure(hass, form["flow_id"], {"charge_point_id": "CP-1"})
        assert result["reason"] == "upstream_test_ok"

        # And a charger relayed over wss:// with the CA file.
        async with relayed(port_of(with_ca), "CP-1") as cp:
            assert (await cp.boot()).interval == HEARTBEAT_INTERVAL
    finally:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(backend.stop(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await hass.async_add_executor_job(thread.join)
        loop.close()


async def test_settings_validate_the_ca_file(
    hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Any
) -> None:
    entry = await setup_entry()
    form = await options_step(hass, entry, "settings")
    garbage = tmp_path / "ca.pem"
    await hass.async_add_executor_job(garbage.write_text, "not a certificate")
    values = {"host": "127.0.0.1", "port": port_of(entry), "new_chargers": "accept", "unknown_id_tags": "accept",
              "remote_id_tag": "HomeAssistant", "heartbeat_interval": 300,
              "upstream_url": f"wss://127.0.0.1:{free_port()}/x"}
    result = await configure(hass, form["flow_id"], {**values, "upstream_ca_file": str(tmp_path / "missing.pem")})
    assert result["errors"] == {"security": "file_not_found"}
    result = await configure(hass, form["flow_id"], {**values, "upstream_ca_file": str(garbage)})
    assert result["errors"] == {"security": "invalid_ca_file"}


class SlowDataTransferCharger(RelayCharger):
    """Takes half a second to answer DataTransfer."""

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None) -> Any:
        await asyncio.sleep(0.5)
        return call_result.DataTransfer(status="Accepted")


class SilentDataTransferCharger(RelayCharger):
    """Never answers DataTransfer; before answering ClearCache it answers calls nobody made."""

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None) -> Any:
        await asyncio.sleep(3600)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> Any:
        for number in range(1500):  # more than Python's recursion limit
            await self._connection.send(json.dumps([3, f"{LOCAL_CALL_PREFIX}stray-{number}", {"status": "Rejected"}]))
        return call_result.ClearCache(status="Accepted")


async def test_relayed_answers_to_calls_nobody_made_are_dropped(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SilentDataTransferCharger) as cp:
        await cp.boot()
        await hass.async_block_till_done()
        assert (await commands.clear_cache(hub, "CP-1")) == {"status": "Accepted"}
        # The strays were not queued: the next call gets its own answer.
        assert (await commands.clear_cache(hub, "CP-1")) == {"status": "Accepted"}
        session = hub.central.sessions["CP-1"]
        assert session.answers_kept == 0


async def test_a_call_waiting_behind_the_upstreams_ends_when_the_charger_leaves(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SilentDataTransferCharger) as cp:
        await cp.boot()
        await hass.async_block_till_done()
        backend = await upstream.session("CP-1")
        upstream_request = asyncio.ensure_future(backend.call(call.DataTransfer(vendor_id="Operator")))
        relayed = hub.central.message_logs.get("CP-1")
        assert relayed is not None
        await wait_for(
            lambda: any(d == "sent" and '"DataTransfer"' in str(f) for _, d, f in relayed.frames),
            what="DataTransfer relayed",
        )
        # Home Assistant's request waits for the charger to answer the upstream's ...
        waiting = asyncio.ensure_future(commands.clear_cache(hub, "CP-1"))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        began = hass.loop.time()
        await cp._connection.close()
    # ... and ends as soon as the charger is gone, not at the response timeout.
    with pytest.raises(HomeAssistantError):
        await asyncio.wait_for(waiting, 10)
    assert hass.loop.time() - began < 5
    upstream_request.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await upstream_request


async def test_one_request_at_a_time(hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream) -> None:
    """HA's request waits until the charger answered the upstream's (one central system's worth)."""
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-1", cls=SlowDataTransferCharger) as cp:
        await cp.boot()
        await hass.async_block_till_done()
        backend = await upstream.session("CP-1")
        upstream_request = asyncio.ensure_future(backend.call(call.DataTransfer(vendor_id="Operator")))
        relayed = hub.central.message_logs.get("CP-1")
        assert relayed is not None
        # The upstream's request is at the charger (a fixed sleep is too short on a busy machine).
        await wait_for(
            lambda: any(d == "sent" and '"DataTransfer"' in str(f) for _, d, f in relayed.frames),
            what="DataTransfer relayed",
        )
        assert (await commands.clear_cache(hub, "CP-1")) == {"status": "Accepted"}
        assert (await upstream_request).status == "Accepted"
    log = hub.central.message_logs.get("CP-1")
    assert log is not None
    order = [
        (direction, json.loads(frame)[0], json.loads(frame)[2] if json.loads(frame)[0] == 2 else None)
        for _, direction, frame in log.frames
        if direction != "event" and (("DataTransfer" in frame or "ClearCache" in frame) or json.loads(frame)[0] != 2)
    ]
    data_transfer = order.index(("sent", 2, "DataTransfer"))
    clear_cache = order.index(("sent", 2, "ClearCache"))
    # The charger's answer to the upstream's DataTransfer came in before HA's ClearCache went out.
    assert ("received", 3, None) in order[data_transfer + 1 : clear_cache]
