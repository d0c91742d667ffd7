"""Entry lifecycle: unload frees the port, a taken port retries, devices can be removed."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from websockets.exceptions import ConnectionClosed

from custom_components.ocpp_cs import async_remove_config_entry_device
from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .flow_helpers import can_bind
from .helpers import find_device, wait_for


async def test_unload_frees_the_port_and_closes_connections(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    hub = hub_of(entry)
    assert not can_bind(port)
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.NOT_LOADED
        # The charger's connection was closed by the central system.
        await asyncio.wait_for(cp.connection.wait_closed(), 5)
        with pytest.raises(ConnectionClosed):
            await cp.connection.send("[2,\"x\",\"Heartbeat\",{}]")
    assert hub.central.sessions == {}
    assert can_bind(port)
    with pytest.raises(OSError):
        async with charger(port, "CP-1"):
            pass

    # Set up again on the same port.
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
    assert "CP-1" in hub_of(entry).central.chargers


async def test_setup_retries_while_the_port_is_taken(hass: HomeAssistant, unload_entries: None) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    try:
        entry = MockConfigEntry(domain=DOMAIN, data={"host": "127.0.0.1", "port": port}, unique_id=str(port))
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason is not None
        assert f"127.0.0.1:{port}" in entry.reason
    finally:
        sock.close()

    # Once the other program is gone, a reload brings it up.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"


async def test_two_entries_cannot_share_a_port_at_setup(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """Entries made outside the config flow (e.g. restored) still do not crash on a shared port."""
    first = await setup_entry()
    port = port_of(first)
    second = MockConfigEntry(domain=DOMAIN, data={"host": "127.0.0.1", "port": port}, unique_id="other")
    second.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(second.entry_id)
    assert second.state is ConfigEntryState.SETUP_RETRY
    assert first.state is ConfigEntryState.LOADED
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
    await hass.config_entries.async_unload(second.entry_id)


async def remove_device_response(hass: HomeAssistant, ws_client: Any, device_id: str) -> dict[str, Any]:
    await ws_client.send_json_auto_id(
        {"type": "config/device_registry/remove", "device_id": device_id}
    )
    response: dict[str, Any] = await ws_client.receive_json()
    await hass.async_block_till_done()
    return response


async def remove_device(hass: HomeAssistant, ws_client: Any, device_id: str, entry_id: str) -> bool:
    return bool((await remove_device_response(hass, ws_client, device_id))["success"])


async def refusal(hass: HomeAssistant, ws_client: Any, device_id: str) -> str:
    """Try to remove a device that must stay; return the translation key of the refusal."""
    response = await remove_device_response(hass, ws_client, device_id)
    assert not response["success"]
    assert response["error"]["translation_domain"] == DOMAIN
    assert dr.async_get(hass).async_get(device_id) is not None
    return str(response["error"]["translation_key"])


async def test_remove_devices(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator, hass_storage: dict[str, Any]
) -> None:
    assert await async_setup_component(hass, "config", {})
    entry = await setup_entry()
    port = port_of(entry)
    hub = hub_of(entry)
    devices = dr.async_get(hass)
    client = await hass_ws_client(hass)

    async with charger(port, "CP-GONE") as gone:
        await gone.boot()
        await gone.status(1, "Available")
    async with charger(port, "CP-HERE") as here:
        await here.boot()
        await hass.async_block_till_done()

        gone_device = find_device(hass, "CP-GONE")
        here_device = find_device(hass, "CP-HERE")
        assert gone_device is not None and here_device is not None

        # A connected charger cannot be removed; the user is told why.
        assert await refusal(hass, client, here_device.id) == "remove_connected_charger"
        assert devices.async_get(here_device.id) is not None
        assert "CP-HERE" in hub.central.chargers

        # A disconnected one is removed and forgotten, with its entities.
        assert await remove_device(hass, client, gone_device.id, entry.entry_id)
        assert devices.async_get(gone_device.id) is None
        assert "CP-GONE" not in hub.central.chargers
        entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        assert not [e for e in entities if e.unique_id.startswith("CP-GONE_")]

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["chargers"]
    assert [charger_["charge_point_id"] for charger_ in stored] == ["CP-HERE"]


async def test_removed_charger_comes_back_as_new(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator
) -> None:
    """A removed charger that connects again is a new charger: its device and entities reappear."""
    assert await async_setup_component(hass, "config", {})
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-1") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await hass.async_block_till_done()
    await hass.async_block_till_done()
    device = find_device(hass, "CP-1")
    assert device is not None
    assert await remove_device(hass, await hass_ws_client(hass), device.id, entry.entry_id)
    assert "CP-1" not in hub_of(entry).central.chargers
    assert find_device(hass, "CP-1") is None

    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
        await cp.status(1, "Charging")
        await hass.async_block_till_done()
        await wait_for(
            lambda: find_device(hass, "CP-1") is not None, what="device again"
        )
        registry = er.async_get(hass)
        await wait_for(
            lambda: registry.async_get_entity_id("sensor", DOMAIN, "CP-1_1_status") is not None, what="entities"
        )
        status = registry.async_get_entity_id("sensor", DOMAIN, "CP-1_1_status")
        assert status is not None
        await wait_for(lambda: (s := hass.states.get(status)) is not None and s.state == "charging", what="state")
        # The charger-wide entities (connector 0) come back too.
        connected = registry.async_get_entity_id("binary_sensor", DOMAIN, "CP-1_0_connected")
        assert connected is not None
        connected_state = hass.states.get(connected)
        assert connected_state is not None
        assert connected_state.state == "on"


async def test_other_devices_can_be_removed(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """A device that is not a known charger (e.g. a stale one) can always be removed."""
    entry = await setup_entry()
    devices = dr.async_get(hass)
    other = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "unknown-thing")})
    assert await async_remove_config_entry_device(hass, entry, other)
    # A stale charger device whose id reads like a connector of a known charger is no connector.
    async with charger(port_of(entry), "garage") as cp:
        await cp.boot()
    stale = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "garage_2")})
    assert await async_remove_config_entry_device(hass, entry, stale)


async def test_connector_and_entry_devices_stay_while_the_charger_is_known(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_ws_client: WebSocketGenerator
) -> None:
    """A connector goes with its charger, and the entry's device with the entry."""
    assert await async_setup_component(hass, "config", {})
    entry = await setup_entry()
    client = await hass_ws_client(hass)
    devices = dr.async_get(hass)
    entry_device = devices.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, entry.entry_id)}, name="entry"
    )
    async with charger(port_of(entry), "CP-2") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await cp.status(2, "Available")
        await wait_for(lambda: find_device(hass, "CP-2_2") is not None, what="connector devices")
        connector_1, connector_2 = find_device(hass, "CP-2_1"), find_device(hass, "CP-2_2")
        assert connector_1 is not None and connector_2 is not None
        assert await refusal(hass, client, connector_2.id) == "remove_connector_device"
        assert await refusal(hass, client, entry_device.id) == "remove_entry_device"
    await wait_for(lambda: not hub_of(entry).central.chargers["CP-2"].connected, what="disconnect")

    # Disconnected: the connector still goes only with its charger, whose removal takes it along.
    assert await refusal(hass, client, connector_1.id) == "remove_connector_device"
    assert await refusal(hass, client, entry_device.id) == "remove_entry_device"
    charger_device = find_device(hass, "CP-2")
    assert charger_device is not None
    assert await remove_device(hass, client, charger_device.id, entry.entry_id)
    assert find_device(hass, "CP-2") is None
    assert find_device(hass, "CP-2_1") is None and find_device(hass, "CP-2_2") is None
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    assert not [e for e in entities if e.unique_id.startswith("CP-2_")]
    assert devices.async_get(entry_device.id) is not None
