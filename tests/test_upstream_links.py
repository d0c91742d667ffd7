"""Local controller mode: the upstream connection of each charger, from its handshake to its end.

One upstream link per charger connection, dialled during the charger's handshake; redialled
while the upstream is lost, then kept ("parked") for the charger's next connection.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
import json
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from websockets.exceptions import InvalidHandshake, InvalidStatus

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine import relay
from custom_components.ocpp_cs.engine.relay import RelayManager
from custom_components.ocpp_cs.hub import OcppHub
from custom_components.ocpp_cs.local_controller import outage_issue_id

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .helpers import state, wait_for
from .raw_charger import raw_charger
from .upstream import Upstream, upstream_fixture  # noqa: F401 (the fixture)

BOOT = {"chargePointVendor": "Sim", "chargePointModel": "Raw-1"}


def relay_of(hub: OcppHub) -> RelayManager:
    assert runtime_of(hub.entry).local_controller.relay is not None
    return runtime_of(hub.entry).local_controller.relay


def fast_redial(hub: OcppHub) -> RelayManager:
    manager = relay_of(hub)
    manager.settings.backoff_initial = 0.05
    manager.settings.backoff_max = 0.2
    return manager


async def lose_the_upstream_and_get_it_back(hass: HomeAssistant, hub: OcppHub, upstream: Upstream) -> None:
    """A booted charger loses its upstream (and so its connection); the upstream returns, the charger not yet."""
    async with raw_charger(port_of(hub.entry), "CP-1") as cp:
        await cp.call("boot-1", "BootNotification", BOOT)
        await upstream.stop()
        await asyncio.wait_for(cp.connection.wait_closed(), 5)
    assert cp.connection.close_code == relay.CLOSE_TRY_AGAIN_LATER
    await upstream.start()
    # The redial's link waits at the upstream for the charger.
    await wait_for(lambda: "CP-1" in upstream.sessions, what="the upstream redialled")
    await wait_for(lambda: relay_of(hub).is_connected("CP-1"), what="the link counted")


async def test_a_charger_offering_another_protocol_is_refused_without_dialling(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    with pytest.raises(InvalidHandshake):
        async with charger(port_of(entry), "CP-1", subprotocols=["ocpp2.0.1"]):
            pass
    assert upstream.state.paths == []


async def test_credentials_that_are_ours_are_not_passed_upstream(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url, password="local-secret")
    headers = {"Authorization": "Basic " + base64.b64encode(b"CP-1:local-secret").decode()}
    async with raw_charger(port_of(entry), "CP-1", additional_headers=headers) as cp:
        assert (await cp.call("boot-1", "BootNotification", BOOT))[2]["status"] == "Accepted"
    assert upstream.state.paths == ["/backend/CP-1"]
    assert "Authorization" not in upstream.state.headers[0]
    # A wrong password is refused here, before the upstream is dialled.
    headers = {"Authorization": "Basic " + base64.b64encode(b"CP-1:wrong").decode()}
    with pytest.raises(InvalidStatus) as refused:
        async with raw_charger(port_of(entry), "CP-1", additional_headers=headers):
            pass
    assert refused.value.response.status_code == 401
    assert upstream.state.paths == ["/backend/CP-1"]


async def test_while_the_upstream_is_down_chargers_are_refused_and_unknown_ones_not_added(
    hass: HomeAssistant, setup_entry: EntryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = Upstream()  # not started: nothing listens
    entry = await setup_entry(upstream_url=backend.url, new_chargers="pending", upstream_outage_minutes=1)
    hub = hub_of(entry)
    manager = relay_of(hub)
    manager.settings.backoff_initial = 3600  # the redial would wait an hour
    monkeypatch.setattr(relay, "HANDSHAKE_REDIAL_INTERVAL", 0.0)  # each attempt of the charger dials
    for _attempt in range(2):
        with pytest.raises(InvalidStatus) as refused:
            async with charger(port_of(entry), "CP-NEW"):
                pass
        assert refused.value.response.status_code == 503
    status = manager.status["CP-NEW"]
    assert status.outage_since is not None and status.last_failure is not None
    assert status.last_failure.kind == "refused"
    # A charger the entry would not accept unasked is not added while it waits.
    assert "CP-NEW" not in hub.central.chargers
    # The outage is a repair issue after a minute, with the last error.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1, seconds=1))
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, outage_issue_id("CP-NEW"))
    assert issue is not None and issue.translation_placeholders is not None
    assert issue.translation_placeholders["error"] == "refused: connection refused"
    # Another charger's outage has only begun when the entry unloads.
    with pytest.raises(InvalidStatus):
        async with charger(port_of(entry), "CP-TWO"):
            pass
    # Unloading does not wait for the hour-long redial, and takes the issue away.
    began = hass.loop.time()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass.loop.time() - began < 5
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert ir.async_get(hass).async_get_issue(DOMAIN, outage_issue_id("CP-NEW")) is None
    # ... nor does the second outage become an issue after it.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=3))
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, outage_issue_id("CP-TWO")) is None


async def plain_upgrade_without_a_key(port: int) -> bytes:
    """Send a WebSocket upgrade that passes our checks but is no valid handshake; return the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /ocpp/CP-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return answer


