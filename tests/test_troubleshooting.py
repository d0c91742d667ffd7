"""Troubleshooting: the message log in diagnostics, the debug option, the logbook, plain HTTP GET."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_device
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.message_log import MAX_FRAMES, REDACTED, MessageLog, redact

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import call_frame, find_device, wait_for
from .test_options_flow import change_settings

AUTHORIZATION_KEY = "0011223344556677AABB"
NEW_AUTHORIZATION_KEY = b"troubleshooting-key".hex().upper()  # 19 bytes, as the whitepaper wants


class KeyLeakingCharger(ControlCharger):
    """Reports its AuthorizationKey in GetConfiguration (the spec says it should not)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append({"key": "AuthorizationKey", "readonly": False, "value": AUTHORIZATION_KEY})


async def device_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: Any, identifier: str
) -> dict[str, Any]:
    device = find_device(hass, identifier)
    assert device is not None
    data: dict[str, Any] = await get_diagnostics_for_device(hass, hass_client, entry, device)
    return data


async def test_message_log_in_diagnostics_secrets_redacted(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-LOG", cls=KeyLeakingCharger) as cp:
        await cp.boot(charge_point_serial_number="SN-9")
        await wait_for(lambda: "AuthorizationKey" in hub.central.chargers["CP-LOG"].configuration, what="configuration")
        started = await cp.start_transaction(1, "CARD-VISIBLE", 100)
        device = find_device(hass, "CP-LOG")
        assert device is not None
        await hass.services.async_call(
            DOMAIN,
            "change_configuration",
            {"device_id": device.id, "key": "AuthorizationKey", "value": NEW_AUTHORIZATION_KEY},
            blocking=True,
        )
        await cp.raw("not json")
        await hass.async_block_till_done()

        data = await device_diagnostics(hass, hass_client, entry, "CP-LOG")
        log = data["message_log"]
        text = json.dumps(log)
        assert AUTHORIZATION_KEY not in json.dumps(data)
        assert NEW_AUTHORIZATION_KEY not in json.dumps(data)
        # Id tags are no secret: they stay readable.
        assert "CARD-VISIBLE" in text
        assert log[0]["direction"] == "event"
        assert log[0]["event"].startswith("connected from 127.0.0.1:")

        boot = next(e for e in log if e.get("action") == "BootNotification" and e["message_type"] == "CALL")
        assert boot["direction"] == "received"
        assert boot["payload"]["chargePointSerialNumber"] == "SN-9"
        # The answer names what it answers and how long it took.
        boot_answer = next(
            e for e in log if e.get("unique_id") == boot["unique_id"] and e.get("message_type") == "CALLRESULT"
        )
        assert boot_answer["direction"] == "sent"
        assert boot_answer["action"] == "BootNotification"
        assert boot_answer["round_trip_ms"] >= 0
        assert boot_answer["payload"]["status"] == "Accepted"

        # Calls of the central system: the charger's answer carries the round trip.
        configuration = next(
            e for e in log if e.get("action") == "GetConfiguration" and e.get("message_type") == "CALLRESULT"
        )
        assert configuration["direction"] == "received"
        assert configuration["round_trip_ms"] >= 0
        leaked = next(k for k in configuration["payload"]["configurationKey"] if k["key"] == "AuthorizationKey")
        assert leaked["value"] == REDACTED
        change = next(e for e in log if e.get("action") == "ChangeConfiguration" and e["message_type"] == "CALL")
        assert change["direction"] == "sent"
        assert change["payload"] == {"key": "AuthorizationKey", "value": REDACTED}
        start = next(e for e in log if e.get("action") == "StartTransaction" and e["message_type"] == "CALLRESULT")
        assert start["payload"]["transactionId"] == started.transaction_id
        assert log[-2]["raw"] == "not json"
        assert log[-1]["message_type"] == "CALLERROR"
        assert log[-1]["error_code"] == "FormationViolation"

        # A connector's device shows its charger's log too.
        connector = await device_diagnostics(hass, hass_client, entry, "CP-LOG_2")
        assert connector["message_log"][0]["event"].startswith("connected from")

    await wait_for(lambda: not hub.central.chargers["CP-LOG"].connected, what="disconnect")
    data = await device_diagnostics(hass, hass_client, entry, "CP-LOG")
    assert data["message_log"][-1]["event"].startswith("disconnected (code 1000")


async def test_message_log_is_a_bounded_ring(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-RING") as cp:
        await cp.boot()
        for _ in range(MAX_FRAMES // 2 + 20):
            await cp.send(call.Heartbeat())
        log = hub_of(entry).central.message_logs.get("CP-RING")
        assert log is not None
        entries = log.entries()
        assert len(entries) == MAX_FRAMES
        # The oldest went first: only heartbeats are left, each answer with its round trip.
        assert {e.get("action") for e in entries} == {"Heartbeat"}
        answers = [e for e in entries if e["message_type"] == "CALLRESULT"]
        assert len(answers) == MAX_FRAMES // 2
        assert all(e["round_trip_ms"] >= 0 for e in answers)


def test_redaction_and_cut_frames() -> None:
    frame = json.dumps(
        [2, "1", "DataTransfer", {"vendorId": "x", "data": "y", "password": "pw", "nested": [{"Password": "pw"}]}]
    )
    assert redact(json.loads(frame))[3] == {"vendorId": "x", "data": "y", "password": REDACTED,
                                             "nested": [{"Password": REDACTED}]}
    log = MessageLog("CP", max_frames=3)
    log.received(json.dumps([2, "9", "ChangeConfiguration", {"key": "authorizationkey", "value": "s"}]) + "x" * 40000)
    log.sent(b"\xff\xfe".decode("latin-1"))
    (cut, odd) = log.entries()
    assert cut["raw"] == REDACTED
    assert cut["truncated"] is True
    assert odd["raw"] == "\xff\xfe"


def test_a_log_keeps_the_newest_frames_within_its_character_budget() -> None:
    log = MessageLog("CP", max_frames=100, max_chars=1000)
    frames = [json.dumps([2, f"{number:02d}", "DataTransfer", {"data": "d" * 150}]) for number in range(50)]
    for frame in frames:
        log.received(frame)
    kept = [entry["unique_id"] for entry in log.entries()]
    # As many of the newest frames as fit, in order.
    fit = 1000 // len(frames[0])
    assert fit >= 4
    assert kept == [f"{number:02d}" for number in range(50 - fit, 50)]
    assert log.chars == sum(len(frame) for _, _, frame in log.frames) <= 1000
    # A frame larger than the whole budget is still kept (alone): the newest frame always is.
    log.sent("x" * 5000)
    assert len(log.frames) == 1
    assert log.chars == 5000


def frames_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "custom_components.ocpp_cs.frames")


async def test_debug_option_logs_frames(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    caplog.set_level(logging.DEBUG, logger="custom_components.ocpp_cs.frames")
    async with charger(port_of(entry), "CP-DBG") as cp:
        await cp.boot()
        assert not frames_logged(caplog)
        result = await change_settings(hass, entry, debug=True)
        assert result["type"] == "create_entry"
        assert hub_of(entry) is hub  # applied without a reload
        log = hub.central.message_logs.get("CP-DBG")
        assert log is not None
        assert log.debug
        await cp.raw(call_frame("ChangeConfiguration", {"key": "AuthorizationKey", "value": AUTHORIZATION_KEY}))
        await cp.send(call.Heartbeat())
        logged = frames_logged(caplog)
        assert "CP-DBG -> [2," in logged
        assert '"Heartbeat"' in logged
        assert "CP-DBG <- [3," in logged
        assert '"value":"**REDACTED**"' in logged
        assert AUTHORIZATION_KEY not in logged
        await change_settings(hass, entry, debug=False)
        assert not log.debug
        # (Cleared once debug is off: the after-boot calls' answers may arrive while it is still on.)
        caplog.clear()
        await cp.send(call.Heartbeat())
        assert not frames_logged(caplog)


async def test_plain_http_get_explains_the_endpoint(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password="secret")
    port = port_of(entry)
    server = hub_of(entry).server
    assert server is not None
    refused_before = server.rejected_handshakes

    async def get(path: str) -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: curl/8\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return answer.decode()

    answer = await get("/")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert "text/plain" in head
    assert "OCPP 1.6J" in body
    assert f"ws://127.0.0.1:{port}/<charge point id>" in body
    with_id = await get("/ocpp/garage")
    assert "'garage'" in with_id
    # Not a refused charger handshake: nothing is counted, nothing is logged as refused.
    assert server.rejected_handshakes == refused_before
