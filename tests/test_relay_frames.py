"""Local controller mode, frame by frame: what the relay passes on verbatim, and what it records.

A relayed charger here is a bare WebSocket (raw_charger.py) that sends any frame and answers
whatever it is asked; the upstream is the backend of upstream.py. The relay forwards every
frame both ways; it records (observes) only what a direct session would accept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs import commands
from custom_components.ocpp_cs.const import DOMAIN, EVENT_ID_TAG_PRESENTED, EVENT_TRANSACTION_STARTED
from custom_components.ocpp_cs.hub import OcppHub
from custom_components.ocpp_cs.settings import pending_issue_id

from .conftest import EntryFactory, hub_of, port_of
from .helpers import find_device, wait_for
from .raw_charger import RawCharger, raw_charger
from .upstream import Upstream, UpstreamSession, upstream_fixture  # noqa: F401 (the fixture)

BOOT = {"chargePointVendor": "Sim", "chargePointModel": "Raw-1"}


@contextlib.asynccontextmanager
async def behind_the_relay(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    upstream: Upstream,
    response_timeout: float | None = None,
    **options: Any,
) -> AsyncIterator[tuple[OcppHub, RawCharger, UpstreamSession]]:
    """A raw charger relayed to the upstream; Home Assistant asks it nothing unless a test does."""
    entry = await setup_entry(upstream_url=upstream.url, **options)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    if response_timeout is not None:
        hub.server.response_timeout = response_timeout
    async with raw_charger(port_of(entry), "CP-1") as cp:
        yield hub, cp, await upstream.session("CP-1")


def received_upstream(upstream: Upstream) -> list[str | bytes]:
    return list(upstream.state.frames.get("CP-1", []))


async def test_frames_that_are_not_ocpp_messages_pass_through_both_ways(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    async with behind_the_relay(hass, setup_entry, upstream) as (hub, cp, backend):
        # From the charger: not JSON, not a list, too short, an unknown message type, a CALL
        # whose action is no name, and a binary frame. The upstream gets each as it was sent.
        odd: list[str | bytes] = ["not json", "{}", "[2]", '[9, "x"]', '[2, "no-action", 7, {}]', b"\x00binary"]
        for frame in odd:
            await cp.send(frame)
        await wait_for(lambda: received_upstream(upstream) == odd, what="the odd frames upstream")

        # From the upstream: text, binary, an answer to a call nobody made, a CALL without a name.
        await backend._connection.send("upstream says hi")
        await backend._connection.send(b"\x01\x02")
        await backend._connection.send('[3, "nobody-asked", {}]')
        await backend._connection.send('[2, "u-1", 5, {}]')
        await wait_for(lambda: len(cp.asked) == 1, what="the nameless CALL at the charger")
        assert cp.unparsable == ["upstream says hi", b"\x01\x02"]
        # The upstream's own answer to the nameless CALL came back too, then the stray answer.
        assert [frame[:3] for frame in cp.answers] == [[4, "no-action", "NotSupported"], [3, "nobody-asked", {}]]
        assert cp.asked == [[2, "u-1", 5, {}]]
        # The charger's answer to it goes back upstream.
        await wait_for(
            lambda: '[3, "u-1", {"status": "Accepted"}]' in received_upstream(upstream), what="the answer upstream"
        )
        # The binary frame the charger got is in its message log, as text.
        log = hub.central.message_logs.get("CP-1")
        assert log is not None
        assert any(direction == "sent" and frame == "\x01\x02" for _, direction, frame in log.frames)

        # The relay goes on: a Heartbeat is answered by the upstream.
        answer = await cp.call("hb-1", "Heartbeat", {})
        assert answer == [3, "hb-1", {"currentTime": "2025-01-01T00:00:00Z"}]


async def test_requests_a_direct_session_would_refuse_are_relayed_and_not_recorded(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    async with behind_the_relay(hass, setup_entry, upstream) as (hub, cp, _backend):
        assert (await cp.call("boot-1", "BootNotification", BOOT))[2]["status"] == "Accepted"
        charger = hub.central.chargers["CP-1"]

        # An invalid status: the upstream's CALLERROR goes back; Home Assistant records nothing.
        answer = await cp.call(
            "st-1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Bogus"}
        )
        assert answer[0] == 4
        # Valid, but for a connector the charger cannot have: the upstream may accept it, we do not record it.
        answer = await cp.call(
            "st-2", "StatusNotification", {"connectorId": 40, "errorCode": "NoError", "status": "Available"}
        )
        assert answer == [3, "st-2", {}]
        # Not an object, an action OCPP 1.6 does not have, one the relay leaves to the upstream.
        assert (await cp.call("hb-1", "Heartbeat", []))[0] == 4
        assert (await cp.call("v-1", "VendorThing", {"x": 1}))[0] == 4
        assert (await cp.call("sc-1", "SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}))[0] == 4

        await hass.async_block_till_done()
        sent = [json.loads(frame)[1] for frame in received_upstream(upstream)]
        assert sent == ["boot-1", "st-1", "st-2", "hb-1", "v-1", "sc-1"]
        assert charger.connectors.get(1) is None or charger.connectors[1].status is None
        assert 40 not in charger.connectors
        assert find_device(hass, "CP-1_40") is None


async def test_the_upstreams_refusals_are_what_home_assistant_records(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """A Pending registration is the upstream's to end; its CALLERRORs record nothing."""
    upstream.state.boot_status = "Pending"
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    async with behind_the_relay(hass, setup_entry, upstream, new_chargers="pending") as (hub, cp, _backend):
        assert (await cp.call("boot-1", "BootNotification", BOOT))[2]["status"] == "Pending"
        await hass.async_block_till_done()
        assert hub.central.registration_status("CP-1") == "Pending"
        # The user is not asked to accept it: the upstream decides.
        assert ir.async_get(hass).async_get_issue(DOMAIN, pending_issue_id("CP-1")) is None

        upstream.state.failing = {"BootNotification", "Authorize", "StartTransaction"}
        assert (await cp.call("boot-2", "BootNotification", BOOT))[0] == 4
        assert (await cp.call("auth-1", "Authorize", {"idTag": "CARD"}))[0] == 4
        start = {"connectorId": 1, "idTag": "CARD", "meterStart": 0, "timestamp": "2025-01-01T00:00:00Z"}
        assert (await cp.call("start-1", "StartTransaction", start))[0] == 4
        await hass.async_block_till_done()
        assert hub.central.registration_status("CP-1") == "Pending"
        assert presented == []
        assert started == []
        assert hub.central.observed_transactions == {}


