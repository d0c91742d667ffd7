"""File transfers over Home Assistant's own HTTP server (OCPP 1.6 chapter 8).

Chargers upload diagnostics and logs to, and download firmware from, URLs this
integration serves. Chargers cannot log in to Home Assistant, so those views need no
authentication; instead each URL carries a token made for one request: unguessable,
expiring, and (for uploads) used up by the first complete upload. The files users
download (the uploaded diagnostics) are served by an authenticated view, linked with a
signed path from a persistent notification.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import hashlib
import logging
import os
from pathlib import Path
import re
import secrets
from typing import IO, Any
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web
from homeassistant.components import persistent_notification
from homeassistant.components.http.auth import async_sign_path
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .errors import error

_LOGGER = logging.getLogger(__name__)

DATA_TRANSFERS: HassKey[FileTransfers] = HassKey(f"{DOMAIN}_file_transfers")

UPLOAD_URL = f"/api/{DOMAIN}/upload/{{token}}"
FIRMWARE_URL = f"/api/{DOMAIN}/firmware/{{token}}/{{filename}}"
FILES_URL = f"/api/{DOMAIN}/files/{{charger}}/{{filename}}"

# The largest diagnostics or log file a charger may upload.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Uploaded files kept per charger; older ones are deleted after each upload.
KEEP_FILES = 20
# How long a charger has to start an upload / a download after the request.
UPLOAD_LIFETIME = timedelta(days=1)
FIRMWARE_LIFETIME = timedelta(days=7)
# How long the download link in the notification works.
LINK_LIFETIME = timedelta(days=7)
# Outstanding tokens kept at most (the oldest are dropped first).
MAX_TOKENS = 1000
_CHUNK = 256 * 1024

KIND_DIAGNOSTICS = "diagnostics"
KIND_LOG = "log"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_VERSION = re.compile(r"\d+(?:\.\d+)+")


def safe_name(text: str, default: str) -> str:
    """Return a file name made of safe characters only (no path, no leading dot)."""
    name = _UNSAFE.sub("_", text.replace("\\", "/").rsplit("/", 1)[-1]).lstrip(".")[:100]
    return name or default


def charger_dir_name(charge_point_id: str) -> str:
    """Return the directory name of a charger: its id, or a safe form with a hash when it has odd characters."""
    name = _UNSAFE.sub("_", charge_point_id)
    if name == charge_point_id and not name.startswith(".") and len(name) <= 100:
        return name
    digest = hashlib.sha256(charge_point_id.encode()).hexdigest()[:8]
    return f"{name.lstrip('.')[:80] or 'charger'}-{digest}"


def base_dir(hass: HomeAssistant) -> Path:
    """Return `<config>/ocpp_cs`."""
    return Path(hass.config.path(DOMAIN))


def uploads_dir(hass: HomeAssistant, charge_point_id: str) -> Path:
    """Return where a charger's uploaded diagnostics and logs go."""
    return base_dir(hass) / "diagnostics" / charger_dir_name(charge_point_id)


def firmware_dir(hass: HomeAssistant) -> Path:
    """Return where users place firmware files."""
    return base_dir(hass) / "firmware"


def version_of(path: Path) -> str:
    """Return the version a firmware file's name carries (`fw-5.33.1.bin` -> `5.33.1`), else its stem."""
    found = _VERSION.search(path.name)
    return found.group(0) if found else path.stem


# --- the files (blocking: run in the executor) ----------------------------------------------


def newest_firmware(hass: HomeAssistant, charge_point_id: str, model: str | None) -> Path | None:
    """Return the newest file in `firmware/<charge point id>/`, else in `firmware/<model>/`."""
    folders = [firmware_dir(hass) / charger_dir_name(charge_point_id)]
    if model:
        folders.append(firmware_dir(hass) / safe_name(model, "model"))
    for folder in folders:
        if not folder.is_dir():
            continue
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        if files:
            return max(files, key=lambda p: (p.stat().st_mtime, p.name))
    return None


