"""Helpers for flow tests: form values, translation checks, whether a port is free."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import json
from pathlib import Path
import socket
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
import probatio as vol

EN_JSON = Path(__file__).resolve().parent.parent / "custom_components" / "ocpp_cs" / "translations" / "en.json"


def strings() -> dict[str, Any]:
    """Return translations/en.json."""
    data: dict[str, Any] = json.loads(EN_JSON.read_text(encoding="utf-8"))
    return data


def sections(schema: vol.Schema) -> dict[str, section]:
    """Return a form's sections by name."""
    return {str(key): value for key, value in schema.schema.items() if isinstance(value, section)}


def fields(schema: vol.Schema) -> Iterator[tuple[Any, Any, str | None]]:
    """Yield a form's fields (marker, validator, section name or None), those in sections too."""
    for key, value in schema.schema.items():
        if isinstance(value, section):
            for inner, validator in value.schema.schema.items():
                yield inner, validator, str(key)
        else:
            yield key, value, None


def form_values(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a form shows: suggested values, else defaults (what a user submits unchanged).

    Flat, also for a form in sections (`configure` nests them again).
    """
    values: dict[str, Any] = {}
    for key, _, _ in fields(result["data_schema"]):
        suggested = (key.description or {}).get("suggested_value")
        if suggested is not None:
            values[str(key)] = suggested
        elif key.default is not vol.UNDEFINED:
            values[str(key)] = key.default()
    return values


def defaults(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return the defaults of a form's fields (not the suggested values)."""
    return {str(key): key.default() for key, _, _ in fields(result["data_schema"]) if key.default is not vol.UNDEFINED}


def nested(schema: vol.Schema, values: Mapping[str, Any]) -> dict[str, Any]:
    """Return flat values as a form in sections takes them (every section, empty ones too)."""
    if not sections(schema):
        return dict(values)
    home = {str(key): name for key, _, name in fields(schema)}
    result: dict[str, Any] = {name: {} for name in sections(schema)}
    for key, value in values.items():
        name = home.get(key)
        if name is None:
            result[key] = value  # not on the form: left for the schema to refuse
        else:
            result[name][key] = value
    return result


def assert_translated(result: Mapping[str, Any], section: Mapping[str, Any]) -> None:
    """
    Check that a flow result's step, fields, errors, menu options and abort reason have strings.

    `section` is en.json's `config`, `options` or an issue's `fix_flow`.
    """
    kind = result["type"]
    if kind is FlowResultType.ABORT:
        assert result["reason"] in section.get("abort", {}), f"abort reason {result['reason']} has no string"
        return
    if kind is FlowResultType.CREATE_ENTRY:
        return
    step_id = result["step_id"]
    step = section["step"].get(step_id)
    assert step is not None, f"step {step_id} has no strings"
    assert "title" in step, f"step {step_id} has no title"
    if kind is FlowResultType.MENU:
        for option in result["menu_options"]:
            assert option in step.get("menu_options", {}), f"menu option {option} of {step_id} has no string"
        return
    assert kind is FlowResultType.FORM
    for name in sections(result["data_schema"]):
        assert "name" in step.get("sections", {}).get(name, {}), f"section {name} of step {step_id} has no name"
    for key, _, name in fields(result["data_schema"]):
        labels = step.get("data", {}) if name is None else step["sections"][name].get("data", {})
        assert str(key) in labels, f"field {key} of step {step_id} has no label"
    for error in (result.get("errors") or {}).values():
        assert error in section.get("error", {}), f"error {error} has no string"


def can_bind(port: int) -> bool:
    """Return True when a plain socket can listen on 127.0.0.1:port (nothing else does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


# The form each options flow shows now (by flow id): `configure` nests flat values for it.
_SHOWN: dict[str, vol.Schema] = {}


def shown(result: Mapping[str, Any]) -> dict[str, Any]:
    """Remember the form an options flow shows (for `configure`) and return the result."""
    if result["type"] is FlowResultType.FORM:
        _SHOWN[result["flow_id"]] = result["data_schema"]
    else:
        _SHOWN.pop(result["flow_id"], None)
    return dict(result)


async def options_step(hass: HomeAssistant, entry: Any, step: str) -> dict[str, Any]:
    """Open the options flow and choose a menu option (its form checked for translations)."""
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(menu["flow_id"], {"next_step_id": step})
    assert_translated(result, strings()["options"])
    return shown(result)


async def configure(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Submit an options flow step, flat values nested as its form's sections take them.

    The result is checked for translations.
    """
    schema = _SHOWN.get(flow_id)
    result = await hass.config_entries.options.async_configure(
        flow_id, nested(schema, user_input) if schema is not None else user_input
    )
    assert_translated(result, strings()["options"])
    return shown(result)
