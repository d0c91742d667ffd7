"""A simulated charger with Firmware Management and the OCPP 1.6 security extension.

It transfers files over real HTTP: it uploads diagnostics and logs to the location it is
given (PUT, POST multipart, or PUT with the file name appended, as `upload_mode` says) and
downloads firmware from the location it is given, reporting each step in
(Signed)FirmwareStatusNotification, DiagnosticsStatusNotification and LogStatusNotification.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from ocpp.routing import after, on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from .control_charger import ControlCharger

PUT = "put"
POST = "post"
PUT_WITH_NAME = "put_with_name"


class FirmwareCharger(ControlCharger):
    """Answers the Firmware Management and security-extension commands and does the transfers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = [item for item in self.configuration if item["key"] != "SupportedFeatureProfiles"] + [
            {
                "key": "SupportedFeatureProfiles",
                "readonly": True,
                "value": "Core,FirmwareManagement,RemoteTrigger,SmartCharging",
            },
            {"key": "SupportedFileTransferProtocols", "readonly": True, "value": "FTP,HTTP,HTTPS"},
        ]
        self.diagnostics_file = b"line 1: all fine\nline 2: still fine\n"
        self.diagnostics_name: str | None = "diagnostics-sim.log"
        self.upload_mode = PUT
        # (HTTP status of each upload, location it went to)
        self.uploads: list[tuple[int, str]] = []
        # The firmware bytes downloaded (None when the download failed).
        self.downloads: list[bytes | None] = []
        # Seconds between firmware status steps (so a test can watch `in_progress`).
        self.step_delay = 0.0
        self.transfers_done = asyncio.Event()

    # --- HTTP ------------------------------------------------------------------------------

    async def _upload(self, location: str, body: bytes, name: str) -> int:
        if not location.startswith(("http://", "https://")):
            self.uploads.append((0, location))  # this simulator speaks HTTP only
            return 0
        async with aiohttp.ClientSession() as session:
            if self.upload_mode == POST:
                form = aiohttp.FormData()
                form.add_field("comment", "uploaded by the simulator")
                form.add_field("file", body, filename=name, content_type="application/octet-stream")
                async with session.post(location, data=form) as response:
                    status = response.status
            else:
                url = f"{location}/{name}" if self.upload_mode == PUT_WITH_NAME else location
                async with session.put(url, data=body) as response:
                    status = response.status
        self.uploads.append((status, location))
        return status

    async def _download(self, location: str) -> bytes | None:
        try:
            async with aiohttp.ClientSession() as session, session.get(location) as response:
                if response.status != 200:
                    return None
                return await response.read()
        except aiohttp.ClientError:
            return None

    # --- GetDiagnostics / DiagnosticsStatusNotification -------------------------------------------

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, location: str, **request: Any) -> Any:
        await self._answer("GetDiagnostics", "Accepted", location=location, **request)
        return call_result.GetDiagnostics(file_name=self.diagnostics_name)

    @after(Action.get_diagnostics)
    async def after_get_diagnostics(self, location: str, **_: Any) -> None:
        if self.diagnostics_name is not None:
            self._spawn(self._send_diagnostics(location))

    async def _send_diagnostics(self, location: str) -> None:
        await self.send(call.DiagnosticsStatusNotification(status="Uploading"))
        status = await self._upload(location, self.diagnostics_file, self.diagnostics_name or "diag.log")
        result = "Uploaded" if status in (200, 201, 204) else "UploadFailed"
        await self.send(call.DiagnosticsStatusNotification(status=result))
        self.transfers_done.set()

    # --- UpdateFirmware / FirmwareStatusNotification ------------------------------------------------

    @on(Action.update_firmware)
    async def on_update_firmware(self, location: str, retrieve_date: str, **request: Any) -> Any:
        await self._answer("UpdateFirmware", "Accepted", location=location, retrieve_date=retrieve_date, **request)
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    async def after_update_firmware(self, location: str, **_: Any) -> None:
        self._spawn(self._install(location))

    async def _firmware_step(self, status: str, request_id: int | None = None) -> None:
        if self.step_delay:
            await asyncio.sleep(self.step_delay)
        if request_id is None:
            await self.send(call.FirmwareStatusNotification(status=status))
        else:
            await self.send(call.SignedFirmwareStatusNotification(status=status, request_id=request_id))

    async def _install(self, location: str, request_id: int | None = None) -> None:
        if request_id is not None:
            await self._firmware_step("DownloadScheduled", request_id)
        await self._firmware_step("Downloading", request_id)
        data = await self._download(location)
        self.downloads.append(data)
        if data is None:
            await self._firmware_step("DownloadFailed", request_id)
            self.transfers_done.set()
            return
        await self._firmware_step("Downloaded", request_id)
        if request_id is not None:
            await self._firmware_step("SignatureVerified", request_id)
        await self._firmware_step("Installing", request_id)
        await self._firmware_step("Installed", request_id)
        self.transfers_done.set()

    # --- the security extension -----------------------------------------------------------

    @on(Action.signed_update_firmware)
    async def on_signed_update_firmware(self, request_id: int, firmware: dict[str, Any], **request: Any) -> Any:
        status = await self._answer("SignedUpdateFirmware", "Accepted", request_id=request_id, firmware=firmware)
        return call_result.SignedUpdateFirmware(status=status)

    @after(Action.signed_update_firmware)
    async def after_signed_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
        if self.answers.get("SignedUpdateFirmware", "Accepted") == "Accepted":
            self._spawn(self._install(firmware["location"], request_id))

    @on(Action.get_log)
    async def on_get_log(self, log: dict[str, Any], log_type: str, request_id: int, **request: Any) -> Any:
        status = await self._answer("GetLog", "Accepted", log=log, log_type=log_type, request_id=request_id)
        return call_result.GetLog(status=status, filename="security.log" if status == "Accepted" else None)

    @after(Action.get_log)
    async def after_get_log(self, log: dict[str, Any], request_id: int, **_: Any) -> None:
        if self.answers.get("GetLog", "Accepted") == "Accepted":
            self._spawn(self._send_log(log["remote_location"], request_id))

    async def _send_log(self, location: str, request_id: int) -> None:
        await self.send(call.LogStatusNotification(status="Uploading", request_id=request_id))
        status = await self._upload(location, b"security log\n", "security.log")
        result = "Uploaded" if status in (200, 201, 204) else "UploadFailure"
        await self.send(call.LogStatusNotification(status=result, request_id=request_id))
        self.transfers_done.set()

    @on(Action.install_certificate)
    async def on_install_certificate(self, certificate_type: str, certificate: str) -> Any:
        status = await self._answer(
            "InstallCertificate", "Accepted", certificate_type=certificate_type, certificate=certificate
        )
        return call_result.InstallCertificate(status=status)

    @on(Action.certificate_signed)
    async def on_certificate_signed(self, certificate_chain: str) -> Any:
        status = await self._answer("CertificateSigned", "Accepted", certificate_chain=certificate_chain)
        return call_result.CertificateSigned(status=status)

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, certificate_type: str) -> Any:
        status = await self._answer("GetInstalledCertificateIds", "Accepted", certificate_type=certificate_type)
        hashes = None
        if status == "Accepted":
            hashes = [
                {"hashAlgorithm": "SHA256", "issuerNameHash": "aa11", "issuerKeyHash": "bb22", "serialNumber": "01"}
            ]
        return call_result.GetInstalledCertificateIds(status=status, certificate_hash_data=hashes)

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, certificate_hash_data: dict[str, Any]) -> Any:
        status = await self._answer("DeleteCertificate", "Accepted", certificate_hash_data=certificate_hash_data)
        return call_result.DeleteCertificate(status=status)

    @on(Action.extended_trigger_message)
    async def on_extended_trigger_message(self, requested_message: str, connector_id: int | None = None) -> Any:
        status = await self._answer(
            "ExtendedTriggerMessage", "Accepted", requested_message=requested_message, connector_id=connector_id
        )
        return call_result.ExtendedTriggerMessage(status=status)
