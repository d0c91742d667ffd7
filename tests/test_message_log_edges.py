"""The message log at its edges: binary and broken frames, huge requests, the debug log, many
chargers, a removed charger's frames."""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ocpp_cs import commands, diagnostics
from custom_components.ocpp_cs.engine.message_log import (
    MAX_FRAME_CHARS,
    MessageLogs,
    describe_close,
    format_address,
)

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import find_device
from .raw_charger import raw_charger
from .test_lifecycle import remove_device

FRAMES_LOGGER = "custom_components.ocpp_cs.frames"


async def test_binary_broken_and_huge_frames_in_the_log_and_the_debug_log(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=FRAMES_LOGGER)
    entry = await setup_entry(debug=True)
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    async with raw_charger(port_of(entry), "CP-1") as cp:
        await cp.call("boot-1", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Raw-1"})
        await cp.send(b'[2, "bin-1", "Heartbeat", {}]')
        await cp.send('[2, "broken", "DataTransfer", {"vendorId": "x", "data": "AuthorizationKey=')
        await cp.wait_answers(3)
        # Home Assistant's own request, longer than a frame is kept.
        await commands.data_transfer(hub, "CP-1", "Vendor", None, "x" * (MAX_FRAME_CHARS + 10))
    log = hub.central.message_logs.get("CP-1")
    assert log is not None
    entries = log.entries()
    binary = next(e for e in entries if e.get("unique_id") == "bin-1")
    assert (binary["direction"], binary["action"]) == ("received", "Heartbeat")
    # A broken frame that may hold a secret is not shown, neither in the log nor in the debug log.
    broken = next(e for e in entries if "raw" in e and e["direction"] == "received")
    assert broken["raw"] == "**REDACTED**"
    debug_log = [record.getMessage() for record in caplog.records if record.name == FRAMES_LOGGER]
    assert not [line for line in debug_log if "AuthorizationKey=" in line]
    assert "CP-1 -> **REDACTED**" in debug_log
    huge = next(e for e in entries if e["direction"] == "sent" and "raw" in e)
    assert huge["truncated"] is True
    # Connection events are in the debug log too.
    assert [line for line in debug_log if line.startswith("CP-1: connected from 127.0.0.1:")]


async def test_a_removed_chargers_frames_leave_the_diagnostics(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator
) -> None:
    assert await async_setup_component(hass, "config", {})
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-GONE") as cp:
        await cp.boot()
    await hass.async_block_till_done()
    device = find_device(hass, "CP-GONE")
    assert device is not None
    assert hub_of(entry).central.message_logs.get("CP-GONE") is not None
    assert await remove_device(hass, await hass_ws_client(hass), device.id, entry.entry_id)
    data: dict[str, Any] = await diagnostics.async_get_config_entry_diagnostics(hass, entry)
    assert "CP-GONE" not in data["message_logs_without_device"]
    assert hub_of(entry).central.message_logs.get("CP-GONE") is None


def test_the_oldest_chargers_log_goes_first() -> None:
    logs = MessageLogs(max_logs=2)
    for charge_point_id in ("CP-1", "CP-2", "CP-1", "CP-3"):
        logs.log_for(charge_point_id).event("connected")
    assert list(logs) == ["CP-1", "CP-3"]
    logs.debug = True
    assert logs.debug
    assert logs.log_for("CP-4").debug


@pytest.mark.parametrize(
    ("code", "reason", "text"),
    [
        (None, None, "disconnected"),
        (4000, "", "disconnected (code 4000: see RFC 6455)"),
        (1001, "restart", "disconnected (code 1001: going away (the charger or this central system restarts), "
                          "reason 'restart')"),
    ],
)
def test_how_a_connection_ended_is_told(code: int | None, reason: str | None, text: str) -> None:
    assert describe_close(code, reason) == text


@pytest.mark.parametrize(
    ("address", "text"), [(("192.0.2.1", 9000), "192.0.2.1:9000"), (("::1", 9000, 0, 0), "[::1]:9000"), (None, "None")]
)
def test_peer_addresses_are_told_as_host_and_port(address: Any, text: str) -> None:
    assert format_address(address) == text
