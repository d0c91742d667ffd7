"""Firmware updates (5.19, 4.5), the `firmware` update entity, and the security extension's messages."""

from __future__ import annotations

from datetime import timedelta
import os
from pathlib import Path
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from ocpp.messages import CallError, CallResult
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.update import FOLDER_CHECK_INTERVAL

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .firmware_charger import FirmwareCharger
from .helpers import action, call_frame, device_id, entity_id, find_device, full_state, http_base, state, wait_for

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


pytestmark = pytest.mark.usefixtures("config_dir")




async def booted(hass: HomeAssistant, cp: FirmwareCharger, firmware_version: str = "1.0.0") -> None:
    await cp.boot(firmware_version=firmware_version)
    await cp.status(0, "Available")
    await hass.async_block_till_done()
    await wait_for(lambda: ("GetConfiguration", {"key": None}) in cp.received, what="configuration read")
    await hass.async_block_till_done()


def record_states(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> list[str]:
    """Collect every state an entity takes from now on."""
    seen: list[str] = []
    target = entity_id(hass, unique_id, platform)

    @callback
    def _changed(event: Event[Any]) -> None:
        if event.data["entity_id"] == target and event.data["new_state"] is not None:
            seen.append(event.data["new_state"].state)

    hass.bus.async_listen("state_changed", _changed)
    return seen


def write_firmware(folder: Path, name: str, data: bytes, mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_update_firmware_from_a_location_reports_every_status(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-F", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        seen = record_states(hass, "CP-F_0_firmware_status")
        # Nothing listens there: the download fails, as the charger reports.
        answer = await action(
            hass,
            "update_firmware",
            device_id=device_id(hass, "CP-F"),
            location="http://127.0.0.1:9/firmware.bin",
            retrieve_date="2030-01-01T12:00:00+00:00",
            retries=3,
            retry_interval=60,
        )
        assert answer == {}
        request = next(r for a, r in cp.received if a == "UpdateFirmware")
        assert request == {
            "location": "http://127.0.0.1:9/firmware.bin",
            "retrieve_date": "2030-01-01T12:00:00.000Z",
            "retries": 3,
            "retry_interval": 60,
        }
        await cp.transfers_done.wait()
        await wait_for(lambda: "download_failed" in seen, what="download failed")
        assert seen == ["downloading", "download_failed"]

        dev = device_id(hass, "CP-F")
        for data, key in [
            ({}, "location_or_file"),
            ({"location": "http://x/fw.bin", "file": "fw.bin"}, "location_or_file"),
            ({"location": "mailto:me@example.com"}, "invalid_location"),
            ({"file": "../../secrets.yaml"}, "firmware_file_not_found"),
            ({"file": "missing.bin"}, "firmware_file_not_found"),
        ]:
            with pytest.raises(ServiceValidationError) as invalid:
                await action(hass, "update_firmware", device_id=dev, **data)
            assert invalid.value.translation_key == key, data


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_update_firmware_with_a_file_served_by_home_assistant(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
) -> None:
    entry = await setup_entry()
    client = await http_base(hass, hass_client_no_auth)
    image = os.urandom(200_000)
    write_firmware(config_dir / "ocpp_cs" / "firmware" / "garage", "charger-2.0.0.bin", image)
    async with charger(port_of(entry), "CP-FILE", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        seen = record_states(hass, "CP-FILE_0_firmware_status")
        await action(hass, "update_firmware", device_id=device_id(hass, "CP-FILE"), file="garage/charger-2.0.0.bin")
        location = next(r for a, r in cp.received if a == "UpdateFirmware")["location"]
        assert location.startswith(f"{hass.config.internal_url}/api/ocpp_cs/firmware/")
        assert location.endswith("/charger-2.0.0.bin")
        await cp.transfers_done.wait()
        assert cp.downloads == [image]
        await wait_for(lambda: "installed" in seen, what="installed")
        assert seen == ["downloading", "downloaded", "installing", "installed"]

    # The URL is this charger's, for this file only.
    path = location.removeprefix(hass.config.internal_url)
    assert (await client.get(path.rsplit("/", 1)[0] + "/other.bin")).status == 404
    assert (await client.get(path)).status == 200


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_firmware_update_entity(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth)
    firmware = config_dir / "ocpp_cs" / "firmware"
    async with charger(port_of(entry), "CP-U", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp, firmware_version="1.0.0")
        update = entity_id(hass, "CP-U_0_firmware", "update")
        # No file provided: nothing to install.
        current = full_state(hass, "CP-U_0_firmware", "update")
        assert current.state == STATE_OFF
        assert current.attributes["installed_version"] == "1.0.0"
        assert current.attributes["latest_version"] == "1.0.0"
        assert current.attributes["device_class"] == "firmware"
        with pytest.raises(HomeAssistantError):
            await hass.services.async_call("update", "install", {"entity_id": update}, blocking=True)

        # A file for the model, then a newer one for this very charger: the charger's wins.
        # The folders are looked at every few minutes.
        write_firmware(firmware / "Sim-22", "sim-1.1.0.bin", b"model firmware", mtime=1_700_000_000)
        async_fire_time_changed(hass, dt_util.utcnow() + FOLDER_CHECK_INTERVAL + timedelta(seconds=1))
        await hass.async_block_till_done(wait_background_tasks=True)
        assert state(hass, "CP-U_0_firmware", "update") == STATE_ON
        assert full_state(hass, "CP-U_0_firmware", "update").attributes["latest_version"] == "1.1.0"
        write_firmware(firmware / "CP-U", "cp-u-1.2.0.bin", b"charger firmware", mtime=1_600_000_000)
        await hass.services.async_call("homeassistant", "update_entity", {"entity_id": update}, blocking=True)
        current = full_state(hass, "CP-U_0_firmware", "update")
        assert current.attributes["latest_version"] == "1.2.0"
        assert current.attributes["release_summary"] == "File: cp-u-1.2.0.bin"

        cp.step_delay = 0.2
        progress = record_states(hass, "CP-U_0_firmware_status")
        await hass.services.async_call("update", "install", {"entity_id": update}, blocking=True)
        # In progress from the request on, while the charger reports its steps.
        assert full_state(hass, "CP-U_0_firmware", "update").attributes["in_progress"] is True
        await wait_for(lambda: "installing" in progress, what="installing")
        assert full_state(hass, "CP-U_0_firmware", "update").attributes["in_progress"] is True
        await cp.transfers_done.wait()
        await wait_for(lambda: "installed" in progress, what="installed")
        assert cp.downloads == [b"charger firmware"]
        assert full_state(hass, "CP-U_0_firmware", "update").attributes["in_progress"] is False

        # After the reboot the charger reports the new version: nothing left to install.
        await cp.boot(firmware_version="1.2.0")
        await hass.async_block_till_done()
        current = full_state(hass, "CP-U_0_firmware", "update")
        assert current.attributes["installed_version"] == "1.2.0"
        assert current.state == STATE_OFF
        device = find_device(hass, "CP-U")
        assert device is not None and device.sw_version == "1.2.0"

        # A file that vanished between the check and the install is a clear error.
        newer = write_firmware(firmware / "CP-U", "cp-u-1.3.0.bin", b"newer", mtime=1_800_000_000)
        await hass.services.async_call("homeassistant", "update_entity", {"entity_id": update}, blocking=True)
        assert state(hass, "CP-U_0_firmware", "update") == STATE_ON
        for path in (newer, firmware / "CP-U" / "cp-u-1.2.0.bin", firmware / "Sim-22" / "sim-1.1.0.bin"):
            path.unlink()
        with pytest.raises(HomeAssistantError) as vanished:
            await hass.services.async_call("update", "install", {"entity_id": update}, blocking=True)
        assert vanished.value.translation_key == "no_firmware_file"


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_signed_firmware_and_the_security_extension(
    hass: HomeAssistant,
    setup_entry: EntryFactory,
    hass_client_no_auth: ClientSessionGenerator,
    config_dir: Path,
) -> None:
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth)
    write_firmware(config_dir / "ocpp_cs" / "firmware", "signed-3.0.bin", b"signed image")
    security_events: list[dict[str, Any]] = []
    csr_events: list[dict[str, Any]] = []
    hass.bus.async_listen(f"{DOMAIN}_security_event", lambda event: security_events.append(dict(event.data)))
    hass.bus.async_listen(f"{DOMAIN}_sign_certificate", lambda event: csr_events.append(dict(event.data)))
    async with charger(port_of(entry), "CP-SEC", cls=FirmwareCharger) as cp:
        assert isinstance(cp, FirmwareCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-SEC")

        # SignedUpdateFirmware; SignedFirmwareStatusNotification drives `firmware_status`.
        seen = record_states(hass, "CP-SEC_0_firmware_status")
        answer = await action(
            hass,
            "signed_update_firmware",
            device_id=dev,
            file="signed-3.0.bin",
            signing_certificate=PEM,
            signature="c2lnbmF0dXJl",
            request_id=42,
        )
        assert answer == {"status": "Accepted", "request_id": 42}
        request = next(r for a, r in cp.received if a == "SignedUpdateFirmware")
        assert request["request_id"] == 42
        assert request["firmware"]["signing_certificate"] == PEM
        assert request["firmware"]["location"].startswith(f"{hass.config.internal_url}/api/ocpp_cs/firmware/")
        await cp.transfers_done.wait()
        await wait_for(lambda: "installed" in seen, what="signed firmware installed")
        assert seen == [
            "download_scheduled",
            "downloading",
            "downloaded",
            "signature_verified",
            "installing",
            "installed",
        ]
        assert cp.downloads == [b"signed image"]
        cp.answers["SignedUpdateFirmware"] = "InvalidCertificate"
        with pytest.raises(HomeAssistantError) as refused:
            await action(
                hass,
                "signed_update_firmware",
                device_id=dev,
                location="https://example.com/fw.bin",
                signing_certificate=PEM,
                signature="c2ln",
            )
        assert "InvalidCertificate" in str(refused.value.translation_placeholders)

        # SecurityEventNotification: answered, fired as an event.
        answer_frame = await cp.raw(
            call_frame(
                "SecurityEventNotification",
                {"type": "InvalidCentralSystemCertificate", "timestamp": "2025-05-01T10:00:00Z", "techInfo": "CN"},
            )
        )
        assert isinstance(answer_frame, CallResult) and answer_frame.payload == {}
        await hass.async_block_till_done()
        assert security_events == [
            {
                "charge_point_id": "CP-SEC",
                "type": "InvalidCentralSystemCertificate",
                "timestamp": "2025-05-01T10:00:00Z",
                "tech_info": "CN",
            }
        ]

        # SignCertificate: Accepted, the CSR fired as an event; the signed chain goes back.
        answer_frame = await cp.raw(call_frame("SignCertificate", {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}))
        assert isinstance(answer_frame, CallResult) and answer_frame.payload == {"status": "Accepted"}
        await hass.async_block_till_done()
        assert csr_events == [{"charge_point_id": "CP-SEC", "csr": "-----BEGIN CERTIFICATE REQUEST-----"}]
        assert await action(hass, "certificate_signed", device_id=dev, certificate_chain=PEM) == {"status": "Accepted"}
        assert ("CertificateSigned", {"certificate_chain": PEM}) in cp.received
        with pytest.raises(ServiceValidationError):
            await action(hass, "certificate_signed", device_id=dev, certificate_chain="not a certificate")

        # LogStatusNotification and a bad payload.
        answer_frame = await cp.raw(call_frame("LogStatusNotification", {"status": "Idle", "requestId": 5}))
        assert isinstance(answer_frame, CallResult) and answer_frame.payload == {}
        assert hub_of(entry).central.chargers["CP-SEC"].log_status == "Idle"
        answer_frame = await cp.raw(call_frame("SignedFirmwareStatusNotification", {"status": "Bogus"}))
        assert isinstance(answer_frame, CallError) and answer_frame.error_code == "PropertyConstraintViolation"

        # Certificates.
        answer = await action(
            hass,
            "install_certificate",
            device_id=dev,
            certificate_type="central_system_root_certificate",
            certificate=PEM,
        )
        assert answer == {"status": "Accepted"}
        assert ("InstallCertificate", {"certificate_type": "CentralSystemRootCertificate", "certificate": PEM}) in (
            cp.received
        )
        answer = await action(
            hass, "get_installed_certificate_ids", device_id=dev, certificate_type="manufacturer_root_certificate"
        )
        assert answer == {
            "status": "Accepted",
            "certificate_hash_data": [
                {
                    "hash_algorithm": "SHA256",
                    "issuer_name_hash": "aa11",
                    "issuer_key_hash": "bb22",
                    "serial_number": "01",
                }
            ],
        }
        cp.answers["GetInstalledCertificateIds"] = "NotFound"
        answer = await action(
            hass, "get_installed_certificate_ids", device_id=dev, certificate_type="manufacturer_root_certificate"
        )
        assert answer == {"status": "NotFound", "certificate_hash_data": []}
        hashes = {"issuer_name_hash": "aa11", "issuer_key_hash": "bb22", "serial_number": "01"}
        assert await action(hass, "delete_certificate", device_id=dev, **hashes) == {"status": "Accepted"}
        assert ("DeleteCertificate", {"certificate_hash_data": {"hash_algorithm": "SHA256", **hashes}}) in cp.received
        cp.answers["DeleteCertificate"] = "NotFound"
        with pytest.raises(HomeAssistantError) as not_found:
            await action(hass, "delete_certificate", device_id=dev, hash_algorithm="SHA384", **hashes)
        assert not_found.value.translation_key == "refused"

        # ExtendedTriggerMessage, in snake_case or the spec's spelling.
        answer = await action(
            hass, "extended_trigger_message", device_id=dev, requested_message="sign_charge_point_certificate"
        )
        assert answer == {"status": "Accepted"}
        assert (
            "ExtendedTriggerMessage",
            {"requested_message": "SignChargePointCertificate", "connector_id": None},
        ) in cp.received
        cp.answers["ExtendedTriggerMessage"] = "NotImplemented"
        with pytest.raises(HomeAssistantError):
            await action(
                hass,
                "extended_trigger_message",
                device_id=dev,
                requested_message="LogStatusNotification",
                connector_id=1,
            )
        with pytest.raises(ServiceValidationError):
            await action(
                hass, "extended_trigger_message", device_id=dev, requested_message="DiagnosticsStatusNotification"
            )

        # Answers of offline chargers are errors, as for every command.
        await cp.send(call.Heartbeat())
    await wait_for(lambda: state(hass, "CP-SEC_0_connected", "binary_sensor") == "off", what="disconnected")
    with pytest.raises(HomeAssistantError) as offline:
        await action(hass, "certificate_signed", device_id=dev, certificate_chain=PEM)
    assert offline.value.translation_key == "not_connected"
