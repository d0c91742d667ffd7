"""Security profile 3 (client certificates) and per-charger passwords set from Home Assistant."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
import ipaddress
from pathlib import Path
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import action, device_id
from .test_control import booted


def _write(path: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> tuple[Path, Path]:
    path.mkdir(parents=True, exist_ok=True)
    (path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path / "cert.pem", path / "key.pem"


def _certificate(
    common_name: str, issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None, *, ca: bool = False
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_key, issuer_name = issuer if issuer else (key, name)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            True,
        )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
    return key, builder.sign(signer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate and client certificates: right CN, wrong CN, other CA."""
    ca_key, ca_cert = _certificate("ocpp-test-ca", None, ca=True)
    issuer = (ca_key, ca_cert.subject)
    paths: dict[str, Path] = {}
    paths["ca"], _ = _write(tmp_path / "ca", ca_key, ca_cert)
    paths["server_cert"], paths["server_key"] = _write(tmp_path / "server", *_certificate("127.0.0.1", issuer))
    paths["good_cert"], paths["good_key"] = _write(tmp_path / "good", *_certificate("CP-M", issuer))
    paths["wrong_cn_cert"], paths["wrong_cn_key"] = _write(tmp_path / "wrong", *_certificate("CP-OTHER", issuer))
    other_key, other_ca = _certificate("other-ca", None, ca=True)
    other = (other_key, other_ca.subject)
    paths["foreign_cert"], paths["foreign_key"] = _write(tmp_path / "foreign", *_certificate("CP-M", other))
    return paths


def client(pki: dict[str, Path], name: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if name is not None:
        context.load_cert_chain(pki[f"{name}_cert"], pki[f"{name}_key"])
    return context


async def test_client_certificates(hass: HomeAssistant, setup_entry: EntryFactory, pki: dict[str, Path]) -> None:
    entry = await setup_entry(
        ssl_certfile=str(pki["server_cert"]), ssl_keyfile=str(pki["server_key"]), ssl_cafile=str(pki["ca"])
    )
    port = port_of(entry)
    async with charger(port, "CP-M", scheme="wss", ssl=client(pki, "good")) as cp:
        assert (await cp.boot()).status == "Accepted"
    # A certificate of our CA for another charger: refused before any OCPP traffic.
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port, "CP-M", scheme="wss", ssl=client(pki, "wrong_cn")):
            pass
    assert refused.value.response.status_code == 403
    # No client certificate: certificates are optional at the TLS layer (chargers of profile 2
    # may share the port), so the handshake refuses it, with 403 before any OCPP traffic.
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port, "CP-M", scheme="wss", ssl=client(pki, None)):
            pass
    assert refused.value.response.status_code == 403
    # One from another CA: the TLS handshake fails (with TLS 1.3 the client learns it when the
    # server drops the connection before answering the upgrade).
    loop = asyncio.get_running_loop()
    loop.set_debug(False)  # failed handshakes are reported as loop errors in debug mode only
    try:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError, InvalidHandshake, EOFError)) as failed:
            async with charger(port, "CP-M", scheme="wss", ssl=client(pki, "foreign")) as cp:
                await cp.boot()
        assert not isinstance(failed.value, InvalidStatus)
    finally:
        loop.set_debug(True)
    assert hub_of(entry).central.chargers["CP-M"].connected is False


def basic(user: str, password: str) -> dict[str, Any]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"additional_headers": {"Authorization": f"Basic {token}"}}


class KeyCharger(ControlCharger):
    """A charger with the 1.6 security extension's AuthorizationKey."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append({"key": "AuthorizationKey", "readonly": False, "value": "********"})


async def test_set_charger_password(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password="entry-password-1")
    port = port_of(entry)
    central = hub_of(entry).central
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", "entry-password-1")) as cp:
        assert isinstance(cp, KeyCharger)
        await booted(hass, cp)
        await asyncio.sleep(0)
        while "AuthorizationKey" not in central.chargers["CP-K"].configuration:
            await asyncio.sleep(0.02)
        dev = device_id(hass, "CP-K")
        # A refusal leaves the password as it was.
        cp.answers["ChangeConfiguration"] = "Rejected"
        with pytest.raises(HomeAssistantError):
            await action(hass, "set_charger_password", device_id=dev, password="new-password-0002")
        assert central.password_of("CP-K") is None
        cp.answers.pop("ChangeConfiguration")
        answer = await action(hass, "set_charger_password", device_id=dev, password="new-password-0002")
        assert answer == {"status": "Accepted", "pushed": True}
        assert ("ChangeConfiguration", {"key": "AuthorizationKey", "value": b"new-password-0002".hex()}) in cp.received

    # The old password works until the charger has used the new one.
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", "entry-password-1")) as cp:
        assert (await cp.boot()).status == "Accepted"
    async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", "new-password-0002")) as cp:
        assert (await cp.boot()).status == "Accepted"
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port, "CP-K", cls=KeyCharger, **basic("CP-K", "entry-password-1")):
            pass
    assert refused.value.response.status_code == 401

    # A charger without AuthorizationKey: the password is only stored (set it on the charger by hand).
    async with charger(port, "CP-P", cls=ControlCharger, **basic("CP-P", "entry-password-1")) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        with pytest.raises(ServiceValidationError):
            await action(hass, "set_charger_password", device_id=device_id(hass, "CP-P"), password="short")
        own = "own-password-0003"
        answer = await action(hass, "set_charger_password", device_id=device_id(hass, "CP-P"), password=own)
        assert answer == {"status": "Accepted", "pushed": False}
        assert not any(name == "ChangeConfiguration" for name, _ in cp.received)
    assert central.password_of("CP-P") == "own-password-0003"
