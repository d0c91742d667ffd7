"""Actions of Firmware Management (diagnostics uploads, firmware updates) and the security extension's logs.

Actions `get_diagnostics`, `update_firmware`, `signed_update_firmware` and `get_log`. Without
a location, diagnostics and logs are uploaded to this integration's own URL; firmware may
be a file the user placed under `<config>/ocpp_cs/firmware/`, served under a tokenised URL.
"""

from __future__ import annotations

from datetime import datetime
import logging
from pathlib import Path
import secrets
from typing import Any
from urllib.parse import urlsplit

from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
from homeassistant.util import dt as dt_util
from ocpp.v16 import call
from ocpp.v16.enums import Log
from ocpp.v201 import call as call201
import probatio as vol

from .. import commands, commands201, firmware, transfers
from ..engine.configuration import PROFILE_FIRMWARE, parse_list
from ..engine.util import format_datetime, snake, utcnow
from ..engine.v201 import management_requests as requests201
from ..errors import invalid
from .fields import bounded_string
from .targets import Target

_LOGGER = logging.getLogger(__name__)

# Transfer protocols of OCPP 1.6 chapter 8 (SupportedFileTransferProtocols).
PROTOCOLS = ("ftp", "ftps", "http", "https")
LOG_TYPES = {snake(log.value): log.value for log in Log}

_COUNT = vol.All(vol.Coerce(int), vol.Range(min=0))
_LOCATION = bounded_string(512)
_TRANSFER_FIELDS: VolDictType = {
    vol.Optional("retries"): _COUNT,
    vol.Optional("retry_interval"): _COUNT,
}

