"""Diagnostics downloads of an entry and of its devices: state included, secrets redacted."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from websockets.exceptions import InvalidStatus

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import find_device, wait_for

REDACTED = "**REDACTED**"
PASSWORD = "top-secret-pw"
AUTHORIZATION_KEY = "00112233445566778899"


def auth(charge_point_id: str) -> dict[str, Any]:
    token = base64.b64encode(f"{charge_point_id}:{PASSWORD}".encode()).decode()
    return {"additional_headers": {"Authorization": f"Basic {token}"}}


class KeyLeakingCharger(ControlCharger):
    """Reports its AuthorizationKey in GetConfiguration (the spec says it should not)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append({"key": "AuthorizationKey", "readonly": False, "value": AUTHORIZATION_KEY})


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_entry_and_device_diagnostics(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(password=PASSWORD, remote_id_tag="REMOTE")
    hub = hub_of(entry)
    with pytest.raises(InvalidStatus):
        async with charger(port_of(entry), "CP-1"):
            pass

    async with charger(port_of(entry), "CP-1", cls=KeyLeakingCharger, **auth("CP-1")) as cp:
        await cp.boot(charge_point_serial_number="SN-1", firmware_version="1.0")
        await wait_for(lambda: "AuthorizationKey" in hub.central.chargers["CP-1"].configuration, what="configuration")
        await cp.status(1, "Charging")
        await cp.status(2, "Available")
        start = await cp.start_transaction(1, "CARD-1", 100)
        await hass.async_block_till_done()

        data = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = json.dumps(data)
        assert PASSWORD not in text
        assert AUTHORIZATION_KEY not in text
        assert data["entry"]["password"] == REDACTED
        assert data["entry"]["remote_id_tag"] == "REMOTE"
        assert data["entry"]["port"] == port_of(entry)
        assert data["rejected_handshakes"] == 1
        assert data["next_transaction_id"] == start.transaction_id + 1

        cp1 = data["chargers"]["CP-1"]
        assert cp1["connected"] is True
        assert cp1["registration"] == "Accepted"
        assert cp1["boot"]["charge_point_serial_number"] == "SN-1"
        assert cp1["connection"]["subprotocol"] == "ocpp1.6"
        connectors = {c["connector_id"]: c for c in cp1["connectors"]}
        assert connectors[1]["status"] == "Charging"
        assert connectors[2]["status"] == "Available"
        assert [t["transaction_id"] for t in cp1["open_transactions"]] == [start.transaction_id]

        device = find_device(hass, "CP-1")
        assert device is not None
        device_data = await get_diagnostics_for_device(hass, hass_client, entry, device)
        assert AUTHORIZATION_KEY not in json.dumps(device_data)
        assert device_data["charge_point_id"] == "CP-1"
        assert device_data["connected"] is True

        # A connector device (the charger has two connectors) shows its charger.
        connector_device = find_device(hass, "CP-1_2")
        assert connector_device is not None
        connector_data = await get_diagnostics_for_device(hass, hass_client, entry, connector_device)
        assert connector_data["charge_point_id"] == "CP-1"
        assert connector_data["connector_id"] == 2
        assert AUTHORIZATION_KEY not in json.dumps(connector_data)

    await hass.async_block_till_done()
    data = await async_get_config_entry_diagnostics(hass, entry)
    assert data["chargers"]["CP-1"]["connected"] is False
    assert "connection" not in data["chargers"]["CP-1"]


async def test_diagnostics_of_a_pending_charger(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-P") as cp:
        assert (await cp.boot()).status == "Pending"
        data = await async_get_config_entry_diagnostics(hass, entry)
    assert data["chargers"]["CP-P"]["registration"] == "Pending"
    assert "password" not in data["entry"]


async def test_diagnostics_of_an_entry_that_is_not_running(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, socket_enabled: None
) -> None:
    """The port is taken: the entry waits to retry, and its diagnostics still download."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        entry = MockConfigEntry(
            domain=DOMAIN, data={"host": "127.0.0.1", "port": port, "password": PASSWORD}, unique_id=str(port)
        )
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY

        data = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert data["entry"]["password"] == REDACTED
        assert data["entry"]["port"] == port
        assert data["state"] == "setup_retry"
        assert str(port) in str(data["reason"])
        device = dr.async_get(hass).async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, "CP-OLD")}
        )
        assert await get_diagnostics_for_device(hass, hass_client, entry, device) == {"state": "setup_retry"}
        await hass.config_entries.async_unload(entry.entry_id)


async def test_device_diagnostics_of_other_devices(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    devices = dr.async_get(hass)
    entry_device = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, entry.entry_id)})
    foreign = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={("other", "CP-1")})
    assert await async_get_device_diagnostics(hass, entry, entry_device) == {}
    assert await async_get_device_diagnostics(hass, entry, foreign) == {}
