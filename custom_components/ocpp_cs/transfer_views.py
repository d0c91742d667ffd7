"""The HTTP views of file transfers: uploads from chargers, firmware downloads, uploaded files for users.

The files, tokens and URLs they serve are transfers.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import logging
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from homeassistant.components import persistent_notification
from homeassistant.components.http.auth import async_sign_path
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from . import transfers as files
from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)




class _NoFile(Exception):
    """A multipart upload without a file part."""


async def _chunks_of(request: web.Request) -> AsyncIterator[tuple[str | None, bytes]]:
    """Yield (file name the client gave, chunk) of a raw body, or of a multipart form's file part."""
    if not request.content_type.startswith("multipart/"):
        async for chunk in request.content.iter_chunked(files.CHUNK):
            yield None, chunk
        return
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
            while chunk := await part.read_chunk(files.CHUNK):
                yield part.filename, chunk
            return
        await part.release()  # form fields and nested parts
    raise _NoFile


class UploadView(HomeAssistantView):
    """Receives a diagnostics or log file (HTTP PUT or POST, raw or multipart) for a token."""

    url = files.UPLOAD_URL
    extra_urls = [f"{files.UPLOAD_URL}/", f"{files.UPLOAD_URL}/{{filename}}"]
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
        transfers = files.transfers_of(hass)
        slot = transfers.upload_slot(token)
        if slot is None:
            return web.Response(status=404, text="Unknown or expired upload URL\n")
        if request.content_length is not None and request.content_length > files.MAX_UPLOAD_BYTES:
            _LOGGER.warning(
                "%s: refused an upload of %s bytes (too large)", slot.charge_point_id, request.content_length
            )
            return web.Response(status=413, text="File too large\n")
        folder = files.uploads_dir(hass, slot.charge_point_id)
        part, handle = await hass.async_add_executor_job(files.open_part, folder)
        size = 0
        given_name: str | None = None
        buffer = bytearray()
        try:
            async for name, chunk in _chunks_of(request):
                given_name = given_name or name
                size += len(chunk)
                if size > files.MAX_UPLOAD_BYTES:
                    _LOGGER.warning("%s: refused an upload over %s bytes", slot.charge_point_id, files.MAX_UPLOAD_BYTES)
                    await hass.async_add_executor_job(files.discard_part, handle, part)
                    return web.Response(status=413, text="File too large\n")
                buffer += chunk
                if len(buffer) >= files.CHUNK:
                    await hass.async_add_executor_job(handle.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await hass.async_add_executor_job(handle.write, bytes(buffer))
        except _NoFile:
            await hass.async_add_executor_job(files.discard_part, handle, part)
            return web.Response(status=400, text="No file in the form\n")
        except BaseException:
            await hass.async_add_executor_job(files.discard_part, handle, part)
            raise
        name = files.safe_name(
            given_name or (unquote(filename) if filename else "") or slot.announced_name or "",
            f"{slot.kind}.bin",
        )
        path = await hass.async_add_executor_job(files.finish_upload, handle, part, folder, name)
        transfers.drop_upload(token)
        removed = await hass.async_add_executor_job(files.prune, folder, files.KEEP_FILES)
        if removed:
            _LOGGER.debug("%s: removed old files %s", slot.charge_point_id, removed)
        _LOGGER.info("%s uploaded %s file %s (%s bytes)", slot.charge_point_id, slot.kind, path.name, size)
        _notify_upload(hass, slot, path.name, size)
        return web.Response(status=201 if request.method == "PUT" else 200, text="OK\n")


class FirmwareView(HomeAssistantView):
    """Serves a firmware file to the charger a token was made for."""

    url = files.FIRMWARE_URL
    name = f"api:{DOMAIN}:firmware"
    requires_auth = False

    async def get(self, request: web.Request, token: str, filename: str) -> web.StreamResponse:
        """Send the file."""
        offer = files.transfers_of(request.app[KEY_HASS]).firmware_offer(token)
        if offer is None or unquote(filename) != offer.path.name:
            return web.Response(status=404, text="Unknown or expired firmware URL\n")
        _LOGGER.info("%s downloads firmware %s", offer.charge_point_id, offer.path.name)
        return web.FileResponse(offer.path, headers={"Content-Type": "application/octet-stream"})

    async def head(self, request: web.Request, token: str, filename: str) -> web.StreamResponse:
        """Answer a HEAD (some chargers check the size first)."""
        return await self.get(request, token, filename)


class UploadedFileView(HomeAssistantView):
    """Serves uploaded diagnostics and logs to Home Assistant users (authenticated or signed link)."""

    url = files.FILES_URL
    name = f"api:{DOMAIN}:files"
    requires_auth = True

    async def get(self, request: web.Request, charger: str, filename: str) -> web.StreamResponse:
        """Send the file as an attachment."""
        hass = request.app[KEY_HASS]
        charger, filename = unquote(charger), unquote(filename)
        if files.safe_name(charger, "") != charger or files.safe_name(filename, "") != filename:
            return web.Response(status=404)
        path = files.base_dir(hass) / "diagnostics" / charger / filename
        if not await hass.async_add_executor_job(path.is_file):
            return web.Response(status=404)
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )


def _notify_upload(hass: HomeAssistant, slot: files.UploadSlot, name: str, size: int) -> None:
    path = files.download_path(slot.charge_point_id, name)
    link = async_sign_path(hass, path, files.LINK_LIFETIME, use_content_user=True)
    what = "Diagnostics" if slot.kind == files.KIND_DIAGNOSTICS else "Log"
    persistent_notification.async_create(
        hass,
        f"{what} of charger **{slot.charge_point_id}** received: [{name}]({link}) ({size:,} bytes).\n\n"
        f"Kept in `{files.uploads_dir(hass, slot.charge_point_id)}`; this link works for "
        f"{files.LINK_LIFETIME.days} days or until Home Assistant restarts.",
        title=f"{what} of {slot.charge_point_id}",
        notification_id=f"{DOMAIN}_{slot.kind}_{files.charger_dir_name(slot.charge_point_id)}",
    )


@callback
def async_setup(hass: HomeAssistant) -> None:
    """Create the token registry and register the views (the component's async_setup: once per start)."""
    hass.data[files.DATA_TRANSFERS] = files.FileTransfers(hass)
    hass.http.register_view(UploadView())
    hass.http.register_view(FirmwareView())
    hass.http.register_view(UploadedFileView())
