"""Firmware updates (UpdateFirmware), shared by the `update_firmware` action and the update entity."""

from __future__ import annotations

from datetime import datetime
import logging
from pathlib import Path
from typing import Any

from homeassistant.util import dt as dt_util
from ocpp.v16 import call

from . import commands, transfers
from .engine.util import format_datetime, utcnow
from .ports import Hub

_LOGGER = logging.getLogger(__name__)


def ocpp_time(value: datetime | None) -> str | None:
    """Format a user's date and time (naive = Home Assistant's time zone) for OCPP."""
    return format_datetime(dt_util.as_utc(value)) if value is not None else None





async def update_firmware(
    hub: Hub,
    charge_point_id: str,
    location: str,
    *,
    retrieve_date: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
) -> dict[str, Any]:
    """Ask the charger to download and install firmware (UpdateFirmware; it answers nothing but ok)."""
    payload = call.UpdateFirmware(
        location=location,
        retrieve_date=ocpp_time(retrieve_date) or format_datetime(utcnow()),
        retries=retries,
        retry_interval=retry_interval,
    )
    result = await commands.async_call(hub, charge_point_id, payload)
    _LOGGER.info("%s accepted UpdateFirmware from %s", charge_point_id, location.split("?", maxsplit=1)[0])
    return commands.answer_dict(result)


async def update_firmware_file(hub: Hub, charge_point_id: str, path: Path) -> dict[str, Any]:
    """Offer a firmware file under a tokenised URL and ask the charger to install it now."""
    return await update_firmware(hub, charge_point_id, transfers.firmware_url(hub.hass, charge_point_id, path))
