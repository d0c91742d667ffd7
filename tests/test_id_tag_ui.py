"""Id tags in the UI (options flow, actions), the id_tag event entity and the device triggers."""

from __future__ import annotations

from typing import Any

from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType, trigger as device_automation_trigger
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.core import Context, HomeAssistant, ServiceCall, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerData, TriggerInfo
from homeassistant.setup import async_setup_component
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_get_device_automations,
    async_mock_service,
)

from custom_components.ocpp_cs import device_trigger
from custom_components.ocpp_cs.const import DOMAIN, EVENT_ID_TAG_PRESENTED

from .auth_charger import AuthCharger, boot_and_read
from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .flow_helpers import fields, form_values
from .helpers import action, device_id, entity_id, full_state, wait_for
from .test_options_flow import change_settings, configure, options_step


async def test_add_and_edit_tag_with_limits(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        form = await options_step(hass, entry, "add_id_tag")
        # The known chargers are offered; the tag allows one transaction at a time by default.
        field = next(key for key in form["data_schema"].schema if str(key) == "charge_point_ids")
        assert form["data_schema"].schema[field].config["options"] == ["CP-1"]
        assert form_values(form)["single_transaction"] is True
        result = await configure(
            hass, form["flow_id"],
            {"id_tag": "VAN", "status": "accepted", "name": "Van", "charge_point_ids": ["CP-1", "CP-9"],
             "single_transaction": False},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        tag = hub.central.id_tags["van"]
        assert (tag.charge_point_ids, tag.single_transaction, tag.name) == (("CP-1", "CP-9"), False, "Van")

        # Editing shows the current values, the "off" included, and keeps them when submitted.
        menu = await options_step(hass, entry, "edit_id_tag")
        details = await configure(hass, menu["flow_id"], {"id_tag": "VAN"})
        assert details["step_id"] == "edit_id_tag_details"
        shown = form_values(details)
        assert shown["charge_point_ids"] == ["CP-1", "CP-9"]
        assert shown["single_transaction"] is False
        assert shown["name"] == "Van"
        result = await configure(hass, details["flow_id"], {**shown, "charge_point_ids": [], "status": "blocked"})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        tag = hub.central.id_tags["van"]
        assert (tag.charge_point_ids, tag.single_transaction, tag.status) == ((), False, "Blocked")
        assert (await cp.authorize("VAN")).id_tag_info["status"] == "Blocked"


async def test_add_presented_tags_in_one_click(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    hub = hub_of(entry)
    result = await options_step(hass, entry, "add_presented_id_tag")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_presented_id_tags"
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        await cp.authorize("NEW-CARD")
        await cp.authorize("NEIGHBOUR")
        form = await options_step(hass, entry, "add_presented_id_tag")
        assert form["step_id"] == "add_presented_id_tag"
        # The newest is preselected: one click (submit) adds it as Accepted.
        values = form_values(form)
        assert values == {"id_tags": ["NEIGHBOUR"], "status": "accepted"}
        options = form["data_schema"].schema[next(iter(form["data_schema"].schema))].config["options"]
        assert [o["value"] for o in options] == ["NEIGHBOUR", "NEW-CARD"]
        assert "CP-1" in options[0]["label"]
        result = await configure(hass, form["flow_id"], values)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert (await cp.authorize("NEIGHBOUR")).id_tag_info["status"] == "Accepted"

        # Several at once, as a block list.
        await cp.authorize("THIEF")
        form = await options_step(hass, entry, "add_presented_id_tag")
        result = await configure(hass, form["flow_id"], {"id_tags": ["THIEF", "NEW-CARD"], "status": "blocked"})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert hub.central.id_tags["thief"].status == "Blocked"
        assert hub.central.id_tags["new-card"].status == "Blocked"
    result = await options_step(hass, entry, "add_presented_id_tag")
    assert result["reason"] == "no_presented_id_tags"


async def test_sync_option_in_the_settings(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    form = await options_step(hass, entry, "settings")
    assert "sync_local_list" in {str(key) for key, _, _ in fields(form["data_schema"])}
    result = await change_settings(hass, entry, sync_local_list=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["sync_local_list"] is True
    assert runtime_of(entry).local_lists.enabled


async def test_id_tag_actions(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    other = await setup_entry()
    answer = await action(
        hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag=" CARD ", name="Alice",
        expiry_date="2099-01-01T00:00:00+00:00", parent_id_tag="HOME", charge_point_ids="CP-1",
    )
    assert answer == {
        "id_tag": "CARD", "status": "accepted", "expiry_date": "2099-01-01T00:00:00.000Z", "parent_id_tag": "HOME",
        "name": "Alice", "charge_point_ids": ["CP-1"], "single_transaction": True,
    }
    assert "card" not in hub_of(other).central.id_tags
    # Updating: only the fields given change; None clears a field.
    answer = await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="card", expiry_date=None)
    assert (answer["expiry_date"], answer["name"], answer["id_tag"]) == (None, "Alice", "CARD")

    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        # A charger device names its entry too.
        await action(hass, "add_id_tag", device_id=device_id(hass, "CP-1"), id_tag="SECOND", status="Expired")
    assert hub_of(entry).central.id_tags["second"].status == "Expired"

    assert await action(hass, "remove_id_tag", config_entry_id=entry.entry_id, id_tag="Card") == {
        "id_tag": "Card", "removed": True,
    }
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("remove_id_tag", {"config_entry_id": entry.entry_id, "id_tag": "CARD"}, "id_tag_not_listed"),
        ("add_id_tag", {"id_tag": "X"}, "entry_required"),
        ("add_id_tag", {"config_entry_id": "nope", "id_tag": "X"}, "unknown_entry"),
        ("add_id_tag", {"device_id": "nope", "id_tag": "X"}, "unknown_device"),
        ("add_id_tag", {"config_entry_id": entry.entry_id, "id_tag": "X" * 21}, "invalid_field"),
        ("add_id_tag", {"config_entry_id": entry.entry_id, "id_tag": "X", "status": "maybe"}, "invalid_field"),
    ]
    for name, data, key in bad:
        with pytest.raises(ServiceValidationError) as raised:
            await hass.services.async_call(DOMAIN, name, data, blocking=True)
        assert raised.value.translation_key == key, (name, data)


async def test_id_tag_event_entity(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="ALICE", name="Alice")
    async with charger(port_of(entry), "CP-2C", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp, connectors=2)
        event_1 = entity_id(hass, "CP-2C_1_id_tag", "event")
        event_2 = entity_id(hass, "CP-2C_2_id_tag", "event")
        first = full_state(hass, "CP-2C_1_id_tag", "event")
        assert first.attributes["event_types"] == ["presented", "accepted", "rejected"]
        assert first.state == "unknown"
        changes: list[tuple[str, str | None]] = []

        # A callback runs in the event loop, in order; a plain function would run in executor
        # threads and could record two state changes in either order.
        @callback
        def record(event: Any) -> None:
            if event.data["entity_id"].startswith("event."):
                changes.append((event.data["entity_id"], event.data["new_state"].attributes.get("event_type")))

        hass.bus.async_listen("state_changed", record)

        # Connector 2 is plugged in (Preparing): the Authorize belongs to it.
        await cp.status(2, "Preparing")
        await cp.authorize("ALICE")
        await hass.async_block_till_done()
        assert changes == [(event_2, "presented"), (event_2, "accepted")]
        attributes = full_state(hass, "CP-2C_2_id_tag", "event").attributes
        assert attributes["id_tag"] == "ALICE"
        assert attributes["name"] == "Alice"
        assert attributes["status"] == "accepted"
        assert attributes["source"] == "authorize"

        # StartTransaction names its connector; a refused tag is `rejected`.
        changes.clear()
        await cp.start_transaction(1, "STRANGER", 0)
        await hass.async_block_till_done()
        assert changes[-1] == (event_1, "rejected")
        assert {entity for entity, _ in changes} == {event_1}
        attributes = full_state(hass, "CP-2C_1_id_tag", "event").attributes
        assert (attributes["id_tag"], attributes["status"], attributes["source"]) == (
            "STRANGER", "invalid", "start_transaction",
        )

        # No connector waits: an Authorize is shown on every connector.
        await cp.status(2, "Available")
        changes.clear()
        await cp.authorize("ALICE")
        await hass.async_block_till_done()
        assert {entity for entity, kind in changes if kind == "accepted"} == {event_1, event_2}


async def test_a_swipe_shows_once_though_authorize_and_start_transaction_both_carry_it(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-SW", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp, connectors=1)
        event = entity_id(hass, "CP-SW_1_id_tag", "event")
        changes: list[str | None] = []
        presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)

        @callback
        def record(changed: Any) -> None:
            if changed.data["entity_id"] == event:
                changes.append(changed.data["new_state"].attributes.get("event_type"))

        hass.bus.async_listen("state_changed", record)
        await cp.authorize("CARD")
        await cp.start_transaction(1, "CARD", 0)
        await hass.async_block_till_done()
        assert changes == ["presented", "accepted"]  # one swipe
        assert len(presented) == 2  # the bus event still reports each message
        # A start without an Authorize before it (the charger's own list) is a swipe of its own.
        await cp.start_transaction(1, "CARD", 0)
        await hass.async_block_till_done()
        assert changes == ["presented", "accepted", "presented", "accepted"]
        assert full_state(hass, "CP-SW_1_id_tag", "event").attributes["source"] == "start_transaction"


async def test_device_triggers(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    calls: list[ServiceCall] = async_mock_service(hass, "test", "automation")
    async with charger(port_of(entry), "CP-T", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp, connectors=2)
        charger_device, connector_2 = device_id(hass, "CP-T"), device_id(hass, "CP-T_2")
        for device in (charger_device, connector_2):
            triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device)
            kinds = {t["type"] for t in triggers if t["domain"] == DOMAIN}
            assert kinds == {"transaction_started", "transaction_stopped"}
        # The entry's own device (entry-wide entities) is neither charger nor connector.
        entry_device = dr.async_get(hass).async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, entry.entry_id)}, name="entry"
        )
        triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, entry_device.id)
        assert not [t for t in triggers if t["domain"] == DOMAIN]

        def trigger(device: str, kind: str, label: str) -> dict[str, Any]:
            return {
                "trigger": {"platform": "device", "domain": DOMAIN, "device_id": device, "type": kind},
                "action": {
                    "service": "test.automation",
                    "data": {"label": label, "tx": "{{ trigger.event.data.transaction_id }}"},
                },
            }

        assert await async_setup_component(
            hass,
            automation.DOMAIN,
            {
                automation.DOMAIN: [
                    trigger(charger_device, "transaction_started", "charger started"),
                    trigger(connector_2, "transaction_started", "connector 2 started"),
                    trigger(connector_2, "transaction_stopped", "connector 2 stopped"),
                ]
            },
        )
        first = await cp.start_transaction(1, "A", 0)
        second = await cp.start_transaction(2, "B", 0)
        await cp.stop_transaction(second.transaction_id, 100)
        await cp.stop_transaction(first.transaction_id, 100)
        await wait_for(lambda: len(calls) == 4, what="automations")
        assert [(c.data["label"], int(c.data["tx"])) for c in calls] == [
            ("charger started", first.transaction_id),
            ("charger started", second.transaction_id),
            ("connector 2 started", second.transaction_id),
            ("connector 2 stopped", second.transaction_id),
        ]