FIRMWARE_SCHEMAS: dict[str, VolDictType] = {
    "get_diagnostics": {
        vol.Optional("location"): _LOCATION,
        vol.Optional("start_time"): cv.datetime,
        vol.Optional("stop_time"): cv.datetime,
        **_TRANSFER_FIELDS,
    },
    "update_firmware": {
        vol.Optional("location"): _LOCATION,
        vol.Optional("file"): cv.string,
        vol.Optional("retrieve_date"): cv.datetime,
        **_TRANSFER_FIELDS,
    },
    "signed_update_firmware": {
        vol.Optional("location"): _LOCATION,
        vol.Optional("file"): cv.string,
        vol.Required("signing_certificate"): bounded_string(5500),
        vol.Required("signature"): bounded_string(800),
        vol.Optional("retrieve_date"): cv.datetime,
        vol.Optional("install_date"): cv.datetime,
        vol.Optional("request_id"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        **_TRANSFER_FIELDS,
    },
    "get_log": {
        vol.Optional("log_type", default="diagnostics_log"): vol.In(list(LOG_TYPES)),
        vol.Optional("location"): _LOCATION,
        vol.Optional("oldest_timestamp"): cv.datetime,
        vol.Optional("latest_timestamp"): cv.datetime,
        vol.Optional("request_id"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        **_TRANSFER_FIELDS,
    },
}


def _request_id(data: dict[str, Any]) -> int:
    """Return the user's request id, else a fresh one (the charger echoes it in its notifications)."""
    return int(data["request_id"]) if "request_id" in data else secrets.randbelow(2**31 - 1) + 1


def check_location(target: Target, location: str) -> str:
    """Validate a transfer URL: a scheme of chapter 8 that the charger says it supports."""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    if scheme not in PROTOCOLS or not parts.netloc:
        raise invalid("invalid_location", location=location, protocols=", ".join(PROTOCOLS))
    # 2.0.1's device model names them OCPPCommCtrlr.FileTransferProtocols.
    supported = target.charger.config_value("SupportedFileTransferProtocols") or target.charger.config_value(
        "OCPPCommCtrlr/FileTransferProtocols"
    )
    if supported is not None:
        protocols = [p.lower() for p in parse_list(supported)]
        if protocols and scheme not in protocols:
            raise invalid(
                "protocol_not_supported",
                charge_point_id=target.charge_point_id,
                protocol=scheme.upper(),
                protocols=supported,
            )
    return location


def check_period(start: datetime | None, stop: datetime | None) -> None:
    """Refuse a period that ends before it starts."""
    if start is not None and stop is not None and dt_util.as_utc(stop) < dt_util.as_utc(start):
        raise invalid("transfer_period_invalid", start=start.isoformat(), stop=stop.isoformat())


async def resolve_firmware(target: Target, relative: str) -> Path:
    """Return a firmware file under `<config>/ocpp_cs/firmware/` the user named."""
    hass = target.hub.hass
    path = await hass.async_add_executor_job(transfers.resolve_firmware_file, hass, relative)
    if path is None:
        raise invalid("firmware_file_not_found", file=relative, folder=str(transfers.firmware_dir(hass)))
    return path


async def firmware_location(target: Target) -> str:
    """Return the action's firmware URL: `location`, or the tokenised URL of `file` (exactly one)."""
    data = target.data
    if ("location" in data) == ("file" in data):
        raise invalid("location_or_file")
    if "location" in data:
        return check_location(target, data["location"])
    path = await resolve_firmware(target, data["file"])
    return check_location(target, transfers.firmware_url(target.hub.hass, target.charge_point_id, path))


# --- actions --------------------------------------------------------------------------------


def _upload_location(target: Target, kind: str, *, check_own_url: bool) -> tuple[str, str | None]:
    """Return the action's `location`, else an upload URL of this integration's own and its token.

    Our own URL is checked against the charger's transfer protocols for GetDiagnostics (chapter 8),
    not for the security extension's GetLog, as the actions always did.
    """
    if "location" in target.data:
        return check_location(target, target.data["location"]), None
    location, token = transfers.upload_url(target.hub.hass, target.charge_point_id, kind)
    if check_own_url:
        check_location(target, location)
    return location, token


# The answers of GetLog (and 2.0.1's UpdateFirmware) that are a success.
ACCEPTED = ("Accepted", "AcceptedCanceled")


async def _call_with_upload(target: Target, payload: Any, token: str | None) -> Any:
    """Send a request that has the charger upload a file; its upload token goes if the request fails."""
    try:
        result = await commands.async_call(target.hub, target.charge_point_id, payload)
        if getattr(result, "status", None) is not None:  # (1.6's GetDiagnostics answers no status)
            commands.expect_status(target.charge_point_id, type(payload).__name__, result, ACCEPTED)
    except Exception:
        if token is not None:
            transfers.transfers_of(target.hub.hass).drop_upload(token)
        raise
    return result


async def get_diagnostics(target: Target) -> dict[str, Any]:
    """Handle the `get_diagnostics` action."""
    target.require_profile(PROFILE_FIRMWARE, "get_diagnostics")
    data = target.data
    check_period(data.get("start_time"), data.get("stop_time"))
    hass = target.hub.hass
    location, token = _upload_location(target, transfers.KIND_DIAGNOSTICS, check_own_url=True)
    build = commands201.pick(target.hub, target.charge_point_id, _diagnostics16, _diagnostics201)
    request_id = _request_id(data)
    result = await _call_with_upload(target, build(data, location, request_id), token)
    answer = commands.answer_dict(result)
    if "filename" in answer:
        # 2.0.1's GetLog: the answer of GetDiagnostics under its names, with the request id.
        answer["file_name"] = answer.pop("filename")
        answer["request_id"] = request_id
    if token is not None:
        if answer.get("file_name"):
            transfers.transfers_of(hass).announce(token, answer["file_name"])
        else:
            # No file name: the charger has no diagnostics to upload (spec 5.9).
            transfers.transfers_of(hass).drop_upload(token)
    return answer


def _diagnostics16(data: dict[str, Any], location: str, _request_id: int) -> Any:
    return call.GetDiagnostics(
        location=location,
        retries=data.get("retries"),
        retry_interval=data.get("retry_interval"),
        start_time=firmware.ocpp_time(data.get("start_time")),
        stop_time=firmware.ocpp_time(data.get("stop_time")),
    )


def _diagnostics201(data: dict[str, Any], location: str, request_id: int) -> Any:
    # OCPP 2.0.1 has no GetDiagnostics: the diagnostics log of GetLog (N01) is its upload.
    return requests201.get_log_request(
        request_id,
        "DiagnosticsLog",
        location,
        oldest_timestamp=firmware.ocpp_time(data.get("start_time")),
        latest_timestamp=firmware.ocpp_time(data.get("stop_time")),
        retries=data.get("retries"),
        retry_interval=data.get("retry_interval"),
    )


async def update_firmware(target: Target) -> dict[str, Any]:
    """Handle the `update_firmware` action."""
    target.require_profile(PROFILE_FIRMWARE, "update_firmware")
    data = target.data
    location = await firmware_location(target)
    return await firmware.update_firmware(
        target.hub,
        target.charge_point_id,
        location,
        retrieve_date=data.get("retrieve_date"),
        retries=data.get("retries"),
        retry_interval=data.get("retry_interval"),
    )


async def signed_update_firmware(target: Target) -> dict[str, Any]:
    """Handle the `signed_update_firmware` action."""
    data = target.data
    location = await firmware_location(target)
    signed = {
        "location": location,
        "retrieve_date_time": firmware.ocpp_time(data.get("retrieve_date")) or format_datetime(utcnow()),
        "install_date_time": firmware.ocpp_time(data.get("install_date")),
        "signing_certificate": data["signing_certificate"],
        "signature": data["signature"],
    }
    request_id = _request_id(data)
    # OCPP 2.0.1's UpdateFirmware is signed (L02): the same firmware, under the same names.
    build = commands201.pick(target.hub, target.charge_point_id, call.SignedUpdateFirmware, call201.UpdateFirmware)
    payload = build(
        request_id=request_id,
        firmware={key: value for key, value in signed.items() if value is not None},
        retries=data.get("retries"),
        retry_interval=data.get("retry_interval"),
    )
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    commands.expect_status(target.charge_point_id, type(payload).__name__, result, ACCEPTED)
    return {**commands.answer_dict(result), "request_id": request_id}


async def get_log(target: Target) -> dict[str, Any]:
    """Handle the `get_log` action."""
    data = target.data
    check_period(data.get("oldest_timestamp"), data.get("latest_timestamp"))
    location, token = _upload_location(target, transfers.KIND_LOG, check_own_url=False)
    log = {
        "remote_location": location,
        "oldest_timestamp": firmware.ocpp_time(data.get("oldest_timestamp")),
        "latest_timestamp": firmware.ocpp_time(data.get("latest_timestamp")),
    }
    request_id = _request_id(data)
    # The security extension's GetLog is 2.0.1's (N01): the same fields, in the version's module.
    build = commands201.pick(target.hub, target.charge_point_id, call.GetLog, call201.GetLog)
    payload = build(
        log={key: value for key, value in log.items() if value is not None},
        log_type=Log(LOG_TYPES[data["log_type"]]).value,
        request_id=request_id,
        retries=data.get("retries"),
        retry_interval=data.get("retry_interval"),
    )
    result = await _call_with_upload(target, payload, token)
    if token is not None:
        transfers.transfers_of(target.hub.hass).announce(token, result.filename)
    return {**commands.answer_dict(result), "request_id": request_id}