async def test_callerrors_to_home_assistants_requests_become_translated_errors(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    async with behind_the_relay(hass, setup_entry, upstream) as (hub, cp, _backend):
        cp.errors["ClearCache"] = ["InternalError", "the cache is stuck", {"detail": "x"}]
        with pytest.raises(HomeAssistantError) as raised:
            await commands.clear_cache(hub, "CP-1")
        assert raised.value.translation_key == "call_error"
        assert raised.value.translation_placeholders == {
            "charge_point_id": "CP-1", "action": "ClearCache", "code": "InternalError",
            "description": "the cache is stuck",
        }
        # Without the optional details.
        cp.errors["ClearCache"] = ["NotSupported", "no cache here"]
        with pytest.raises(HomeAssistantError) as raised:
            await commands.clear_cache(hub, "CP-1")
        assert raised.value.translation_placeholders is not None
        assert raised.value.translation_placeholders["code"] == "NotSupported"
        # Neither the requests nor the answers reached the upstream.
        assert received_upstream(upstream) == []


async def test_an_answer_to_home_assistants_request_that_is_no_answer_is_waited_out(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    async with behind_the_relay(hass, setup_entry, upstream, response_timeout=0.3) as (hub, cp, _backend):
        cp.errors["ClearCache"] = []  # [4, id]: no code, no description
        with pytest.raises(HomeAssistantError) as raised:
            await commands.clear_cache(hub, "CP-1")
        assert raised.value.translation_key == "timeout"
        assert received_upstream(upstream) == []


async def test_what_the_charger_answers_the_upstream_updates_its_configuration(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    """GetConfiguration and ChangeConfiguration of the upstream, answered by a lax charger."""
    upstream.state.boot_status = "Pending"  # Home Assistant asks the charger nothing of its own
    async with behind_the_relay(hass, setup_entry, upstream) as (hub, cp, backend):
        await cp.call("boot-1", "BootNotification", BOOT)
        charger = hub.central.chargers["CP-1"]
        cp.results["GetConfiguration"] = {"configurationKey": [
            {"key": "HeartbeatInterval", "value": "60", "readonly": False},
            {"key": "LocalPreAuthorize", "value": True, "readonly": "1"},
            {"key": "AuthorizationKey", "readonly": False},
            {"key": 7, "value": "a key that is no name"},
            "not an entry",
            {"value": "no key"},
        ]}
        await backend._connection.send(json.dumps([2, "get-1", "GetConfiguration", {}]))
        await wait_for(lambda: "HeartbeatInterval" in charger.configuration, what="the configuration read")
        assert charger.config_value("HeartbeatInterval") == "60"
        assert charger.config_value("LocalPreAuthorize") == "true"
        assert charger.configuration["LocalPreAuthorize"].readonly is True
        assert "AuthorizationKey" in charger.configuration
        assert charger.config_value("AuthorizationKey") is None
        assert set(charger.configuration) == {"HeartbeatInterval", "LocalPreAuthorize", "AuthorizationKey"}

        # Two requests before the charger answers either; one refused with a CALLERROR.
        cp.errors["ChangeConfiguration"] = ["NotSupported", "read-only here"]
        await backend._connection.send(
            json.dumps([2, "change-1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "90"}])
        )
        await backend._connection.send(json.dumps([2, "clear-1", "ClearCache", []]))
        await wait_for(lambda: len(received_upstream(upstream)) == 4, what="both answers upstream")
        answers = [json.loads(frame) for frame in received_upstream(upstream)]
        assert [(frame[0], frame[1]) for frame in answers] == [
            (2, "boot-1"), (3, "get-1"), (4, "change-1"), (3, "clear-1")
        ]
        assert charger.config_value("HeartbeatInterval") == "60"

        # Accepted, but with a value that is no string: not recorded either.
        del cp.errors["ChangeConfiguration"]
        await backend._connection.send(
            json.dumps([2, "change-2", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": 90}])
        )
        await wait_for(lambda: len(received_upstream(upstream)) == 5, what="the answer upstream")
        assert charger.config_value("HeartbeatInterval") == "60"

        # An answer without keys (they are optional) changes nothing.
        cp.results["GetConfiguration"] = {}
        await backend._connection.send(json.dumps([2, "get-2", "GetConfiguration", {}]))
        await wait_for(lambda: len(received_upstream(upstream)) == 6, what="the answer upstream")
        assert set(charger.configuration) == {"HeartbeatInterval", "LocalPreAuthorize", "AuthorizationKey"}


async def test_a_request_of_the_upstream_the_charger_never_answers_holds_home_assistant_back_only_so_long(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    async with behind_the_relay(hass, setup_entry, upstream, response_timeout=0.3) as (hub, cp, backend):
        cp.ignored.add("DataTransfer")
        await backend._connection.send(json.dumps([2, "dt-1", "DataTransfer", {"vendorId": "Operator"}]))
        await wait_for(lambda: len(cp.asked) == 1, what="the upstream's DataTransfer at the charger")
        began = hass.loop.time()
        # Home Assistant's request waits for the charger to answer the upstream's, then goes anyway.
        assert (await commands.clear_cache(hub, "CP-1")) == {"status": "Accepted"}
        assert hass.loop.time() - began >= 0.3
        assert [frame[2] for frame in cp.asked] == ["DataTransfer", "ClearCache"]
        # The unanswered request is given up: the next one goes at once.
        assert (await commands.clear_cache(hub, "CP-1")) == {"status": "Accepted"}
        assert [frame[2] for frame in cp.asked] == ["DataTransfer", "ClearCache", "ClearCache"]
