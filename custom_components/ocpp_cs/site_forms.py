"""The options flow's Site step: site energy management's fuse, grid measurement and delays (site.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_FALLBACK_CURRENT,
    CONF_GRID_CURRENT_ENTITIES,
    CONF_GRID_POWER_ENTITY,
    CONF_MAIN_FUSE_CURRENT,
    CONF_SITE_PHASES,
    CONF_SOLAR_START_DELAY,
    CONF_SOLAR_STOP_DELAY,
    DEFAULT_FALLBACK_CURRENT,
    DEFAULT_SITE_PHASES,
    DEFAULT_SOLAR_START_DELAY,
    DEFAULT_SOLAR_STOP_DELAY,
    SITE_OPTIONS,
)
from .flow_forms import optional_field, select_field

SITE_PHASES = ["1", "3"]
GRID_POWER_UNITS = ("W", "kW")


def _or_default(config: Mapping[str, Any], key: str, default: Any) -> Any:
    """Return an option's value, the default only when it is unset (0 A and 0 s are values)."""
    value = config.get(key)
    return default if value is None else value


def site_schema(config: Mapping[str, Any]) -> vol.Schema:
    """Return the Site step's form, filled with the current values (every field optional)."""
    amperes = vol.All(vol.Coerce(float), vol.Range(min=1, max=2000))
    seconds = vol.All(vol.Coerce(int), vol.Range(min=0, max=3600))
    return vol.Schema(
        {
            optional_field(CONF_MAIN_FUSE_CURRENT, config): amperes,
            vol.Required(
                CONF_SITE_PHASES, default=str(config.get(CONF_SITE_PHASES) or DEFAULT_SITE_PHASES)
            ): select_field(SITE_PHASES, CONF_SITE_PHASES),
            optional_field(CONF_GRID_CURRENT_ENTITIES, config): selector.EntitySelector(
                selector.EntitySelectorConfig(domain="sensor", multiple=True)
            ),
            optional_field(CONF_GRID_POWER_ENTITY, config): selector.EntitySelector(
                selector.EntitySelectorConfig(domain="sensor")
            ),
            vol.Required(
                CONF_FALLBACK_CURRENT, default=_or_default(config, CONF_FALLBACK_CURRENT, DEFAULT_FALLBACK_CURRENT)
            ): vol.All(vol.Coerce(float), vol.Range(min=0, max=500)),
            vol.Required(
                CONF_SOLAR_START_DELAY, default=_or_default(config, CONF_SOLAR_START_DELAY, DEFAULT_SOLAR_START_DELAY)
            ): seconds,
            vol.Required(
                CONF_SOLAR_STOP_DELAY, default=_or_default(config, CONF_SOLAR_STOP_DELAY, DEFAULT_SOLAR_STOP_DELAY)
            ): seconds,
        }
    )


def validate_site(hass: HomeAssistant, user_input: Mapping[str, Any]) -> dict[str, str]:
    """Check the Site step; return form errors by field."""
    errors: dict[str, str] = {}
    fuse = user_input.get(CONF_MAIN_FUSE_CURRENT)
    currents = list(user_input.get(CONF_GRID_CURRENT_ENTITIES) or [])
    power = user_input.get(CONF_GRID_POWER_ENTITY)
    phases = int(user_input.get(CONF_SITE_PHASES) or DEFAULT_SITE_PHASES)
    if currents and len(currents) != phases:
        # One current sensor per phase of the site, L1..L3 in order.
        errors[CONF_GRID_CURRENT_ENTITIES] = "grid_current_count"
    if power:
        state = hass.states.get(power)
        if state is None or state.attributes.get("unit_of_measurement") not in GRID_POWER_UNITS:
            errors[CONF_GRID_POWER_ENTITY] = "grid_power_unit"
    if fuse and not (currents or power):
        errors["base"] = "grid_measurement_required"
    elif (currents or power) and not fuse:
        errors[CONF_MAIN_FUSE_CURRENT] = "main_fuse_required"
    if fuse and float(user_input.get(CONF_FALLBACK_CURRENT) or 0) > float(fuse):
        errors[CONF_FALLBACK_CURRENT] = "fallback_above_fuse"
    return errors


def site_options(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Site step's options as stored: every site key, None where left empty."""
    stored: dict[str, Any] = dict.fromkeys(SITE_OPTIONS)
    for key, value in user_input.items():
        if value in ("", None, []):
            continue
        stored[key] = int(value) if key == CONF_SITE_PHASES else value
    return stored


def kept_site_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Site step's options of an entry: the Settings step keeps them as they are."""
    return {key: options[key] for key in SITE_OPTIONS if key in options}
