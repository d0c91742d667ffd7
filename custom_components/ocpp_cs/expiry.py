"""
The engine's clock: power and current of idle connectors expire, overdue transactions close.

The engine decides what is stale or overdue (engine/live_readings.py, engine/orphans.py) given
the time; Home Assistant's timer gives it the time, so tests move it with the frozen clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval

from .const import DOMAIN
from .engine.central import CentralSystem

# Well under the shortest grace (60 s) and staleness (three sample intervals) it serves.
TICK = timedelta(seconds=10)


def setup_engine_clock(hass: HomeAssistant, central: CentralSystem) -> CALLBACK_TYPE:
    """Tell the engine the time every TICK; return what stops it."""

    @callback
    def _tick(now: datetime) -> None:
        central.close_overdue_transactions(now)
        central.expire_readings(now)

    return async_track_time_interval(hass, _tick, TICK, name=f"{DOMAIN} engine clock")
