"""A security profile per charger on one port: profile 2 and 3 chargers side by side, the 2 -> 3
migration of the security whitepaper (A05), and client certificates as real CAs issue them."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import ipaddress
from pathlib import Path
import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus, NegotiationError

from custom_components.ocpp_cs.engine.server import SecurityRequirement
from custom_components.ocpp_cs.settings import build_ssl_context

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .firmware_charger import FirmwareCharger
from .flow_helpers import configure, form_values, options_step
from .helpers import action, device_id

PASSWORD = "entry-Pa55word"


# --- a small PKI ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
        encipher_only=False, decipher_only=False,
    )


def issue(
    common_name: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    key_usage: x509.KeyUsage | None = None,
    strict_profile: bool = True,
    server: bool = False,
) -> Issued:
    """Issue a certificate; `strict_profile=False` leaves out what only RFC 5280's strict profile wants.

    That is a CA as some vendors and small private CAs make them: basicConstraints not
    critical, no subject or authority key identifier.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_key = issuer.key if issuer else key
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=strict_profile)
    )
    if strict_profile:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False
        )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    return Issued(key, builder.sign(signer_key, hashes.SHA256()))


def pem(issued: Issued) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.PEM)


def write(folder: Path, issued: Issued) -> tuple[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(pem(issued))
    (folder / "key.pem").write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(folder / "cert.pem"), str(folder / "key.pem")


@dataclass(slots=True)
class Pki:
    folder: Path
    server_ca: Issued  # signs this central system's certificate (the chargers' CentralSystemRootCertificate)
    client_ca: Issued  # signs the chargers' certificates (ssl_cafile)
    server: tuple[str, str]

    @property
    def ca_file(self) -> str:
        path = self.folder / "client-ca.pem"
        if not path.exists():
            path.write_bytes(pem(self.client_ca))
        return str(path)

    def entry(self, **options: Any) -> dict[str, Any]:
        """The settings of an entry with a server certificate and the client CA."""
        return {"ssl_certfile": self.server[0], "ssl_keyfile": self.server[1], "ssl_cafile": self.ca_file, **options}

    def tls(self, client: Issued | None = None) -> ssl.SSLContext:
        """A charger's TLS settings: our server CA installed, and a client certificate when it has one."""
        context = ssl.create_default_context(cadata=pem(self.server_ca).decode())
        if client is not None:
            cert, key = write(self.folder / f"client-{client.certificate.serial_number}", client)
            context.load_cert_chain(cert, key)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    server_ca = issue("ocpp-test-server-ca", ca=True, key_usage=_key_usage(key_cert_sign=True, crl_sign=True))
    client_ca = issue("ocpp-test-client-ca", ca=True, key_usage=_key_usage(key_cert_sign=True, crl_sign=True))
    server = write(tmp_path / "server", issue("127.0.0.1", server_ca, server=True))
    return Pki(tmp_path, server_ca, client_ca, server)


def basic(user: str, password: str = PASSWORD) -> dict[str, Any]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"additional_headers": {"Authorization": f"Basic {token}"}}


async def refused(port: int, charge_point_id: str, **kwargs: Any) -> int:
    """Connect as a charger that must be refused at the HTTP handshake; return the status."""
    with pytest.raises(InvalidStatus) as raised:
        async with charger(port, charge_point_id, scheme="wss", **kwargs):
            pass
    return raised.value.response.status_code


async def tls_refused(port: int, charge_point_id: str, context: ssl.SSLContext, **kwargs: Any) -> None:
    """Connect as a charger whose certificate the TLS handshake must refuse (before any HTTP answer)."""
    loop = asyncio.get_running_loop()
    loop.set_debug(False)  # failed handshakes are reported as loop errors in debug mode only
    try:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError, InvalidHandshake, EOFError)) as raised:
            async with charger(port, charge_point_id, scheme="wss", ssl=context, **kwargs) as cp:
                await cp.boot()
    finally:
        loop.set_debug(True)
    assert not isinstance(raised.value, InvalidStatus), "refused at the HTTP handshake, not by TLS"


