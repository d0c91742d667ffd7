"""A charger that boots while new chargers are `pending` is accepted through a repair's fix flow."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs.const import DOMAIN

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of
from .flow_helpers import strings
from .helpers import find_device, wait_for


def fix_flow_strings() -> dict[str, Any]:
    section: dict[str, Any] = strings()["issues"]["pending_charger"]["fix_flow"]
    return section


async def start_fix(client: Any, issue_id: str) -> dict[str, Any]:
    response = await client.post("/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id})
    assert response.status == HTTPStatus.OK
    data: dict[str, Any] = await response.json()
    return data


async def submit_fix(client: Any, flow_id: str) -> dict[str, Any]:
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    assert response.status == HTTPStatus.OK
    data: dict[str, Any] = await response.json()
    return data


def boot_triggers(cp: SimCharger) -> list[dict[str, Any]]:
    return [
        payload
        for action, payload in cp.received
        if action == "TriggerMessage" and payload["requested_message"] == "BootNotification"
    ]


async def test_accept_pending_charger(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(new_chargers="pending")
    hub = hub_of(entry)
    issues = ir.async_get(hass)

    async with charger(port_of(entry), "CP-1") as cp:
        boot = await cp.boot(charge_point_serial_number="SN-9")
        assert boot.status == "Pending"
        await hass.async_block_till_done()

        issue = issues.async_get_issue(DOMAIN, "pending_CP-1")
        assert issue is not None
        assert issue.is_fixable
        assert issue.translation_key == "pending_charger"
        assert issue.translation_placeholders == {"charge_point_id": "CP-1", "entry": entry.title}
        assert find_device(hass, "CP-1") is None
        assert hub.central.registration_status("CP-1") == "Pending"
        # Booting again while pending stays Pending and keeps one issue.
        assert (await cp.boot()).status == "Pending"
        assert [i for i in issues.issues if i[0] == DOMAIN] == [(DOMAIN, "pending_CP-1")]
        assert boot_triggers(cp) == []

        client = await hass_client()
        flow = await start_fix(client, "pending_CP-1")
        assert flow["type"] == "form"
        assert flow["step_id"] == "confirm"
        assert flow["step_id"] in fix_flow_strings()["step"]
        # Every placeholder the description uses is given.
        assert flow["description_placeholders"]["charge_point_id"] == "CP-1"
        description = fix_flow_strings()["step"]["confirm"]["description"]
        for name in ("charge_point_id", "entry"):
            if "{" + name + "}" in description:
                assert name in flow["description_placeholders"]

        result = await submit_fix(client, flow["flow_id"])
        assert result["type"] == "create_entry"
        await hass.async_block_till_done()

        assert issues.async_get_issue(DOMAIN, "pending_CP-1") is None
        assert hub.central.registration_status("CP-1") == "Accepted"
        await wait_for(lambda: boot_triggers(cp))
        assert boot_triggers(cp) == [{"requested_message": "BootNotification", "connector_id": None}]

        # The charger boots again, as asked: now it is accepted and its device appears.
        boot = await cp.boot(charge_point_serial_number="SN-9", firmware_version="2.0")
        assert boot.status == "Accepted"
        await hass.async_block_till_done()
        device = find_device(hass, "CP-1")
        assert device is not None
        assert (device.manufacturer, device.serial_number, device.sw_version) == ("Sim", "SN-9", "2.0")
        assert device.config_entry_id == entry.entry_id
        # Accepted chargers may use the whole protocol.
        assert (await cp.authorize("CARD")).id_tag_info["status"] == "Accepted"


async def test_accept_pending_charger_that_disconnected(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    """Accepted while offline: its next boot is Accepted."""
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-1") as cp:
        assert (await cp.boot()).status == "Pending"
    await hass.async_block_till_done()

    client = await hass_client()
    flow = await start_fix(client, "pending_CP-1")
    result = await submit_fix(client, flow["flow_id"])
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-1") is None

    async with charger(port_of(entry), "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"


async def test_fix_flow_when_entry_not_loaded(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client: ClientSessionGenerator
) -> None:
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-1") as cp:
        assert (await cp.boot()).status == "Pending"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-1") is not None
    client = await hass_client()
    flow = await start_fix(client, "pending_CP-1")
    result = await submit_fix(client, flow["flow_id"])
    assert result["type"] == "abort"
    assert result["reason"] == "not_loaded"
    assert result["reason"] in fix_flow_strings()["abort"]


async def test_removing_the_entry_removes_its_issues(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-1") as cp:
        assert (await cp.boot()).status == "Pending"
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-1") is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-1") is None
