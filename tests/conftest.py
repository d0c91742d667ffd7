"""Fixtures: the integration loaded on a free port, chargers connected over real WebSockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
import socket
import sys
from typing import Any
from unittest.mock import PropertyMock, patch

import pytest

# Import our package before Home Assistant starts, or the test plugin's own
# testing_config/custom_components shadows it ("Cannot find integration").
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.ocpp_cs  # noqa: F401
from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.hub import OcppHub
from custom_components.ocpp_cs.runtime import OcppRuntime


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom integrations in every test."""


# What Home Assistant logs when an integration uses an API on its way out ("Detected that
# custom integration 'ocpp_cs' calls ... This will stop working in Home Assistant 2027.8").
DEPRECATION_MARKERS = ("will stop working", "deprecated", "please report it to the author")


@pytest.fixture(autouse=True)
def no_deprecated_api_reports(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test in which Home Assistant reports that ocpp_cs uses a deprecated API."""
    yield
    reports = {
        record.getMessage()
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)  # type: ignore[arg-type]
        if "ocpp_cs" in (message := record.getMessage()).lower()
        and any(marker in message.lower() for marker in DEPRECATION_MARKERS)
    }
    if reports:
        pytest.fail("Home Assistant reported deprecated use by ocpp_cs:\n" + "\n".join(sorted(reports)))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


type EntryFactory = Callable[..., Awaitable[MockConfigEntry]]


@pytest.fixture
async def setup_entry(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[EntryFactory]:
    """Return a function that adds and sets up an entry listening on 127.0.0.1."""
    entries: list[MockConfigEntry] = []

    async def factory(**options: Any) -> MockConfigEntry:
        port = options.pop("port", None) or free_port()
        data = {"host": "127.0.0.1", "port": port, **options}
        entry = MockConfigEntry(domain=DOMAIN, data=data, unique_id=str(port), title=f"OCPP :{port}")
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        entries.append(entry)
        return entry

    yield factory
    for entry in entries:
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def runtime_of(entry: MockConfigEntry) -> OcppRuntime:
    runtime = entry.runtime_data
    assert isinstance(runtime, OcppRuntime)
    return runtime


def hub_of(entry: MockConfigEntry) -> OcppHub:
    return runtime_of(entry).hub


def port_of(entry: MockConfigEntry) -> int:
    return int(entry.data["port"])


@pytest.fixture
async def unload_entries(hass: HomeAssistant, socket_enabled: None) -> AsyncIterator[None]:
    """Unload every ocpp_cs entry at the end (for entries created through the config flow)."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_RETRY):
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def entities_enabled_by_default() -> Any:
    """Create the entities that are disabled by default enabled (tests that read their states)."""
    with patch.object(Entity, "entity_registry_enabled_default", new_callable=PropertyMock, return_value=True):
        yield


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Iterator[Path]:
    """Keep the files of a test (firmware, diagnostics, logs) in its own config directory."""
    original = hass.config.config_dir
    hass.config.config_dir = str(tmp_path)
    yield tmp_path
    hass.config.config_dir = original
