"""Firmware updates (UpdateFirmware), shared by the `update_firmware` action and the update entity."""

from __future__ import annotations

from datetime import datetime
import logging
from pathlib import Path
import secrets
from typing import Any

from homeassistant.util import dt as dt_util
from ocpp.v16 import call

from . import commands, commands201, transfers
from .engine.util import format_datetime, utcnow
from .engine.v201 import management_requests as requests201
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
    """Ask the charger to download and install firmware (UpdateFirmware).

    A 1.6 charger answers nothing but ok; a 2.0.1 one (L01) answers a status, and its
    FirmwareStatusNotifications carry the request id returned.
    """
    retrieve = ocpp_time(retrieve_date) or format_datetime(utcnow())
    build = commands201.pick(hub, charge_point_id, _update16, _update201)
    payload = build(location, retrieve, retries, retry_interval)
    result = await commands.async_call(hub, charge_point_id, payload)
    answer = commands.answer_dict(result)
    if getattr(result, "status", None) is not None:
        commands.expect_status(charge_point_id, "UpdateFirmware", result, ("Accepted", "AcceptedCanceled"))
        answer["request_id"] = payload.request_id
    _LOGGER.info("%s accepted UpdateFirmware from %s", charge_point_id, location.split("?", maxsplit=1)[0])
    return answer


def _update16(location: str, retrieve: str, retries: int | None, retry_interval: int | None) -> Any:
    return call.UpdateFirmware(
        location=location, retrieve_date=retrieve, retries=retries, retry_interval=retry_interval
    )


def _update201(location: str, retrieve: str, retries: int | None, retry_interval: int | None) -> Any:
    request_id = secrets.randbelow(2**31 - 1) + 1
    return requests201.update_firmware_request(
        request_id, location, retrieve, retries=retries, retry_interval=retry_interval
    )


async def update_firmware_file(hub: Hub, charge_point_id: str, path: Path) -> dict[str, Any]:
    """Offer a firmware file under a tokenised URL and ask the charger to install it now."""
    return await update_firmware(hub, charge_point_id, transfers.firmware_url(hub.hass, charge_point_id, path))
