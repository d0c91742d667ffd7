"""OCPP 2.0.1 requests of firmware, logs and certificates, and their answers in the 1.6 actions' shapes.

The 1.6 actions' neutral arguments become the 2.0.1 call: `update_firmware` and
`signed_update_firmware` are UpdateFirmware (L01, L02), `get_diagnostics` is GetLog
DiagnosticsLog (N01), the certificate actions take 1.6's certificate type names (M03-M05), and
`extended_trigger_message` is TriggerMessage (F06) with 2.0.1's name for the CSR trigger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ocpp.v201 import call

from .requests import trigger_message


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def update_firmware_request(
    request_id: int,
    location: str,
    retrieve_date_time: str,
    *,
    install_date_time: str | None = None,
    signing_certificate: str | None = None,
    signature: str | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
) -> call.UpdateFirmware:
    """Return the UpdateFirmware call (L01 unsigned, L02 with signing certificate and signature)."""
    firmware = _present(
        {
            "location": location,
            "retrieve_date_time": retrieve_date_time,
            "install_date_time": install_date_time,
            "signing_certificate": signing_certificate,
            "signature": signature,
        }
    )
    return call.UpdateFirmware(
        request_id=request_id, firmware=firmware, retries=retries, retry_interval=retry_interval
    )


def get_log_request(
    request_id: int,
    log_type: str,
    remote_location: str,
    *,
    oldest_timestamp: str | None = None,
    latest_timestamp: str | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
) -> call.GetLog:
    """Return the GetLog call (N01): DiagnosticsLog or SecurityLog uploaded to `remote_location`."""
    log = _present(
        {
            "remote_location": remote_location,
            "oldest_timestamp": oldest_timestamp,
            "latest_timestamp": latest_timestamp,
        }
    )
    return call.GetLog(
        log=log, log_type=log_type, request_id=request_id, retries=retries, retry_interval=retry_interval
    )


# 1.6's certificate types (CertificateUse) as 2.0.1's (InstallCertificateUse, GetCertificateIdUse).
CERTIFICATE_TYPES = {
    "CentralSystemRootCertificate": "CSMSRootCertificate",
    "ManufacturerRootCertificate": "ManufacturerRootCertificate",
}


def install_certificate_request(certificate_type: str, certificate: str) -> call.InstallCertificate:
    """Return the InstallCertificate call (M05) of a 1.6 certificate type."""
    return call.InstallCertificate(certificate_type=CERTIFICATE_TYPES[certificate_type], certificate=certificate)


def installed_certificate_ids_request(certificate_type: str) -> call.GetInstalledCertificateIds:
    """Return the GetInstalledCertificateIds call (M03) of a 1.6 certificate type."""
    return call.GetInstalledCertificateIds(certificate_type=[CERTIFICATE_TYPES[certificate_type]])


def installed_certificate_ids_answer(status: str, chains: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Return GetInstalledCertificateIds' answer as 1.6's: `certificate_hash_data`, plus 2.0.1's chains."""
    chains = list(chains or [])
    return {
        "status": status,
        "certificate_hash_data": [chain["certificate_hash_data"] for chain in chains],
        "certificate_hash_data_chain": chains,
    }


def trigger_request(requested_message: str, evse_id: int | None) -> call.TriggerMessage:
    """Return the TriggerMessage call (F06) of an ExtendedTriggerMessage; a connector is its EVSE."""
    return trigger_message(requested_message, evse_id)