def resolve_firmware_file(hass: HomeAssistant, relative: str) -> Path | None:
    """Return a file under the firmware folder named relative to it; None when absent or outside."""
    root = firmware_dir(hass).resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def list_uploads(hass: HomeAssistant, charge_point_id: str) -> list[dict[str, Any]]:
    """Return a charger's uploaded files, newest first: name, size, received, download path."""
    folder = uploads_dir(hass, charge_point_id)
    if not folder.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for path in folder.iterdir():
        if not path.is_file() or path.name.startswith("."):
            continue
        stat = path.stat()
        found.append(
            {
                "name": path.name,
                "size": stat.st_size,
                "received": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                "path": download_path(charge_point_id, path.name),
            }
        )
    found.sort(key=lambda item: str(item["received"]), reverse=True)
    return found


def _prune(folder: Path, keep: int) -> list[str]:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime, p.name),
        reverse=True,
    )
    removed = []
    for path in files[keep:]:
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def _open_part(folder: Path) -> tuple[Path, IO[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    # Hidden (never listed or served) and unique, should a charger upload twice at once.
    part = folder / f".{secrets.token_hex(8)}.part"
    return part, part.open("wb")


def _finish(handle: IO[bytes], part: Path, folder: Path, name: str) -> Path:
    handle.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stamp}_{name}"
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"{stamp}_{counter}_{name}"
    os.replace(part, target)
    return target


def _discard(handle: IO[bytes], part: Path) -> None:
    handle.close()
    part.unlink(missing_ok=True)


def download_path(charge_point_id: str, name: str) -> str:
    """Return the (authenticated) path that serves an uploaded file."""
    return f"/api/{DOMAIN}/files/{quote(charger_dir_name(charge_point_id))}/{quote(name)}"


# --- tokens ---------------------------------------------------------------------------------


@dataclass(slots=True)
class UploadSlot:
    """A place a charger may upload one file to."""

    charge_point_id: str
    kind: str
    expires: datetime
    # The name the charger announced (GetDiagnostics.conf fileName / GetLog.conf filename).
    announced_name: str | None = None


@dataclass(slots=True)
class FirmwareOffer:
    """A firmware file a charger may download."""

    charge_point_id: str
    path: Path
    expires: datetime


class FileTransfers:
    """The tokens of one Home Assistant instance's file transfers."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Start without tokens."""
        self.hass = hass
        self._uploads: dict[str, UploadSlot] = {}
        self._offers: dict[str, FirmwareOffer] = {}

    @staticmethod
    def _new_token(tokens: dict[str, Any]) -> str:
        while len(tokens) >= MAX_TOKENS:
            del tokens[next(iter(tokens))]
        return secrets.token_urlsafe(32)

    def new_upload(self, charge_point_id: str, kind: str, lifetime: timedelta = UPLOAD_LIFETIME) -> str:
        """Return a token for one upload by a charger."""
        token = self._new_token(self._uploads)
        self._uploads[token] = UploadSlot(charge_point_id, kind, datetime.now(UTC) + lifetime)
        return token

    def upload_slot(self, token: str) -> UploadSlot | None:
        """Return the slot of a token still valid."""
        slot = self._uploads.get(token)
        if slot is not None and slot.expires < datetime.now(UTC):
            del self._uploads[token]
            return None
        return slot

    def announce(self, token: str, name: str | None) -> None:
        """Remember the file name the charger said it will upload."""
        slot = self._uploads.get(token)
        if slot is not None and name:
            slot.announced_name = name

    def drop_upload(self, token: str) -> None:
        """Invalidate an upload token (used, or the charger has nothing to upload)."""
        self._uploads.pop(token, None)

    def new_firmware_offer(self, charge_point_id: str, path: Path, lifetime: timedelta = FIRMWARE_LIFETIME) -> str:
        """Return a token under which a charger may download a firmware file."""
        token = self._new_token(self._offers)
        self._offers[token] = FirmwareOffer(charge_point_id, path, datetime.now(UTC) + lifetime)
        return token

    def firmware_offer(self, token: str) -> FirmwareOffer | None:
        """Return the offer of a token still valid."""
        offer = self._offers.get(token)
        if offer is not None and offer.expires < datetime.now(UTC):
            del self._offers[token]
            return None
        return offer


def transfers_of(hass: HomeAssistant) -> FileTransfers:
    """Return the instance's file transfers."""
    return hass.data[DATA_TRANSFERS]


# --- URLs -----------------------------------------------------------------------------------


def base_url(hass: HomeAssistant) -> str:
    """Return the URL chargers reach Home Assistant at: the internal one, else the external one."""
    try:
        return get_url(hass, allow_external=False, allow_cloud=False)
    except NoURLAvailableError:
        pass
    try:
        url = get_url(hass, allow_internal=False, allow_cloud=False)
    except NoURLAvailableError as err:
        raise error("no_url") from err
    _LOGGER.warning(
        "Home Assistant has no internal URL; chargers are sent to its external URL %s "
        "(set the local network URL in Settings > System > Network)",
        url,
    )
    return url


def upload_url(
    hass: HomeAssistant, charge_point_id: str, kind: str, lifetime: timedelta = UPLOAD_LIFETIME
) -> tuple[str, str]:
    """Return (URL, token) of a new upload slot for a charger."""
    base = base_url(hass)
    token = transfers_of(hass).new_upload(charge_point_id, kind, lifetime)
    return f"{base}{UPLOAD_URL.format(token=token)}", token


def firmware_url(hass: HomeAssistant, charge_point_id: str, path: Path, lifetime: timedelta = FIRMWARE_LIFETIME) -> str:
    """Return a tokenised URL under which a charger downloads a firmware file."""
    base = base_url(hass)
    token = transfers_of(hass).new_firmware_offer(charge_point_id, path, lifetime)
    return f"{base}{FIRMWARE_URL.format(token=token, filename=quote(path.name))}"


# --- views ----------------------------------------------------------------------------------


class _NoFile(Exception):
    """A multipart upload without a file part."""


async def _chunks_of(request: web.Request) -> AsyncIterator[tuple[str | None, bytes]]:
    """Yield (file name the client gave, chunk) of a raw body, or of a multipart form's file part."""
    if not request.content_type.startswith("multipart/"):
        async for chunk in request.content.iter_chunked(_CHUNK):
            yield None, chunk
        return
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
            while chunk := await part.read_chunk(_CHUNK):
                yield part.filename, chunk
            return
        await part.release()  # form fields and nested parts
    raise _NoFile


class UploadView(HomeAssistantView):
    """Receives a diagnostics or log file (HTTP PUT or POST, raw or multipart) for a token."""

    url = UPLOAD_URL
    extra_urls = [f"{UPLOAD_URL}/", f"{UPLOAD_URL}/{{filename}}"]
    name = f"api:{DOMAIN}:upload"
    requires_auth = False

    async def put(self, request: web.Request, token: str, filename: str | None = None) -> web.Response:
        """Store an upload sent as a PUT body."""
        return await self._receive(request, token, filename)

    async def post(self, request: web.Request, token: str, filename: str | None = None) -> web.Response:
        """Store an upload sent as a POST (multipart form or raw body)."""
        return await self._receive(request, token, filename)

    async def _receive(self, request: web.Request, token: str, filename: str | None) -> web.Response:
        hass = request.app[KEY_HASS]
        transfers = transfers_of(hass)
        slot = transfers.upload_slot(token)
        if slot is None:
            return web.Response(status=404, text="Unknown or expired upload URL\n")
        if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
            _LOGGER.warning(
                "%s: refused an upload of %s bytes (too large)", slot.charge_point_id, request.content_length
            )
            return web.Response(status=413, text="File too large\n")
        folder = uploads_dir(hass, slot.charge_point_id)
        part, handle = await hass.async_add_executor_job(_open_part, folder)
        size = 0
        given_name: str | None = None
        buffer = bytearray()
        try:
            async for name, chunk in _chunks_of(request):
                given_name = given_name or name
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    _LOGGER.warning("%s: refused an upload over %s bytes", slot.charge_point_id, MAX_UPLOAD_BYTES)
                    await hass.async_add_executor_job(_discard, handle, part)
                    return web.Response(status=413, text="File too large\n")
                buffer += chunk
                if len(buffer) >= _CHUNK:
                    await hass.async_add_executor_job(handle.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await hass.async_add_executor_job(handle.write, bytes(buffer))
        except _NoFile:
            await hass.async_add_executor_job(_discard, handle, part)
            return web.Response(status=400, text="No file in the form\n")
        except BaseException:
            await hass.async_add_executor_job(_discard, handle, part)
            raise
        name = safe_name(
            given_name or (unquote(filename) if filename else "") or slot.announced_name or "",
            f"{slot.kind}.bin",
        )
        path = await hass.async_add_executor_job(_finish, handle, part, folder, name)
        transfers.drop_upload(token)
        removed = await hass.async_add_executor_job(_prune, folder, KEEP_FILES)
        if removed:
            _LOGGER.debug("%s: removed old files %s", slot.charge_point_id, removed)
        _LOGGER.info("%s uploaded %s file %s (%s bytes)", slot.charge_point_id, slot.kind, path.name, size)
        _notify_upload(hass, slot, path.name, size)
        return web.Response(status=201 if request.method == "PUT" else 200, text="OK\n")


class FirmwareView(HomeAssistantView):
    """Serves a firmware file to the charger a token was made for."""

    url = FIRMWARE_URL
    name = f"api:{DOMAIN}:firmware"
    requires_auth = False

    async def get(self, request: web.Request, token: str, filename: str) -> web.StreamResponse:
        """Send the file."""
        offer = transfers_of(request.app[KEY_HASS]).firmware_offer(token)
        if offer is None or unquote(filename) != offer.path.name:
            return web.Response(status=404, text="Unknown or expired firmware URL\n")
        _LOGGER.info("%s downloads firmware %s", offer.charge_point_id, offer.path.name)
        return web.FileResponse(offer.path, headers={"Content-Type": "application/octet-stream"})

    async def head(self, request: web.Request, token: str, filename: str) -> web.StreamResponse:
        """Answer a HEAD (some chargers check the size first)."""
        return await self.get(request, token, filename)


class UploadedFileView(HomeAssistantView):
    """Serves uploaded diagnostics and logs to Home Assistant users (authenticated or signed link)."""

    url = FILES_URL
    name = f"api:{DOMAIN}:files"
    requires_auth = True

    async def get(self, request: web.Request, charger: str, filename: str) -> web.StreamResponse:
        """Send the file as an attachment."""
        hass = request.app[KEY_HASS]
        charger, filename = unquote(charger), unquote(filename)
        if safe_name(charger, "") != charger or safe_name(filename, "") != filename:
            return web.Response(status=404)
        path = base_dir(hass) / "diagnostics" / charger / filename
        if not await hass.async_add_executor_job(path.is_file):
            return web.Response(status=404)
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )


def _notify_upload(hass: HomeAssistant, slot: UploadSlot, name: str, size: int) -> None:
    link = async_sign_path(hass, download_path(slot.charge_point_id, name), LINK_LIFETIME, use_content_user=True)
    what = "Diagnostics" if slot.kind == KIND_DIAGNOSTICS else "Log"
    persistent_notification.async_create(
        hass,
        f"{what} of charger **{slot.charge_point_id}** received: [{name}]({link}) ({size:,} bytes).\n\n"
        f"Kept in `{uploads_dir(hass, slot.charge_point_id)}`; this link works for "
        f"{LINK_LIFETIME.days} days or until Home Assistant restarts.",
        title=f"{what} of {slot.charge_point_id}",
        notification_id=f"{DOMAIN}_{slot.kind}_{charger_dir_name(slot.charge_point_id)}",
    )


@callback
def async_setup(hass: HomeAssistant) -> None:
    """Create the token registry and register the views (the component's async_setup: once per start)."""
    hass.data[DATA_TRANSFERS] = FileTransfers(hass)
    hass.http.register_view(UploadView())
    hass.http.register_view(FirmwareView())
    hass.http.register_view(UploadedFileView())