TRIGGER_INFO = TriggerInfo(
    domain="automation", name="test", variables=None, trigger_data=TriggerData(id="0", idx="0", alias=None)
)


async def _never_run(run_variables: dict[str, Any], context: Context | None = None) -> None:
    raise AssertionError("the trigger must not fire")


async def test_device_trigger_on_another_device_is_refused(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """A trigger on a device that is no charger or connector fails with a translated error."""
    entry = await setup_entry()
    entry_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, entry.entry_id)}, name="entry"
    )
    config = {"platform": "device", "domain": DOMAIN, "device_id": entry_device.id, "type": "transaction_started"}
    with pytest.raises(InvalidDeviceAutomationConfig) as raised:
        await device_automation_trigger.async_validate_trigger_config(hass, config)
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == "trigger_device_not_charger"
    assert entry_device.id in str(raised.value)
    # A device that stopped being a charger between validation and attaching is refused the same way.
    with pytest.raises(InvalidDeviceAutomationConfig) as raised:
        await device_trigger.async_attach_trigger(hass, config, _never_run, TRIGGER_INFO)
    assert raised.value.translation_key == "trigger_device_not_charger"
    # An unknown trigger type is a schema error.
    with pytest.raises(vol.Invalid):
        await device_trigger.async_validate_trigger_config(hass, {**config, "type": "exploded"})
