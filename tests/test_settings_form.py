"""What the options flow and the action forms look like to a homeowner (issue 19, item 8)."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import config_validation as cv, device_registry as dr, entity_registry as er
import probatio
import yaml

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.state import IdTag
from custom_components.ocpp_cs.flow_forms import cleared_settings

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .flow_helpers import EN_JSON, configure, fields, form_values, options_step, strings
from .helpers import full_state
from .test_options_flow import add_tag, options_menu

SECTIONS = ["connection", "policies", "security", "meter_values", "advanced"]
SERVICES_YAML = EN_JSON.parent.parent / "services.yaml"


def frontend_fields(schema: Any) -> list[dict[str, Any]]:
    """Return a form as Home Assistant sends it to the frontend (data_entry_flow views), sections' fields flattened."""
    serialized: list[dict[str, Any]] = probatio.to_field_list(schema, custom_serializer=cv.custom_serializer)
    flat: list[dict[str, Any]] = []
    for field in serialized:
        flat.extend(field["schema"] if field.get("type") == "expandable" else [field])
    return flat


def unlabelled_checkboxes(schema: Any) -> list[str]:
    """Return the fields the frontend draws as a slider with a bare checkbox beside it.

    ha-form-integer shows an integer with a range of under 256 as a slider, and an optional
    one gets a checkbox (use the field or not) with no label of its own.
    """
    return [
        field["name"]
        for field in frontend_fields(schema)
        if field.get("type") == "integer"
        and "selector" not in field
        and not field.get("required")
        and "valueMin" in field
        and "valueMax" in field
        and field["valueMax"] - field["valueMin"] < 256
    ]


