"""The options flow (settings, id tags) and the reconfigure flow."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import socket
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from websockets.exceptions import InvalidStatus

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.relay import RelayManager
from custom_components.ocpp_cs.engine.state import IdTag
from custom_components.ocpp_cs.hub import OcppHub
from custom_components.ocpp_cs.settings import entry_config

from .charger import charger
from .conftest import EntryFactory, free_port, hub_of, port_of
from .flow_helpers import assert_translated, can_bind, configure, form_values, shown, strings
from .helpers import wait_for

# --- helpers ------------------------------------------------------------------------------


async def options_menu(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "init"
    assert_translated(result, strings()["options"])
    return dict(result)


async def options_step(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict[str, Any]:
    """Open the options flow and choose a menu option."""
    menu = await options_menu(hass, entry)
    result = await hass.config_entries.options.async_configure(menu["flow_id"], {"next_step_id": step})
    assert_translated(result, strings()["options"])
    return shown(result)



async def change_settings(hass: HomeAssistant, entry: MockConfigEntry, **changes: Any) -> dict[str, Any]:
    """Submit the settings form with what it shows, changed by `changes` (None = cleared)."""
    form = await options_step(hass, entry, "settings")
    assert form["type"] is FlowResultType.FORM
    values = {**form_values(form), **changes}
    values = {key: value for key, value in values.items() if value is not None}
    result = await configure(hass, form["flow_id"], values)
    await hass.async_block_till_done()
    return result


async def add_tag(hass: HomeAssistant, entry: MockConfigEntry, id_tag: str, **fields: Any) -> dict[str, Any]:
    form = await options_step(hass, entry, "add_id_tag")
    assert form["type"] is FlowResultType.FORM
    result = await configure(hass, form["flow_id"], {"id_tag": id_tag, "status": "accepted", **fields})
    await hass.async_block_till_done()
    return result


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def server_starts() -> Iterator[list[int]]:
    """Record the port of every server start (a reload starts the server once)."""
    starts: list[int] = []
    original = OcppHub.async_start

    async def recording(self: OcppHub, relay: RelayManager | None) -> None:
        starts.append(int(entry_config(self.entry)["port"]))
        await original(self, relay)

    with patch.object(OcppHub, "async_start", recording):
        yield starts


# --- menu and settings --------------------------------------------------------------------


async def test_menu(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    # With id tags and an upstream every step applies.
    entry = await setup_entry(upstream_url="ws://127.0.0.1:1/ocpp")
    await add_tag(hass, entry, "CARD-1")
    menu = await options_menu(hass, entry)
    assert menu["menu_options"] == [
        "settings", "charger_settings", "site", "prices", "add_id_tag", "add_presented_id_tag", "edit_id_tag",
        "remove_id_tag",
        "test_upstream",
    ]


async def test_settings_form_shows_current_values(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(new_chargers="pending", remote_id_tag="REMOTE", heartbeat_interval=60, password="pw")
    form = await options_step(hass, entry, "settings")
    assert form["step_id"] == "settings"
    shown = form_values(form)
    assert shown["host"] == "127.0.0.1"
    assert shown["port"] == port_of(entry)
    assert shown["new_chargers"] == "pending"
    assert shown["unknown_id_tags"] == "accept"
    assert shown["remote_id_tag"] == "REMOTE"
    assert shown["heartbeat_interval"] == 60
    assert shown["password"] == "pw"


async def test_policies_apply_without_reload(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    port = port_of(entry)
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
        assert (await cp.authorize("STRANGER")).id_tag_info["status"] == "Accepted"
        session = hub.central.sessions["CP-1"]

        result = await change_settings(
            hass, entry, new_chargers="reject", unknown_id_tags="reject", heartbeat_interval=90, remote_id_tag="R2"
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options["new_chargers"] == "reject"
        assert entry.options["unknown_id_tags"] == "reject"

        # Not reloaded: same hub, the charger is still connected on the same session.
        assert entry.state is ConfigEntryState.LOADED
        assert hub_of(entry) is hub
        assert hub.central.sessions["CP-1"] is session
        assert hub.central.settings.remote_id_tag == "R2"
        assert (await cp.authorize("STRANGER")).id_tag_info["status"] == "Invalid"
        # A known charger stays accepted; its next boot gets the new interval.
        boot = await cp.boot()
        assert (boot.status, boot.interval) == ("Accepted", 90)

    async with charger(port, "CP-2") as cp2:
        assert (await cp2.boot()).status == "Rejected"


async def test_port_change_reloads_on_the_new_port(
    hass: HomeAssistant, setup_entry: EntryFactory, server_starts: list[int]
) -> None:
    entry = await setup_entry()
    old_port, new_port = port_of(entry), free_port()
    hub = hub_of(entry)
    async with charger(old_port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
    result = await change_settings(hass, entry, port=new_port)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert server_starts == [old_port, new_port]

    assert entry.state is ConfigEntryState.LOADED
    assert hub_of(entry) is not hub
    assert entry_config(entry)["port"] == new_port
    assert entry.unique_id == str(new_port)
    assert entry.title == f"OCPP Central System :{new_port}"
    assert can_bind(old_port)
    async with charger(new_port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
    assert "CP-1" in hub_of(entry).central.chargers


async def test_settings_port_errors(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    other = await setup_entry()
    result = await change_settings(hass, entry, port=port_of(other))
    assert result["type"] is FlowResultType.FORM
    # Shown on the field's section (the frontend shows no error on a field inside a section).
    assert result["errors"] == {"connection": "port_configured"}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        result = await change_settings(hass, entry, port=sock.getsockname()[1])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"connection": "port_in_use"}
    # Its own port is not "in use".
    result = await change_settings(hass, entry, port=port_of(entry))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_settings_other_errors(hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Any) -> None:
    entry = await setup_entry()
    result = await change_settings(
        hass, entry, upstream_url="http://x", ssl_certfile=str(tmp_path / "nope.pem"), remote_id_tag="Y" * 21
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        "connection": "invalid_upstream_url",
        "security": "file_not_found",
        "policies": "id_tag_length",
    }
    assert entry.options == {}


async def test_clearing_the_password_in_options(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """A password set when the entry was created can be removed in the options."""
    entry = await setup_entry(password="pw", upstream_url="ws://127.0.0.1:1/ocpp")
    port = port_of(entry)
    with pytest.raises(InvalidStatus):
        async with charger(port, "CP-1"):
            pass
    result = await change_settings(hass, entry, password=None, upstream_url=None)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert not entry_config(entry).get("password")
    assert not entry_config(entry).get("upstream_url")
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
    form = await options_step(hass, entry, "settings")
    assert "password" not in form_values(form)


async def test_settings_form_shown_again_as_submitted(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """After an error, a field the user emptied is not filled with the old value again."""
    entry = await setup_entry(password="pw")
    form = await options_step(hass, entry, "settings")
    values = {**form_values(form), "upstream_url": "nonsense"}
    del values["password"]
    result = await configure(hass, form["flow_id"], values)
    assert result["errors"] == {"connection": "invalid_upstream_url"}
    shown = form_values(result)
    assert "password" not in shown
    assert shown["upstream_url"] == "nonsense"
    del values["upstream_url"]
    result = await configure(hass, form["flow_id"], values)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert not entry_config(entry).get("password")


async def test_clearing_meter_value_options(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(meter_value_sample_interval=30, meter_values_sampled_data="Energy.Active.Import.Register")
    form = await options_step(hass, entry, "settings")
    values = form_values(form)
    assert values["meter_value_sample_interval"] == 30
    del values["meter_value_sample_interval"], values["meter_values_sampled_data"]
    result = await configure(hass, form["flow_id"], values)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert not entry_config(entry).get("meter_value_sample_interval")
    assert not entry_config(entry).get("meter_values_sampled_data")


async def test_setting_a_password_in_options_reloads(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    result = await change_settings(hass, entry, password="new")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    with pytest.raises(InvalidStatus):
        async with charger(port, "CP-1"):
            pass
    async with charger(port, "CP-1", additional_headers=basic_auth("CP-1", "new")) as cp:
        assert (await cp.boot()).status == "Accepted"


# --- id tags ------------------------------------------------------------------------------


async def test_add_id_tags_and_authorize(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    hub = hub_of(entry)

    form = await options_step(hass, entry, "add_id_tag")
    assert form["type"] is FlowResultType.FORM
    assert form["step_id"] == "add_id_tag"
    result = await configure(
        hass,
        form["flow_id"],
        {"id_tag": "CARD-1", "name": "Alice", "status": "accepted", "parent_id_tag": "FAMILY",
         "expiry_date": "2099-01-01 00:00:00"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (await add_tag(hass, entry, "CARD-2", status="blocked"))["type"] is FlowResultType.CREATE_ENTRY
    assert (await add_tag(hass, entry, "OLD", expiry_date="2020-01-01 00:00:00"))["type"] is (
        FlowResultType.CREATE_ENTRY
    )
    assert (await add_tag(hass, entry, "LOST", status="invalid"))["type"] is FlowResultType.CREATE_ENTRY

    tag = hub.central.id_tags["card-1"]
    assert (tag.id_tag, tag.name, tag.status, tag.parent_id_tag) == ("CARD-1", "Alice", "Accepted", "FAMILY")
    assert tag.expiry_date is not None and tag.expiry_date.year == 2099
    assert tag.expiry_date.tzinfo is not None
    assert set(hub.central.id_tags) == {"card-1", "card-2", "old", "lost"}
    # Adding id tags does not touch the settings and does not reload.
    assert entry.options == {}
    assert hub_of(entry) is hub

    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        info = (await cp.authorize("CARD-1")).id_tag_info
        assert info["status"] == "Accepted"
        assert info["parent_id_tag"] == "FAMILY"
        # The date-time selector gives local time (no offset): it is the configured time zone's.
        local = datetime(2099, 1, 1, tzinfo=dt_util.get_default_time_zone())
        assert info["expiry_date"] == local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert (await cp.authorize("card-1")).id_tag_info["status"] == "Accepted"
        assert (await cp.authorize("CARD-2")).id_tag_info["status"] == "Blocked"
        assert (await cp.authorize("OLD")).id_tag_info["status"] == "Expired"
        assert (await cp.authorize("LOST")).id_tag_info["status"] == "Invalid"
        assert (await cp.authorize("NOT-LISTED")).id_tag_info["status"] == "Invalid"
        start = await cp.start_transaction(1, "CARD-2", 0)
        assert start.id_tag_info["status"] == "Blocked"


async def test_add_id_tag_errors(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    form = await options_step(hass, entry, "add_id_tag")
    result = await configure(hass, form["flow_id"], {"id_tag": "X" * 21, "status": "accepted"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"id_tag": "id_tag_length"}
    result = await configure(hass, form["flow_id"], {"id_tag": "   ", "status": "accepted"})
    assert result["errors"] == {"id_tag": "id_tag_length"}
    result = await configure(
        hass, form["flow_id"], {"id_tag": "OK", "status": "accepted", "parent_id_tag": "P" * 21}
    )
    assert result["errors"] == {"parent_id_tag": "id_tag_length"}
    # The date-time selector itself refuses what is not a date and time.
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            form["flow_id"], {"id_tag": "OK", "status": "accepted", "expiry_date": "soon"}
        )
    assert hub_of(entry).central.id_tags == {}
    # 20 characters are fine.
    result = await configure(hass, form["flow_id"], {"id_tag": "X" * 20, "status": "accepted"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert list(hub_of(entry).central.id_tags) == ["x" * 20]


async def test_edit_id_tag(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1", name="Alice", parent_id_tag="FAMILY", expiry_date="2099-01-01 00:00:00")
    await add_tag(hass, entry, "CARD-2")

    choose = await options_step(hass, entry, "edit_id_tag")
    assert choose["type"] is FlowResultType.FORM
    assert choose["step_id"] == "edit_id_tag"
    details = await configure(hass, choose["flow_id"], {"id_tag": "CARD-1"})
    assert details["type"] is FlowResultType.FORM
    assert details["step_id"] == "edit_id_tag_details"
    assert details["description_placeholders"] == {"id_tag": "CARD-1"}
    shown = form_values(details)
    assert shown["name"] == "Alice"
    assert shown["status"] == "accepted"
    assert shown["parent_id_tag"] == "FAMILY"
    assert str(shown["expiry_date"]).startswith("2099-01-01")

    # Block it, drop its name and expiry date, keep the parent.
    result = await configure(hass, details["flow_id"], {"status": "blocked", "parent_id_tag": "FAMILY"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    tag = hub_of(entry).central.id_tags["card-1"]
    assert (tag.id_tag, tag.status, tag.name, tag.expiry_date, tag.parent_id_tag) == (
        "CARD-1", "Blocked", None, None, "FAMILY",
    )
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        info = (await cp.authorize("CARD-1")).id_tag_info
        assert info == {"status": "Blocked", "parent_id_tag": "FAMILY"}

    # An expiry date in the past makes an accepted tag Expired.
    choose = await options_step(hass, entry, "edit_id_tag")
    details = await configure(hass, choose["flow_id"], {"id_tag": "CARD-2"})
    result = await configure(hass, details["flow_id"], {"status": "accepted", "expiry_date": "2001-02-03 04:05:06"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        assert (await cp.authorize("CARD-2")).id_tag_info["status"] == "Expired"


async def test_edit_id_tag_errors(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1")
    choose = await options_step(hass, entry, "edit_id_tag")
    details = await configure(hass, choose["flow_id"], {"id_tag": "CARD-1"})
    result = await configure(hass, details["flow_id"], {"status": "accepted", "parent_id_tag": "P" * 21})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "edit_id_tag_details"
    assert result["errors"] == {"parent_id_tag": "id_tag_length"}


async def test_remove_id_tags(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    for id_tag in ("CARD-1", "CARD-2", "CARD-3"):
        await add_tag(hass, entry, id_tag)
    form = await options_step(hass, entry, "remove_id_tag")
    assert form["type"] is FlowResultType.FORM
    assert form["step_id"] == "remove_id_tag"
    result = await configure(hass, form["flow_id"], {"id_tags": ["CARD-1", "CARD-3"]})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert list(hub_of(entry).central.id_tags) == ["card-2"]
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        assert (await cp.authorize("CARD-1")).id_tag_info["status"] == "Invalid"
        assert (await cp.authorize("CARD-2")).id_tag_info["status"] == "Accepted"


async def test_id_tag_steps_without_id_tags(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """The menu no longer offers them; one opened before the last tag went away says why it ends."""
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1")
    for step in ("edit_id_tag", "remove_id_tag"):
        menu = await options_menu(hass, entry)
        assert step in menu["menu_options"]
        hub_of(entry).central.remove_id_tag("CARD-1")
        result = await hass.config_entries.options.async_configure(menu["flow_id"], {"next_step_id": step})
        assert_translated(result, strings()["options"])
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "no_id_tags"
        hub_of(entry).central.set_id_tag(IdTag("CARD-1"))


async def test_id_tags_persist(hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1", name="Alice", status="blocked", parent_id_tag="FAMILY")
    await add_tag(hass, entry, "CARD-2")
    await add_tag(hass, entry, "CARD-3")
    form = await options_step(hass, entry, "remove_id_tag")
    await configure(hass, form["flow_id"], {"id_tags": ["CARD-3"]})

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["id_tags"]
    assert {tag["id_tag"] for tag in stored} == {"CARD-1", "CARD-2"}

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    tags = hub_of(entry).central.id_tags
    assert set(tags) == {"card-1", "card-2"}
    assert (tags["card-1"].name, tags["card-1"].status, tags["card-1"].parent_id_tag) == (
        "Alice", "Blocked", "FAMILY",
    )


async def test_id_tag_steps_abort_when_not_loaded(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for step in ("add_id_tag", "edit_id_tag", "remove_id_tag", "charger_settings", "add_presented_id_tag"):
        result = await options_step(hass, entry, step)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "not_loaded"
    # Settings can still be edited.
    result = await options_step(hass, entry, "settings")
    assert result["type"] is FlowResultType.FORM


async def test_id_tag_steps_when_unloaded_midway(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """The entry is unloaded while a form is open: submitting it aborts instead of failing."""
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1")
    add = await options_step(hass, entry, "add_id_tag")
    choose = await options_step(hass, entry, "edit_id_tag")
    details = await configure(hass, choose["flow_id"], {"id_tag": "CARD-1"})
    remove = await options_step(hass, entry, "remove_id_tag")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()

    for flow_id, user_input in (
        (add["flow_id"], {"id_tag": "CARD-2", "status": "accepted"}),
        (details["flow_id"], {"status": "blocked"}),
        (remove["flow_id"], {"id_tags": ["CARD-1"]}),
    ):
        result = await configure(hass, flow_id, user_input)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "not_loaded"


async def test_charger_settings_without_chargers_or_after_unloading(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    result = await options_step(hass, entry, "charger_settings")
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "no_chargers")
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        form = await options_step(hass, entry, "charger_settings")
        details = await configure(hass, form["flow_id"], {"charger": "CP-1"})
        assert details["step_id"] == "charger_details"
    # The entry is unloaded while the charger's form is open.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    result = await configure(hass, details["flow_id"], form_values(details))
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "not_loaded")


async def test_id_tag_expiry_with_an_offset_is_kept(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1", expiry_date="2099-01-01T00:00:00+02:00")
    expiry = hub_of(entry).central.id_tags["card-1"].expiry_date
    assert expiry is not None and expiry.utcoffset() == timedelta(hours=2)


async def test_edit_id_tag_removed_meanwhile(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1")
    await add_tag(hass, entry, "CARD-2")
    choose = await options_step(hass, entry, "edit_id_tag")
    details = await configure(hass, choose["flow_id"], {"id_tag": "CARD-1"})
    hub_of(entry).central.remove_id_tag("CARD-1")
    result = await configure(hass, details["flow_id"], {"status": "blocked"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unknown_id_tag"
    assert "card-1" not in hub_of(entry).central.id_tags


async def test_settings_while_not_loaded(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """A settings change on an unloaded entry is stored; it is used at the next setup."""
    entry = await setup_entry()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    result = await change_settings(hass, entry, unknown_id_tags="reject")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hub_of(entry).central.settings.unknown_id_tags == "reject"


# --- reconfigure --------------------------------------------------------------------------


async def test_reconfigure_moves_the_server(
    hass: HomeAssistant, setup_entry: EntryFactory, server_starts: list[int]
) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    old_port, new_port = port_of(entry), free_port()
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert_translated(result, strings()["config"])
    assert form_values(result) == {"host": "127.0.0.1", "port": old_port}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": new_port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert_translated(result, strings()["config"])
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.data["port"] == new_port
    assert entry.unique_id == str(new_port)
    assert entry.title == f"OCPP Central System :{new_port}"
    assert entry_config(entry)["unknown_id_tags"] == "reject"
    # Reloaded once: the server is not restarted twice.
    assert server_starts == [old_port, new_port]
    await wait_for(lambda: can_bind(old_port))
    async with charger(new_port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"


async def test_reconfigure_after_options_changed_the_port(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    options_port, final_port = free_port(), free_port()
    await change_settings(hass, entry, port=options_port, new_chargers="pending")
    await hass.async_block_till_done()
    result = await entry.start_reconfigure_flow(hass)
    assert form_values(result)["port"] == options_port
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": final_port}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry_config(entry)["port"] == final_port
    assert entry_config(entry)["new_chargers"] == "pending"
    assert hub_of(entry).server is not None
    async with charger(final_port, "CP-1") as cp:
        assert (await cp.boot()).status == "Pending"


async def test_reconfigure_port_configured(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    other = await setup_entry()
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": port_of(other)}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"port": "port_configured"}
    assert_translated(result, strings()["config"])

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": busy}
        )
    assert result["errors"] == {"port": "port_in_use"}

    # Keeping its own port is allowed (the entry itself listens there).
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1", "port": port_of(entry)}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_an_entry_waiting_for_its_port(hass: HomeAssistant, unload_entries: None) -> None:
    """An entry that could not listen (port taken) is set up at once on its new port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        entry = MockConfigEntry(domain=DOMAIN, data={"host": "127.0.0.1", "port": busy}, unique_id=str(busy))
        entry.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY

        new_port = free_port()
        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": new_port}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    async with charger(new_port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"
