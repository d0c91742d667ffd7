"""Small helpers the scenarios share: entity lookups, bounded waits, raw OCPP-J frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import itertools
import json
from typing import Any

from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs.const import DOMAIN

_ids = itertools.count(1)


async def http_base(hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, *components: str) -> Any:
    """
    Serve Home Assistant's HTTP app on 127.0.0.1 and make it the internal URL chargers are given.

    `components` are set up first: views must be registered before the test server freezes the router.
    """
    for component in components:
        assert await async_setup_component(hass, component, {})
    client = await hass_client_no_auth()
    hass.config.internal_url = str(client.make_url("")).rstrip("/")
    return client


def find_device(hass: HomeAssistant, identifier: str) -> dr.DeviceEntry | None:
    """Return the device of a charger (`CP-1`), a connector (`CP-1_2`) or an entry (its id)."""
    devices = dr.async_get(hass).async_get_devices(identifiers={(DOMAIN, identifier)})
    assert len(devices) <= 1, devices
    return devices[0] if devices else None


def device_id(hass: HomeAssistant, identifier: str) -> str:
    """Return the id of the device of a charger (`CP-1`) or connector (`CP-1_2`)."""
    device = find_device(hass, identifier)
    assert device is not None, identifier
    return device.id


async def action(hass: HomeAssistant, service: str, /, **data: Any) -> Any:
    """Call one of the integration's actions, waiting for it, and return its response."""
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, return_response=True)


def entity_id(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found, f"no {platform} with unique id {unique_id}"
    return found


def has_entity(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> bool:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id) is not None


def full_state(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> State:
    current = hass.states.get(entity_id(hass, unique_id, platform))
    assert current is not None, f"{unique_id} has no state"
    return current


def state(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    return full_state(hass, unique_id, platform).state


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def call_frame(action: str, payload: Any, unique_id: str | None = None) -> str:
    """Return an OCPP-J CALL frame as a charger would send it."""
    return json.dumps([2, unique_id or f"raw-{next(_ids)}", action, payload])


def sampled(value: str, measurand: str | None = None, unit: str | None = None, **fields: str) -> dict[str, str]:
    """Return one sampledValue element (camelCase keys, as on the wire)."""
    item = {"value": value, **fields}
    if measurand is not None:
        item["measurand"] = measurand
    if unit is not None:
        item["unit"] = unit
    return item
