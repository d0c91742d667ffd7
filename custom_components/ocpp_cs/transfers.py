"""File transfers over Home Assistant's own HTTP server (OCPP 1.6 chapter 8).

Chargers upload diagnostics and logs to, and download firmware from, URLs this
integration serves. Chargers cannot log in to Home Assistant, so those views need no
authentication; instead each URL carries a token made for one request: unguessable,
expiring, and (for uploads) used up by the first complete upload. The files users
download (the uploaded diagnostics) are served by an authenticated view, linked with a
signed path from a persistent notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import hashlib
import logging
import os
from pathlib import Path
import re
import secrets
from typing import IO, Any
from urllib.parse import quote

from homeassistant.core import HomeAssistant
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
CHUNK = 256 * 1024

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


def prune(folder: Path, keep: int) -> list[str]:
    """Remove all but the `keep` newest files of a folder; return the removed names."""
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


def open_part(folder: Path) -> tuple[Path, IO[bytes]]:
    """Open a new hidden part file for an upload in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    # Hidden (never listed or served) and unique, should a charger upload twice at once.
    part = folder / f".{secrets.token_hex(8)}.part"
    return part, part.open("wb")


def finish_upload(handle: IO[bytes], part: Path, folder: Path, name: str) -> Path:
    """Close a complete upload and give it its timestamped name; return its path."""
    handle.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stamp}_{name}"
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"{stamp}_{counter}_{name}"
    os.replace(part, target)
    return target


def discard_part(handle: IO[bytes], part: Path) -> None:
    """Close and delete an upload that failed."""
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