async def test_a_handshake_that_never_completes_releases_its_upstream_link(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay, "HANDSHAKE_CLAIM_SECONDS", 0.2)
    entry = await setup_entry(upstream_url=upstream.url)
    manager = relay_of(hub_of(entry))
    assert (await plain_upgrade_without_a_key(port_of(entry))).startswith(b"HTTP/1.1 400")
    # The upstream was dialled for it ...
    assert upstream.state.paths == ["/backend/CP-1"]
    # ... and the link is closed when no session claims it.
    await wait_for(lambda: "CP-1" not in upstream.sessions and not manager.is_connected("CP-1"), what="link closed")
    assert manager.status["CP-1"].outage_since is None


async def test_unloading_closes_a_link_no_session_claimed_yet(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    assert (await plain_upgrade_without_a_key(port_of(entry))).startswith(b"HTTP/1.1 400")
    await wait_for(lambda: "CP-1" in upstream.sessions, what="the link at the upstream")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await wait_for(lambda: "CP-1" not in upstream.sessions, what="the link closed")


async def test_a_redialled_link_waits_for_its_charger_then_gives_up(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    manager = fast_redial(hub)
    manager.settings.park_timeout = 0.3
    await lose_the_upstream_and_get_it_back(hass, hub, upstream)
    # The charger does not come back: the link is closed, and that is no outage.
    await wait_for(lambda: "CP-1" not in upstream.sessions, what="the parked link closed")
    await wait_for(lambda: not manager.is_connected("CP-1"), what="the link gone")
    assert manager.status["CP-1"].outage_since is None
    await hass.async_block_till_done()
    assert state(hass, "CP-1_0_upstream_connected", "binary_sensor") == "off"


async def test_a_parked_link_lost_again_is_redialled_and_keeps_what_the_upstream_sends(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    manager = fast_redial(hub)
    await lose_the_upstream_and_get_it_back(hass, hub, upstream)

    # The upstream drops the waiting link with an error: dialled again, and the error is told.
    first = upstream.sessions["CP-1"]
    await first._connection.close(code=1011, reason="backend error")
    await wait_for(lambda: upstream.sessions.get("CP-1") not in (None, first), what="the link dialled again")
    failure = manager.status["CP-1"].last_failure
    assert failure is not None and str(failure) == "closed: code 1011"

    # A request of the upstream while the charger is away waits for it ...
    backend = upstream.sessions["CP-1"]
    await backend._connection.send(json.dumps([2, "trigger-1", "TriggerMessage", {"requestedMessage": "Heartbeat"}]))
    await backend._connection.send("a frame that is no message")
    await wait_for(
        lambda: (link := manager._parked.get("CP-1")) is not None and len(link.queued) == 2,
        what="frames kept for the charger",
    )
    # ... and reaches it when it connects again, over the same link.
    async with raw_charger(port_of(entry), "CP-1") as cp:
        await wait_for(lambda: len(cp.asked) == 1, what="the upstream's request at the charger")
        assert cp.asked == [[2, "trigger-1", "TriggerMessage", {"requestedMessage": "Heartbeat"}]]
        assert cp.unparsable == ["a frame that is no message"]
        await wait_for(lambda: '[3, "trigger-1", {"status": "Accepted"}]' in upstream.state.frames["CP-1"],
                       what="the answer upstream")
        assert upstream.sessions["CP-1"] is backend


async def test_unloading_closes_a_parked_link(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    fast_redial(hub)
    await lose_the_upstream_and_get_it_back(hass, hub, upstream)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await wait_for(lambda: "CP-1" not in upstream.sessions, what="the parked link closed")


async def test_a_backend_that_drops_the_older_connection_of_a_reconnecting_charger(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """The old link's end is no outage: the charger's new connection has its own."""
    upstream.state.replace_connections = True
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    manager = relay_of(hub)
    async with raw_charger(port_of(entry), "CP-1") as old:
        await old.call("boot-1", "BootNotification", BOOT)
        async with raw_charger(port_of(entry), "CP-1") as new:
            await asyncio.wait_for(old.connection.wait_closed(), 5)
            assert (await new.call("hb-1", "Heartbeat", {}))[2] == {"currentTime": "2025-01-01T00:00:00Z"}
            assert manager.is_connected("CP-1")
            assert manager.status["CP-1"].outage_since is None
            assert manager.status["CP-1"].last_failure is None


async def test_a_redial_while_the_older_connection_has_its_link_parks_nothing(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A charger reconnects while its old connection is open; the new handshake's dial fails."""
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    manager = fast_redial(hub)
    dial = relay.open_upstream
    failures = []

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(True)
            raise OSError("connection refused")
        return await dial(*args, **kwargs)

    async with raw_charger(port_of(entry), "CP-1") as old:
        await old.call("boot-1", "BootNotification", BOOT)
        (first,) = manager._links["CP-1"]
        monkeypatch.setattr(relay, "open_upstream", fail_once)
        with pytest.raises(InvalidStatus) as refused:
            async with raw_charger(port_of(entry), "CP-1"):
                pass
        assert refused.value.response.status_code == 503
        # The redial reaches the upstream, and its link is closed: the old connection has one.
        await wait_for(lambda: len(upstream.state.paths) == 2, what="the redial")
        await wait_for(lambda: "CP-1" not in manager._redial, what="the redial over")
        assert "CP-1" not in manager._parked
        assert manager._links["CP-1"] == {first}
        assert (await old.call("hb-1", "Heartbeat", {}))[2] == {"currentTime": "2025-01-01T00:00:00Z"}


async def test_requests_of_the_upstream_a_charger_never_answers_are_not_remembered_without_end(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    upstream.state.boot_status = "Pending"  # Home Assistant asks the charger nothing of its own
    entry = await setup_entry(upstream_url=upstream.url)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    async with raw_charger(port_of(entry), "CP-1") as cp:
        await cp.call("boot-1", "BootNotification", BOOT)
        charger_state = hub.central.chargers["CP-1"]
        backend = await upstream.session("CP-1")
        cp.ignored = {"GetConfiguration", "DataTransfer"}
        await backend._connection.send(json.dumps([2, "get-0", "GetConfiguration", {}]))
        for number in range(relay.MAX_PENDING):
            await backend._connection.send(json.dumps([2, f"dt-{number}", "DataTransfer", {"vendorId": "Op"}]))
        await wait_for(lambda: len(cp.asked) == relay.MAX_PENDING + 1, what="every request at the charger")
        # The oldest is forgotten: its late answer still goes upstream, but is not read.
        keys = [{"key": "HeartbeatInterval", "value": "60", "readonly": False}]
        await cp.send(json.dumps([3, "get-0", {"configurationKey": keys}]))
        await wait_for(lambda: any('"get-0"' in frame for frame in upstream.state.frames["CP-1"]), what="answer")
        assert "HeartbeatInterval" not in charger_state.configuration
        # The newest are remembered.
        await backend._connection.send(json.dumps([2, "get-1", "GetConfiguration", {}]))
        await wait_for(lambda: len(cp.asked) == relay.MAX_PENDING + 2, what="the last request at the charger")
        await cp.send(json.dumps([3, "get-1", {"configurationKey": keys}]))
        await wait_for(lambda: "HeartbeatInterval" in charger_state.configuration, what="the answer read")
