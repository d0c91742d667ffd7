"""The logbook: sessions started and stopped, chargers connected, booted and disconnected."""

from __future__ import annotations

from datetime import timedelta

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done
from pytest_homeassistant_custom_component.typing import RecorderInstanceContextManager, WebSocketGenerator

from custom_components.ocpp_cs.const import (
    DOMAIN,
    EVENT_CHARGER_BOOTED,
    EVENT_CHARGER_CONNECTED,
    EVENT_CHARGER_DISCONNECTED,
)
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import entity_id, find_device, state, wait_for


@pytest.fixture
async def mock_recorder_before_hass(async_test_recorder: RecorderInstanceContextManager) -> None:
    """The logbook needs the recorder, set up before Home Assistant."""


async def test_logbook_entries(
    recorder_mock: Recorder, hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator
) -> None:
    assert await async_setup_component(hass, "logbook", {})
    start_time = dt_util.utcnow() - timedelta(seconds=5)
    entry = await setup_entry()
    connected = async_capture_events(hass, EVENT_CHARGER_CONNECTED)
    booted = async_capture_events(hass, EVENT_CHARGER_BOOTED)
    disconnected = async_capture_events(hass, EVENT_CHARGER_DISCONNECTED)
    hub_of(entry).central.set_id_tag(IdTag("CARD-ANNA", name="Anna"))
    async with charger(port_of(entry), "CP-BOOK") as cp:
        await cp.boot(firmware_version="1.2.3")
        started = await cp.start_transaction(
            1, "CARD-ANNA", 1000, timestamp=(dt_util.utcnow() - timedelta(seconds=26)).isoformat()
        )
        await cp.send(
            call.StopTransaction(
                transaction_id=started.transaction_id, meter_stop=8250, timestamp=dt_util.utcnow().isoformat(),
                reason="EVDisconnected",
            )
        )
    await wait_for(lambda: bool(disconnected), what="disconnected event")
    device = find_device(hass, "CP-BOOK")
    assert device is not None
    assert connected[0].data["charge_point_id"] == "CP-BOOK"
    assert booted[0].data["device_id"] == device.id
    assert booted[0].data["registration"] == "accepted"
    assert disconnected[0].data["device_id"] == device.id
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)

    client = await hass_ws_client()
    await client.send_json({"id": 1, "type": "logbook/get_events", "start_time": start_time.isoformat()})
    response = await client.receive_json()
    assert response["success"], response
    messages = [(e.get("name"), e.get("message")) for e in response["result"] if e.get("domain") == DOMAIN]
    assert ("CP-BOOK", f"connected from {connected[0].data['remote_address']}") in messages
    assert ("CP-BOOK", "booted (Sim Sim-22, firmware 1.2.3), registration accepted") in messages
    assert any(
        name == "CP-BOOK" and message.startswith(f"started charging on connector 1 with Anna (CARD-ANNA) "
                                                 f"(transaction {started.transaction_id}")
        for name, message in messages
    ), messages
    assert any(
        name == "CP-BOOK" and message.startswith("stopped charging on connector 1: 7.250 kWh in 26 s with Anna")
        and "stop reason: EV disconnected" in message and "ev_disconnected" not in message
        for name, message in messages
    ), messages
    assert any(name == "CP-BOOK" and message.startswith("disconnected (code 1000") for name, message in messages)

    # On the charger's page: the connection events name its device.
    await client.send_json(
        {"id": 2, "type": "logbook/get_events", "start_time": start_time.isoformat(), "device_ids": [device.id]}
    )
    response = await client.receive_json()
    assert response["success"], response
    device_messages = [e.get("message") for e in response["result"]]
    assert any(str(m).startswith("booted") for m in device_messages), device_messages
    assert any(str(m).startswith("disconnected") for m in device_messages), device_messages


async def test_a_second_session_keeps_the_last_stop_reason(
    recorder_mock: Recorder, hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator
) -> None:
    """A session start wrote "Stop reason became unknown" to the logbook: the last reason stays."""
    assert await async_setup_component(hass, "logbook", {})
    start_time = dt_util.utcnow() - timedelta(seconds=5)
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-TWICE") as cp:
        await cp.boot()
        first = await cp.start_transaction(1, "CARD", 1000)
        await cp.stop_transaction(first.transaction_id, 2000, reason="EVDisconnected")
        second = await cp.start_transaction(1, "CARD", 2000)
        await hass.async_block_till_done()
        # The running session has no reason yet: the sensor still tells why the last one ended.
        assert state(hass, "CP-TWICE_1_stop_reason") == "ev_disconnected"
        await cp.stop_transaction(second.transaction_id, 3000, reason="Remote")
        await hass.async_block_till_done()
        assert state(hass, "CP-TWICE_1_stop_reason") == "remote"
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)

    client = await hass_ws_client()
    await client.send_json({"id": 1, "type": "logbook/get_events", "start_time": start_time.isoformat()})
    response = await client.receive_json()
    assert response["success"], response
    entries = response["result"]
    stop_reason = entity_id(hass, "CP-TWICE_1_stop_reason")
    assert [e["state"] for e in entries if e.get("entity_id") == stop_reason] == ["ev_disconnected", "remote"]
    ours = [str(e.get("message")).split(" on ")[0] for e in entries if e.get("domain") == DOMAIN]
    assert ours.count("started charging") == 2
    assert ours.count("stopped charging") == 2