async def connects(port: int, charge_point_id: str, **kwargs: Any) -> None:
    async with charger(port, charge_point_id, scheme="wss", **kwargs) as cp:
        assert (await cp.boot()).status == "Accepted"


def failure(entry: Any, charge_point_id: str) -> str:
    """Return why the charger's last login was refused."""
    server = hub_of(entry).server
    assert server is not None
    return server.auth_failures[charge_point_id].reason




async def charger_profile(
    hass: HomeAssistant, entry: Any, charge_point_id: str, profile: str, *, max_current: float = 32
) -> dict[str, Any]:
    """Set a charger's security profile in Configure -> Charger settings; return the flow's end."""
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": charge_point_id})
    assert details["step_id"] == "charger_details"
    return await configure(
        hass, details["flow_id"], {"max_current": max_current, "phases": "3", "security_profile": profile}
    )


# --- profile 2 and profile 3 chargers on one port ------------------------------------------


async def test_profile_2_and_3_chargers_share_a_port(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    # A site with the client CA whose chargers use profile 2 unless told otherwise.
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    port = port_of(entry)
    cp3_cert = issue("CP-3", pki.client_ca)
    await connects(port, "CP-2", ssl=pki.tls(), **basic("CP-2"))
    await connects(port, "CP-3", ssl=pki.tls(), **basic("CP-3"))
    assert (await charger_profile(hass, entry, "CP-3", "3"))["reason"] == "security_profile_by_hand"
    await connects(port, "CP-3", ssl=pki.tls(cp3_cert))  # its first connection with the certificate

    # Both at once, on the same port: CP-2 with its password, CP-3 with its certificate alone.
    async with (
        charger(port, "CP-2", scheme="wss", ssl=pki.tls(), **basic("CP-2")) as cp2,
        charger(port, "CP-3", scheme="wss", ssl=pki.tls(cp3_cert)) as cp3,
    ):
        assert (await cp2.boot()).status == "Accepted"
        assert (await cp3.boot()).status == "Accepted"
        server = hub_of(entry).server
        assert server is not None
        assert (server.security_profile_in_use("CP-2"), server.security_profile_in_use("CP-3")) == (2, 3)

    # Profile 3: no certificate, or one of our CA for another charger, is refused; its
    # password no longer opens the door (it connected with its certificate once).
    assert await refused(port, "CP-3", ssl=pki.tls(), **basic("CP-3")) == 403
    assert await refused(port, "CP-3", ssl=pki.tls(issue("CP-2", pki.client_ca))) == 403
    # A password sent along with the right certificate is not looked at.
    await connects(port, "CP-3", ssl=pki.tls(cp3_cert), **basic("CP-3", "not-the-password"))
    # Profile 2: the password is needed; a certificate of our CA does not stand in for it.
    assert await refused(port, "CP-2", ssl=pki.tls()) == 401
    assert await refused(port, "CP-2", ssl=pki.tls(), **basic("CP-2", "wrong-password")) == 401
    assert await refused(port, "CP-2", ssl=pki.tls(issue("CP-2", pki.client_ca))) == 401
    await connects(port, "CP-2", ssl=pki.tls(issue("CP-2", pki.client_ca)), **basic("CP-2"))
    # A certificate from another CA fails the TLS handshake, whatever the charger's profile.
    foreign_ca = issue("foreign-ca", ca=True, key_usage=_key_usage(key_cert_sign=True))
    for charge_point_id in ("CP-2", "CP-3"):
        foreign = issue(charge_point_id, foreign_ca)
        await tls_refused(port, charge_point_id, pki.tls(foreign), **basic(charge_point_id))

    assert failure(entry, "CP-3") == "certificate_mismatch"
    assert failure(entry, "CP-2") == "missing"


async def test_profile_3_without_certificate_is_refused(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    """With the client CA and no profile option, chargers need certificates (as before profiles)."""
    entry = await setup_entry(**pki.entry(password=PASSWORD))
    port = port_of(entry)
    await connects(port, "CP-C", ssl=pki.tls(issue("CP-C", pki.client_ca)))
    assert await refused(port, "CP-C", ssl=pki.tls(), **basic("CP-C")) == 403
    assert await refused(port, "CP-NEW", ssl=pki.tls(), **basic("CP-NEW")) == 403
    assert failure(entry, "CP-NEW") == "certificate_missing"

    # A charger of profile 2 where there is no password to check is refused, not let in.
    assert (await charger_profile(hass, entry, "CP-C", "2"))["reason"] == "security_profile_lowered"
    await connects(port, "CP-C", ssl=pki.tls(), **basic("CP-C"))
    form = await options_step(hass, entry, "settings")
    result = await configure(hass, form["flow_id"], {**form_values(form), "password": ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()  # the server restarts without the password
    assert await refused(port, "CP-C", ssl=pki.tls(issue("CP-C", pki.client_ca))) == 401
    assert failure(entry, "CP-C") == "no_password"
    # Nor can it be set to profile 2 now.
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CP-C"})
    result = await configure(hass, details["flow_id"], {"max_current": 32, "phases": "3", "security_profile": "2"})
    assert result["errors"] == {"security_profile": "password_required"}


async def test_chargers_told_their_profile_as_they_answer(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    port = port_of(entry)
    outcomes = {"NotSupported": "security_profile_by_hand", "RebootRequired": "security_profile_reboot_required"}
    for answer, outcome in outcomes.items():
        async with charger(port, "CP-N", scheme="wss", ssl=pki.tls(), cls=ControlCharger, **basic("CP-N")) as cp:
            assert isinstance(cp, ControlCharger)
            await cp.boot()
            cp.answers["ChangeConfiguration"] = answer
            assert (await charger_profile(hass, entry, "CP-N", "3"))["reason"] == outcome
            assert hub_of(entry).security_requirement("CP-N") == SecurityRequirement(3, 2)
            # Saved again unchanged while it still uses profile 2: it is told again.
            cp.answers["ChangeConfiguration"] = "Accepted"
            assert (await charger_profile(hass, entry, "CP-N", "3"))["reason"] == "security_profile_sent"
            assert cp.received.count(("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"})) == 2
        assert (await charger_profile(hass, entry, "CP-N", "default"))["reason"] == "security_profile_lowered"
        assert hub_of(entry).security_requirement("CP-N") == SecurityRequirement(2, None)
    # Nothing to tell: the flow just saves.
    assert (await charger_profile(hass, entry, "CP-N", "2"))["type"] is FlowResultType.CREATE_ENTRY


async def test_a_refusal_of_an_unchanged_profile_does_not_block_other_settings(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    async with charger(port_of(entry), "CP-U", scheme="wss", ssl=pki.tls(), cls=ControlCharger, **basic("CP-U")) as cp:
        assert isinstance(cp, ControlCharger)
        await cp.boot()
        cp.answers["ChangeConfiguration"] = "NotSupported"
        assert (await charger_profile(hass, entry, "CP-U", "3"))["reason"] == "security_profile_by_hand"
        # Still on profile 2, and now it refuses: an edit of its maximum current is saved all the same.
        cp.answers["ChangeConfiguration"] = "Rejected"
        result = await charger_profile(hass, entry, "CP-U", "3", max_current=16)
        assert result["type"] is FlowResultType.ABORT, result
        assert hub_of(entry).central.chargers["CP-U"].max_current == 16
        assert hub_of(entry).security_requirement("CP-U") == SecurityRequirement(3, 2)


# --- the whitepaper's migration from profile 2 to 3 (A05) ----------------------------------


async def test_migration_from_profile_2_to_3(hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki) -> None:
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    port = port_of(entry)
    hub = hub_of(entry)
    certificate = issue("CP-M", pki.client_ca)
    async with charger(port, "CP-M", scheme="wss", ssl=pki.tls(), cls=FirmwareCharger, **basic("CP-M")) as cp:
        assert isinstance(cp, FirmwareCharger)
        await cp.boot()
        await hass.async_block_till_done()
        # 1. The CA of our server certificate goes onto the charger (it has it already here:
        #    ssl=pki.tls() trusts it; a real charger needs it before it accepts profile 2 or 3).
        answer = await action(
            hass, "install_certificate", device_id=device_id(hass, "CP-M"),
            certificate_type="central_system_root_certificate", certificate=pem(pki.server_ca).decode(),
        )
        assert answer == {"status": "Accepted"}
        # 2. Raising its profile is sent as SecurityProfile. A charger that lacks a prerequisite
        #    (A05.FR.03/04) refuses, and nothing changes: it stays at profile 2.
        cp.answers["ChangeConfiguration"] = "Rejected"
        result = await charger_profile(hass, entry, "CP-M", "3")
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"security_profile": "security_profile_rejected"}
        assert hub.central.chargers["CP-M"].security_profile is None
        # Once it has its certificate, it accepts (and reconnects with profile 3, A05.FR.06/07).
        cp.answers.pop("ChangeConfiguration")
        result = await charger_profile(hass, entry, "CP-M", "3")
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "security_profile_sent"
        assert ("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) in cp.received
    state = hub.central.chargers["CP-M"]
    assert (state.security_profile, state.security_profile_fallback) == (3, 2)

    # 3. Its first attempt with the certificate fails (say, the certificate is not in place yet):
    #    it falls back to profile 2 (A05.FR.08) and is let in, not locked out.
    async with charger(port, "CP-M", scheme="wss", ssl=pki.tls(), **basic("CP-M")) as cp:
        assert (await cp.boot()).status == "Accepted"
        assert hub.server is not None and hub.server.security_profile_in_use("CP-M") == 2
    # A fallback still needs the password.
    assert await refused(port, "CP-M", ssl=pki.tls(), **basic("CP-M", "wrong-password")) == 401
    # A certificate login that fails later in the handshake (only OCPP 2.0.1 offered) is no
    # connection with the new profile: the fallback stays. (2.0.1 is served since issue 17: 2.1 here.)
    with pytest.raises((InvalidStatus, NegotiationError)):
        async with charger(port, "CP-M", scheme="wss", ssl=pki.tls(certificate), subprotocols=["ocpp2.1"]):
            pass
    assert state.security_profile_fallback == 2
    # 4. With its certificate: accepted, and from now on profile 2 is refused (A05.FR.09).
    await connects(port, "CP-M", ssl=pki.tls(certificate))
    assert state.security_profile_fallback is None
    assert await refused(port, "CP-M", ssl=pki.tls(), **basic("CP-M")) == 403

    # That survives a restart.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    restored = hub_of(entry).central.chargers["CP-M"]
    assert (restored.security_profile, restored.security_profile_fallback) == (3, None)
    assert await refused(port, "CP-M", ssl=pki.tls(), **basic("CP-M")) == 403
    await connects(port, "CP-M", ssl=pki.tls(certificate))

    # Lowering it is not sent over OCPP (A00.FR.005): the charger is set by hand.
    result = await charger_profile(hass, entry, "CP-M", "default")
    assert result["reason"] == "security_profile_lowered"
    await connects(port, "CP-M", ssl=pki.tls(), **basic("CP-M"))


async def test_raising_the_entry_profile_keeps_chargers_in(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    """Chargers that follow the entry's profile get the same fallback when it is raised."""
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    port = port_of(entry)
    await connects(port, "CP-D", ssl=pki.tls(), **basic("CP-D"))
    await connects(port, "CP-OWN", ssl=pki.tls(), **basic("CP-OWN"))
    assert (await charger_profile(hass, entry, "CP-OWN", "2"))["type"] is FlowResultType.CREATE_ENTRY

    form = await options_step(hass, entry, "settings")
    result = await configure(hass, form["flow_id"], {**form_values(form), "security_profile": "3"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    hub = hub_of(entry)
    assert hub.default_security_profile == 3
    assert hub.central.chargers["CP-D"].security_profile_fallback == 2
    await connects(port, "CP-D", ssl=pki.tls(), **basic("CP-D"))  # not locked out
    await connects(port, "CP-D", ssl=pki.tls(issue("CP-D", pki.client_ca)))
    assert await refused(port, "CP-D", ssl=pki.tls(), **basic("CP-D")) == 403
    # A charger with a profile of its own keeps it; a new one needs a certificate.
    await connects(port, "CP-OWN", ssl=pki.tls(), **basic("CP-OWN"))
    assert await refused(port, "CP-NEW", ssl=pki.tls(), **basic("CP-NEW")) == 403


async def test_raising_the_entry_profile_with_a_restart_of_the_server_keeps_chargers_in(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    """Profile 3 saved with a new password restarts the server: the fallback survives the reload."""
    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    port = port_of(entry)
    await connects(port, "CP-R", ssl=pki.tls(), **basic("CP-R"))
    new_password = "another-16-bytes-pw"
    form = await options_step(hass, entry, "settings")
    result = await configure(
        hass, form["flow_id"], {**form_values(form), "security_profile": "3", "password": new_password}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    hub = hub_of(entry)
    assert hub.default_security_profile == 3
    assert hub.central.chargers["CP-R"].security_profile_fallback == 2
    await connects(port, "CP-R", ssl=pki.tls(), **basic("CP-R", new_password))  # not locked out


async def test_profile_settings_are_checked(hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki) -> None:
    entry = await setup_entry(password=PASSWORD, ssl_certfile=pki.server[0], ssl_keyfile=pki.server[1])
    form = await options_step(hass, entry, "settings")
    values = form_values(form)
    # Without a client CA there is nothing to choose: the transport decides.
    result = await configure(hass, form["flow_id"], {**values, "security_profile": "3"})
    assert result["errors"] == {"security": "cafile_required"}
    result = await configure(
        hass, form["flow_id"], {**values, "ssl_cafile": pki.ca_file, "password": "", "security_profile": "2"}
    )
    assert result["errors"] == {"security": "password_required"}
    # Nor does a charger get the choice.
    await connects(port_of(entry), "CP-T", ssl=pki.tls(), **basic("CP-T"))
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CP-T"})
    assert "security_profile" not in {str(key) for key in details["data_schema"].schema}


# --- entries from before security profiles per charger -------------------------------------


async def test_existing_entries_keep_their_profile(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki
) -> None:
    # Password only (profile 1) and certificate + password (profile 2): Basic as before.
    for settings, scheme, charge_point_id in (
        ({"password": PASSWORD}, "ws", "CP-E1"),
        ({"password": PASSWORD, "ssl_certfile": pki.server[0], "ssl_keyfile": pki.server[1]}, "wss", "CP-E2"),
    ):
        entry = await setup_entry(**settings)
        port = port_of(entry)
        tls: dict[str, Any] = {"ssl": pki.tls()} if scheme == "wss" else {}
        async with charger(port, charge_point_id, scheme=scheme, **tls, **basic(charge_point_id)) as cp:
            assert (await cp.boot()).status == "Accepted"
        with pytest.raises(InvalidStatus) as raised:
            async with charger(port, charge_point_id, scheme=scheme, **tls):
                pass
        assert raised.value.response.status_code == 401
        assert hub_of(entry).security_requirement(charge_point_id).profile == (1 if scheme == "ws" else 2)
    # Certificate + client CA: profile 3 for every charger, as before.
    entry = await setup_entry(**pki.entry())
    assert hub_of(entry).security_requirement("CP-X").profile == 3
    # State stored before chargers had profiles restores as "the entry's".
    hub = hub_of(entry)
    hub.central.restore({"chargers": [{"charge_point_id": "CP-OLD", "accepted": True}]})
    old = hub.central.chargers["CP-OLD"]
    assert (old.security_profile, old.security_profile_fallback) == (None, None)


# --- certificates with and without keyUsage ------------------------------------------------


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> None:
    """Run a TLS handshake in memory; raise SSLError when one side refuses."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(to_server, to_client, server_side=True)
    client_side = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    done = {"server": False, "client": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if done[name]:
                continue
            try:
                side.do_handshake()
                done[name] = True
            except ssl.SSLWantReadError:
                pass
        if all(done.values()):
            # TLS 1.3: the server verifies the client certificate on the client's Finished.
            client_side.write(b"x")
            server_side.read(1)
            return
    raise AssertionError("the handshake did not finish")


async def test_certificates_with_and_without_key_usage(
    hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki, tmp_path: Path
) -> None:
    """Chargers' CAs come with and without keyUsage (and key identifiers): all verify."""
    plain_ca = issue("vendor-ca", ca=True, strict_profile=False)  # no keyUsage, non-critical basicConstraints
    no_usage_ca = issue("private-ca", ca=True)  # all RFC 5280 asks, but no keyUsage
    usage_ca = issue("cpo-ca", ca=True, key_usage=_key_usage(key_cert_sign=True))
    ca_file = tmp_path / "cas.pem"
    ca_file.write_bytes(pem(plain_ca) + pem(no_usage_ca) + pem(usage_ca))
    entry = await setup_entry(ssl_certfile=pki.server[0], ssl_keyfile=pki.server[1], ssl_cafile=str(ca_file))
    port = port_of(entry)
    leaves = {
        "CP-K1": issue("CP-K1", plain_ca),
        "CP-K2": issue("CP-K2", plain_ca, key_usage=_key_usage(digital_signature=True)),
        "CP-K3": issue("CP-K3", usage_ca),
        "CP-K4": issue("CP-K4", usage_ca, key_usage=_key_usage(digital_signature=True)),
        "CP-K5": issue("CP-K5", plain_ca, strict_profile=False),
        "CP-K8": issue("CP-K8", no_usage_ca),
        "CP-K9": issue("CP-K9", no_usage_ca, key_usage=_key_usage(digital_signature=True)),
    }
    for charge_point_id, leaf in leaves.items():
        await connects(port, charge_point_id, ssl=pki.tls(leaf))

    # What is still checked where present: a CA whose keyUsage does not allow signing
    # certificates signs nothing we accept, a charger's keyUsage must allow signatures.
    not_a_signer = issue("not-a-signer", ca=True, key_usage=_key_usage(digital_signature=True))
    ca_file.write_bytes(pem(plain_ca) + pem(not_a_signer))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    wrong_usage = x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=False, crl_sign=True, encipher_only=False, decipher_only=False,
    )
    await tls_refused(port, "CP-K6", pki.tls(issue("CP-K6", not_a_signer)))
    await tls_refused(port, "CP-K7", pki.tls(issue("CP-K7", plain_ca, key_usage=wrong_usage)))

    # The decision this rests on: Python's default (VERIFY_X509_STRICT) refuses both CAs
    # without keyUsage.
    ca_file.write_bytes(pem(plain_ca) + pem(no_usage_ca) + pem(usage_ca))
    context = await hass.async_add_executor_job(build_ssl_context, pki.server[0], pki.server[1], str(ca_file))
    assert not context.verify_flags & ssl.VERIFY_X509_STRICT
    assert context.verify_mode == ssl.CERT_OPTIONAL
    strict = await hass.async_add_executor_job(build_ssl_context, pki.server[0], pki.server[1], str(ca_file))
    strict.verify_flags |= ssl.VERIFY_X509_STRICT
    for charge_point_id, why in (("CP-K1", "not marked critical"), ("CP-K8", "key usage")):
        _handshake(context, pki.tls(leaves[charge_point_id]))
        with pytest.raises(ssl.SSLError, match=why):
            _handshake(strict, pki.tls(leaves[charge_point_id]))
    _handshake(strict, pki.tls(leaves["CP-K4"]))


async def test_charger_diagnostics_show_the_profile(hass: HomeAssistant, setup_entry: EntryFactory, pki: Pki) -> None:
    from custom_components.ocpp_cs.security import async_charger_diagnostics

    entry = await setup_entry(**pki.entry(password=PASSWORD, security_profile="2"))
    async with charger(port_of(entry), "CP-G", scheme="wss", ssl=pki.tls(), **basic("CP-G")) as cp:
        assert isinstance(cp, SimCharger)
        await cp.boot()
        data = await async_charger_diagnostics(hass, hub_of(entry), "CP-G")
    assert data["security_profile"] == {"required": 2, "fallback": None, "in_use": 2}
