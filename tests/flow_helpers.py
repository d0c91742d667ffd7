"""Helpers for flow tests: form values, translation checks, whether a port is free."""

from __future__ import annotations

from collections.abc import Mapping
import json
from pathlib import Path
import socket
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import probatio as vol

EN_JSON = Path(__file__).resolve().parent.parent / "custom_components" / "ocpp_cs" / "translations" / "en.json"


def strings() -> dict[str, Any]:
    """Return translations/en.json."""
    data: dict[str, Any] = json.loads(EN_JSON.read_text(encoding="utf-8"))
    return data


def form_values(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a form shows: suggested values, else defaults (what a user submits unchanged)."""
    values: dict[str, Any] = {}
    schema: vol.Schema = result["data_schema"]
    for key in schema.schema:
        suggested = (key.description or {}).get("suggested_value")
        if suggested is not None:
            values[str(key)] = suggested
        elif key.default is not vol.UNDEFINED:
            values[str(key)] = key.default()
    return values


def defaults(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return the defaults of a form's fields (not the suggested values)."""
    schema: vol.Schema = result["data_schema"]
    return {str(key): key.default() for key in schema.schema if key.default is not vol.UNDEFINED}


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
    for key in result["data_schema"].schema:
        assert str(key) in step.get("data", {}), f"field {key} of step {step_id} has no label"
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


async def options_step(hass: HomeAssistant, entry: Any, step: str) -> dict[str, Any]:
    """Open the options flow and choose a menu option (its form checked for translations)."""
    menu = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(menu["flow_id"], {"next_step_id": step})
    assert_translated(result, strings()["options"])
    return dict(result)


async def configure(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    """Submit an options flow step (the result checked for translations)."""
    result = await hass.config_entries.options.async_configure(flow_id, user_input)
    assert_translated(result, strings()["options"])
    return dict(result)
