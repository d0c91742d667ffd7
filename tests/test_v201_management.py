"""Firmware, logs and certificates for OCPP 2.0.1 stations: the 1.6 actions send 2.0.1's requests."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ocpp_cs.engine.configuration import ConfigurationValue

from .charger201 import Sim201Charger, charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, http_base
from .test_v201_device_model import booted

PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
HASHES = {"hash_algorithm": "SHA256", "issuer_name_hash": "aa11", "issuer_key_hash": "bb22", "serial_number": "0c"}


def last(cs: Sim201Charger, name: str) -> dict[str, Any]:
    """Return the last request `name` the station received."""
    return [data for action_name, data in cs.received if action_name == name][-1]


async def test_firmware_and_logs(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_client_no_auth: ClientSessionGenerator
) -> None:
    entry = await setup_entry()
    await http_base(hass, hass_client_no_auth, "diagnostics")
    async with charger201(port_of(entry), "CS-F") as cs:
        dev = await booted(hass, cs)
        answer = await action(
            hass, "update_firmware", device_id=dev, location="https://example.com/fw.bin",
            retrieve_date="2030-01-02T03:04:05+00:00", retries=3, retry_interval=60,
        )
        request = last(cs, "UpdateFirmware")
        assert request == {
            "request_id": answer["request_id"],
            "firmware": {"location": "https://example.com/fw.bin", "retrieve_date_time": "2030-01-02T03:04:05.000Z"},
            "retries": 3,
            "retry_interval": 60,
        }
        assert answer == {"status": "Accepted", "request_id": request["request_id"]}

        answer = await action(
            hass, "signed_update_firmware", device_id=dev, location="https://example.com/fw.bin",
            signing_certificate=PEM, signature="c2ln", request_id=7, install_date="2030-01-02T04:00:00+00:00",
            retrieve_date="2030-01-02T03:04:05+00:00",
        )
        assert last(cs, "UpdateFirmware") == {
            "request_id": 7,
            "firmware": {
                "location": "https://example.com/fw.bin", "retrieve_date_time": "2030-01-02T03:04:05.000Z",
                "install_date_time": "2030-01-02T04:00:00.000Z", "signing_certificate": PEM, "signature": "c2ln",
            },
        }
        assert answer == {"status": "Accepted", "request_id": 7}
        cs.answers["UpdateFirmware"] = "InvalidCertificate"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "update_firmware", device_id=dev, location="https://example.com/fw.bin")
        assert raised.value.translation_key == "refused"
        assert raised.value.translation_placeholders["status"] == "InvalidCertificate"

        # GetDiagnostics is GetLog's DiagnosticsLog, uploaded to our own URL; the answer keeps 1.6's name.
        answer = await action(hass, "get_diagnostics", device_id=dev, start_time="2030-01-01T00:00:00+00:00")
        request = last(cs, "GetLog")
        assert request["log_type"] == "DiagnosticsLog"
        assert request["log"]["remote_location"].startswith(f"{hass.config.internal_url}/api/ocpp_cs/upload/")
        assert request["log"]["oldest_timestamp"] == "2030-01-01T00:00:00.000Z"
        assert answer == {"status": "Accepted", "file_name": "DiagnosticsLog.zip", "request_id": request["request_id"]}

        answer = await action(
            hass, "get_log", device_id=dev, log_type="security_log", location="ftp://example.com/logs", request_id=9
        )
        assert last(cs, "GetLog") == {
            "log": {"remote_location": "ftp://example.com/logs"}, "log_type": "SecurityLog", "request_id": 9,
        }
        assert answer == {"status": "Accepted", "filename": "SecurityLog.zip", "request_id": 9}
        # The device model's transfer protocols are checked as 1.6's SupportedFileTransferProtocols.
        hub_of(entry).central.chargers["CS-F"].configuration["OCPPCommCtrlr/FileTransferProtocols"] = (
            ConfigurationValue(value="HTTPS", readonly=True)
        )
        with pytest.raises(ServiceValidationError) as invalid:
            await action(hass, "update_firmware", device_id=dev, location="ftp://example.com/fw.bin")
        assert invalid.value.translation_key == "protocol_not_supported"
        cs.answers["GetLog"] = "Rejected"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "get_diagnostics", device_id=dev, location="https://example.com/logs")
        assert raised.value.translation_placeholders["status"] == "Rejected"


async def test_certificates(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-S") as cs:
        dev = await booted(hass, cs)
        answer = await action(
            hass, "install_certificate", device_id=dev, certificate_type="central_system_root_certificate",
            certificate=PEM,
        )
        assert answer == {"status": "Accepted"}
        assert last(cs, "InstallCertificate") == {"certificate_type": "CSMSRootCertificate", "certificate": PEM}

        answer = await action(
            hass, "get_installed_certificate_ids", device_id=dev, certificate_type="manufacturer_root_certificate"
        )
        assert last(cs, "GetInstalledCertificateIds") == {"certificate_type": ["ManufacturerRootCertificate"]}
        assert answer == {"status": "NotFound", "certificate_hash_data": [], "certificate_hash_data_chain": []}
        chain = {"certificate_type": "ManufacturerRootCertificate", "certificate_hash_data": HASHES}
        cs.answers["GetInstalledCertificateIds"] = [chain]
        answer = await action(
            hass, "get_installed_certificate_ids", device_id=dev, certificate_type="manufacturer_root_certificate"
        )
        assert answer == {
            "status": "Accepted", "certificate_hash_data": [HASHES], "certificate_hash_data_chain": [chain]
        }

        answer = await action(
            hass, "delete_certificate", device_id=dev, issuer_name_hash="aa11", issuer_key_hash="bb22",
            serial_number="0c",
        )
        assert answer == {"status": "Accepted"}
        assert last(cs, "DeleteCertificate") == {"certificate_hash_data": HASHES}

        assert await action(hass, "certificate_signed", device_id=dev, certificate_chain=PEM) == {"status": "Accepted"}
        assert last(cs, "CertificateSigned") == {"certificate_chain": PEM}
        cs.answers["CertificateSigned"] = "Rejected"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "certificate_signed", device_id=dev, certificate_chain=PEM)
        assert raised.value.translation_placeholders["status"] == "Rejected"

        # ExtendedTriggerMessage is 2.0.1's TriggerMessage, with its name for the CSR trigger.
        answer = await action(
            hass, "extended_trigger_message", device_id=dev, requested_message="sign_charge_point_certificate"
        )
        assert answer == {"status": "Accepted"}
        assert last(cs, "TriggerMessage") == {"requested_message": "SignChargingStationCertificate", "evse": None}
        await action(hass, "extended_trigger_message", device_id=dev, requested_message="MeterValues", connector_id=1)
        assert last(cs, "TriggerMessage") == {"requested_message": "MeterValues", "evse": {"id": 1}}
