"""Actions of the OCPP 1.6 security extension: certificates and ExtendedTriggerMessage."""

from __future__ import annotations

from typing import Any

from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
from ocpp.v16 import call
from ocpp.v16.enums import CertificateUse, HashAlgorithm, MessageTrigger
from ocpp.v201 import call as call201
import probatio as vol

from .. import commands, commands201
from ..engine.util import snake
from ..engine.v201 import management_requests as requests201
from ..errors import invalid
from .fields import ALLOW_UNKNOWN_CONNECTOR, ATTR_CONNECTOR_ID, bounded_string
from .targets import Target

CERTIFICATE_TYPES = {snake(use.value): use.value for use in CertificateUse}
HASH_ALGORITHMS = {algorithm.value.lower(): algorithm.value for algorithm in HashAlgorithm}
# ExtendedTriggerMessage's MessageTriggerEnumType (the security extension's own list).
EXTENDED_TRIGGERS = (
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargePointCertificate",
    "StatusNotification",
)


def _extended_trigger(value: Any) -> str:
    """Accept a trigger in the spec's spelling or in snake_case."""
    text = str(value).replace("_", "").lower()
    for trigger in EXTENDED_TRIGGERS:
        if trigger.lower() == text:
            return trigger
    raise vol.Invalid(f"must be one of {', '.join(EXTENDED_TRIGGERS)}")


SECURITY_SCHEMAS: dict[str, VolDictType] = {
    "install_certificate": {
        vol.Required("certificate_type"): vol.In(list(CERTIFICATE_TYPES)),
        vol.Required("certificate"): bounded_string(5500),
    },
    "certificate_signed": {vol.Required("certificate_chain"): bounded_string(10000)},
    "get_installed_certificate_ids": {vol.Required("certificate_type"): vol.In(list(CERTIFICATE_TYPES))},
    "delete_certificate": {
        vol.Optional("hash_algorithm", default="sha256"): vol.All(vol.Lower, vol.In(list(HASH_ALGORITHMS))),
        vol.Required("issuer_name_hash"): bounded_string(128),
        vol.Required("issuer_key_hash"): bounded_string(128),
        vol.Required("serial_number"): bounded_string(40),
    },
    "extended_trigger_message": {
        vol.Required("requested_message"): _extended_trigger,
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=0)),
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
}


def _check_pem(text: str, field: str) -> str:
    """Refuse text that is not a PEM certificate (chain)."""
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise invalid("invalid_certificate", field=field)
    return text


async def install_certificate(target: Target) -> dict[str, Any]:
    """Handle the `install_certificate` action."""
    data = target.data
    build = commands201.pick(target.hub, target.charge_point_id, _install16, requests201.install_certificate_request)
    payload = build(CERTIFICATE_TYPES[data["certificate_type"]], _check_pem(data["certificate"], "certificate"))
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    commands.expect_status(target.charge_point_id, "InstallCertificate", result)
    return commands.answer_dict(result)


def _install16(certificate_type: str, certificate: str) -> Any:
    return call.InstallCertificate(certificate_type=CertificateUse(certificate_type), certificate=certificate)


async def certificate_signed(target: Target) -> dict[str, Any]:
    """Handle the `certificate_signed` action."""
    chain = _check_pem(target.data["certificate_chain"], "certificate_chain")
    # The same request in both versions (2.0.1: A02/A03, its optional certificateType left out).
    build = commands201.pick(target.hub, target.charge_point_id, call.CertificateSigned, call201.CertificateSigned)
    payload = build(certificate_chain=chain)
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    commands.expect_status(target.charge_point_id, "CertificateSigned", result)
    return commands.answer_dict(result)


async def get_installed_certificate_ids(target: Target) -> dict[str, Any]:
    """Handle the `get_installed_certificate_ids` action."""
    hub, charge_point_id = target.hub, target.charge_point_id
    build = commands201.pick(hub, charge_point_id, _installed16, requests201.installed_certificate_ids_request)
    result = await commands.async_call(hub, charge_point_id, build(CERTIFICATE_TYPES[target.data["certificate_type"]]))
    # NotFound is an answer, not a refusal: no certificate of that type is installed.
    commands.expect_status(charge_point_id, "GetInstalledCertificateIds", result, ("Accepted", "NotFound"))
    if hasattr(result, "certificate_hash_data_chain"):
        # 2.0.1: each chain's own hash data is 1.6's list; the chains (with children) beside it.
        return requests201.installed_certificate_ids_answer(str(result.status), result.certificate_hash_data_chain)
    return {"status": str(result.status), "certificate_hash_data": list(result.certificate_hash_data or [])}


def _installed16(certificate_type: str) -> Any:
    return call.GetInstalledCertificateIds(certificate_type=CertificateUse(certificate_type))


async def delete_certificate(target: Target) -> dict[str, Any]:
    """Handle the `delete_certificate` action."""
    data = target.data
    # The same request in both versions (2.0.1: M04).
    build = commands201.pick(target.hub, target.charge_point_id, call.DeleteCertificate, call201.DeleteCertificate)
    payload = build(
        certificate_hash_data={
            "hash_algorithm": HASH_ALGORITHMS[data["hash_algorithm"]],
            "issuer_name_hash": data["issuer_name_hash"],
            "issuer_key_hash": data["issuer_key_hash"],
            "serial_number": data["serial_number"],
        }
    )
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    commands.expect_status(target.charge_point_id, "DeleteCertificate", result)
    return commands.answer_dict(result)


async def extended_trigger_message(target: Target) -> dict[str, Any]:
    """Handle the `extended_trigger_message` action."""
    connector_id = target.connector_id(default=None, minimum=0)
    # 2.0.1's TriggerMessage (F06) has the security extension's triggers; a connector is its EVSE.
    build = commands201.pick(target.hub, target.charge_point_id, _extended_trigger16, requests201.trigger_request)
    payload = build(target.data["requested_message"], connector_id or None)
    result = await commands.async_call(target.hub, target.charge_point_id, payload)
    commands.expect_status(target.charge_point_id, type(payload).__name__, result)
    return commands.answer_dict(result)


def _extended_trigger16(requested_message: str, connector_id: int | None) -> Any:
    return call.ExtendedTriggerMessage(requested_message=MessageTrigger(requested_message), connector_id=connector_id)