async def test_settings_form_in_sections_stores_flat_options(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password="pw", heartbeat_interval=60)
    form = await options_step(hass, entry, "settings")
    schema = form["data_schema"]
    # Five sections instead of one form of twenty fields; the rarely changed ones start collapsed.
    assert [str(key) for key in schema.schema] == SECTIONS
    collapsed = {str(key): value.options["collapsed"] for key, value in schema.schema.items()}
    assert collapsed == {
        "connection": False,
        "policies": False,
        "security": True,
        "meter_values": True,
        "advanced": True,
    }
    assert all(isinstance(value, section) for value in schema.schema.values())
    placed = {str(key): name for key, _, name in fields(schema)}
    assert placed["port"] == "connection"
    assert placed["new_chargers"] == "policies"
    assert placed["password"] == "security"
    assert placed["meter_value_sample_interval"] == "meter_values"
    assert (placed["limit_stack_level"], placed["debug"]) == ("advanced", "advanced")
    # Every field is in a section, and every section has a name and a description.
    assert set(placed) == set(cleared_settings()) | {
        "host",
        "port",
        "new_chargers",
        "unknown_id_tags",
        "remote_id_tag",
        "heartbeat_interval",
        "debug",
    }
    texts = strings()["options"]["step"]["settings"]["sections"]
    assert set(texts) == set(SECTIONS)
    assert all(texts[name]["name"] and texts[name]["description"] for name in SECTIONS)
    # The defaults are shown in their sections: the current settings.
    shown = form_values(form)
    assert (shown["password"], shown["heartbeat_interval"], shown["port"]) == ("pw", 60, entry.data["port"])

    # Submitted nested, stored flat under the keys they always had (no section names).
    result = await configure(
        hass, form["flow_id"], {**shown, "new_chargers": "pending", "limit_stack_level": 7, "debug": True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert not set(entry.options) & set(SECTIONS)
    assert set(entry.options) <= set(placed)
    assert entry.options["new_chargers"] == "pending"
    assert entry.options["password"] == "pw"
    assert entry.options["heartbeat_interval"] == 60
    assert entry.options["debug"] is True
    # The stack level is a number box now, stored as the integer it always was.
    assert entry.options["limit_stack_level"] == 7
    assert type(entry.options["limit_stack_level"]) is int
    assert entry.state is ConfigEntryState.LOADED


async def test_an_error_opens_its_section_and_is_shown_there(
    hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Any
) -> None:
    entry = await setup_entry()
    form = await options_step(hass, entry, "settings")
    values = {**form_values(form), "ssl_certfile": str(tmp_path / "missing.pem")}
    result = await configure(hass, form["flow_id"], values)
    assert result["type"] is FlowResultType.FORM
    # The frontend shows a section's error above it, not an error of a field inside it.
    assert result["errors"] == {"security": "file_not_found"}
    collapsed = {str(key): value.options["collapsed"] for key, value in result["data_schema"].schema.items()}
    assert collapsed["security"] is False
    assert collapsed["advanced"] is True
    # Shown as submitted, in its section.
    assert form_values(result)["ssl_certfile"] == str(tmp_path / "missing.pem")
    assert entry.options == {}


async def test_no_form_has_a_checkbox_without_a_label(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(upstream_url="ws://127.0.0.1:1/ocpp")
    await add_tag(hass, entry, "CARD-1")
    hub_of(entry).central.set_id_tag(IdTag("CARD-2"))
    forms = [await options_step(hass, entry, step) for step in ("settings", "add_id_tag", "test_upstream")]
    edit = await options_step(hass, entry, "edit_id_tag")
    forms.append(await configure(hass, edit["flow_id"], {"id_tag": "CARD-1"}))
    plain = await setup_entry()  # a charger's form (no upstream: it is served here)
    async with charger(port_of(plain), "CP-1") as cp:
        await cp.boot()
        chargers = await options_step(hass, plain, "charger_settings")
        forms.append(await configure(hass, chargers["flow_id"], {"charger": "CP-1"}))
    config = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    forms.append(config)
    for form in forms:
        assert form["type"] is FlowResultType.FORM
        assert unlabelled_checkboxes(form["data_schema"]) == [], form["step_id"]
    # The stack level (0-100) was one of them; it is a number box with its label now.
    stack_level = next(f for f in frontend_fields(forms[0]["data_schema"]) if f["name"] == "limit_stack_level")
    assert stack_level["selector"] == {"number": {"min": 0.0, "max": 100.0, "step": 1.0, "mode": "box"}}
    await hass.config_entries.flow.async_configure(config["flow_id"], None)


def test_action_help_uses_the_words_of_the_choices() -> None:
    """A select field's help names its choices as the form shows them, never by their keys."""
    services = yaml.safe_load(SERVICES_YAML.read_text(encoding="utf-8"))
    texts = strings()
    checked = 0
    for service, spec in services.items():
        for field, definition in (spec or {}).get("fields", {}).items():
            select = ((definition or {}).get("selector") or {}).get("select")
            if not select:
                continue
            help_text = texts["services"][service]["fields"][field]["description"]
            for option in select["options"]:
                value = option if isinstance(option, str) else option["value"]
                if "_" in value:
                    assert not re.search(rf"\b{re.escape(value)}\b", help_text), (service, field, value)
            checked += 1
    assert checked > 10
    purpose = texts["services"]["set_charging_profile"]["fields"]["purpose"]["description"]
    for label in texts["selector"]["purpose"]["options"].values():
        assert label.split(" (")[0] in purpose, label


async def test_menu_offers_only_steps_that_can_apply(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    # A new central system: no id tag to edit or remove, no upstream to test.
    menu = await options_menu(hass, entry)
    assert menu["menu_options"] == [
        "settings",
        "charger_settings",
        "site",
        "prices",
        "add_id_tag",
        "add_presented_id_tag",
    ]
    await add_tag(hass, entry, "CARD-1")
    menu = await options_menu(hass, entry)
    assert menu["menu_options"] == [
        "settings",
        "charger_settings",
        "site",
        "prices",
        "add_id_tag",
        "add_presented_id_tag",
        "edit_id_tag",
        "remove_id_tag",
    ]
    # The last tag removed: gone again.
    remove = await options_step(hass, entry, "remove_id_tag")
    await configure(hass, remove["flow_id"], {"id_tags": ["CARD-1"]})
    menu = await options_menu(hass, entry)
    assert "edit_id_tag" not in menu["menu_options"]
    assert "remove_id_tag" not in menu["menu_options"]
    # While the entry is not loaded its tags are unknown: the steps stay, and say so when chosen.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    menu = await options_menu(hass, entry)
    assert {"edit_id_tag", "remove_id_tag"} <= set(menu["menu_options"])
    assert "test_upstream" not in menu["menu_options"]


async def test_the_central_systems_device(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """The device of the per-tag energy sensors says what it is, not "unknown manufacturer"."""
    entry = await setup_entry()
    await add_tag(hass, entry, "CARD-1", name="Anna")
    registry = er.async_get(hass)
    sensor = full_state(hass, f"{entry.entry_id}_id_tag_energy_CARD-1")
    registered = registry.async_get(sensor.entity_id)
    assert registered is not None
    device = dr.async_get(hass).async_get(registered.device_id or "")
    assert device is not None
    assert device.identifiers == {(DOMAIN, entry.entry_id)}
    assert (device.name, device.manufacturer, device.model) == (entry.title, "ocpp_cs", "OCPP 1.6J central system")
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert sensor.attributes["friendly_name"] == f"{entry.title} Energy Anna"
