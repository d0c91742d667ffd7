"""What the site controller reads from Home Assistant: its options, grid sensor states, MeterValues."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, UnitOfPower
from homeassistant.core import State

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
)
from .engine.site import SiteConfig
from .engine.state import ChargerState, ConnectorState

# A MeterValues current older than this is not used: the controller assumes the last limit.
METER_FRESH_SECONDS = 30.0
CURRENT_KEYS = ("current_import_l1", "current_import_l2", "current_import_l3")


def grid_entities(config: Mapping[str, Any]) -> list[str]:
    """Return the grid sensors of an entry's Site options: the current sensors, then the power sensor."""
    found = [str(e) for e in config.get(CONF_GRID_CURRENT_ENTITIES) or []]
    if power := config.get(CONF_GRID_POWER_ENTITY):
        found.append(str(power))
    return found


def _option(config: Mapping[str, Any], key: str, default: float) -> float:
    """Return a numeric option, the default only when it is unset: 0 A (pause) and 0 s are values."""
    value = config.get(key)
    return float(default if value is None else value)


def site_config(config: Mapping[str, Any]) -> SiteConfig | None:
    """Return the controller's settings from an entry's Site options; None without fuse and grid sensor."""
    fuse = config.get(CONF_MAIN_FUSE_CURRENT)
    if not fuse or not grid_entities(config):
        return None
    return SiteConfig(
        main_fuse_current=float(fuse),
        site_phases=int(config.get(CONF_SITE_PHASES) or DEFAULT_SITE_PHASES),
        fallback_current=_option(config, CONF_FALLBACK_CURRENT, DEFAULT_FALLBACK_CURRENT),
        solar_start_delay=_option(config, CONF_SOLAR_START_DELAY, DEFAULT_SOLAR_START_DELAY),
        solar_stop_delay=_option(config, CONF_SOLAR_STOP_DELAY, DEFAULT_SOLAR_STOP_DELAY),
    )


def sensor_number(state: State | None) -> float | None:
    """Return a sensor's state as a number; None when unavailable, unknown or not a number."""
    if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
        return None
    try:
        return float(state.state)
    except ValueError:
        return None


def watts(state: State, value: float) -> float:
    """Return a power sensor's value in W (it may be in kW or MW)."""
    unit = state.attributes.get("unit_of_measurement")
    if unit == UnitOfPower.KILO_WATT:
        return value * 1000.0
    if unit == UnitOfPower.MEGA_WATT:
        return value * 1_000_000.0
    return value


def measured_current(charger: ChargerState, connector: ConnectorState, now: datetime) -> tuple[float, ...] | None:
    """Return a connector's Current.Import per charger phase from recent MeterValues, else None."""
    readings = [connector.meters.get(key) for key in CURRENT_KEYS]
    found = [r for r in readings if r is not None]
    if not found:
        total = connector.meters.get("current_import")
        # Without phases: taken as the current of each phase the charger uses.
        found = [total] * charger.phases if total is not None else []
        readings = list(found)
    if not found or any((now - r.timestamp).total_seconds() > METER_FRESH_SECONDS for r in found):
        return None
    return tuple(r.value if r is not None else 0.0 for r in readings[: charger.phases])
