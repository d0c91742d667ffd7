"""The user step: defaults, every field, form errors, and the entry it creates serving chargers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import errno
import functools
import ipaddress
import json
import os
import socket
import ssl
from typing import Any
from unittest.mock import patch

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from custom_components.ocpp_cs import flow_forms
from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.settings import entry_config

from .charger import charger
from .conftest import EntryFactory, free_port, hub_of
from .flow_helpers import assert_translated, defaults, strings

pytestmark = pytest.mark.usefixtures("unload_entries")


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def listening_socket() -> Iterator[int]:
    """Another program listening on 127.0.0.1:<port>."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


async def start(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert_translated(result, strings()["config"])
    return dict(result)


async def submit(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert_translated(result, strings()["config"])
    return dict(result)


def minimal(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "new_chargers": "accept",
        "unknown_id_tags": "accept",
        "remote_id_tag": "HomeAssistant",
        "heartbeat_interval": 300,
        **extra,
    }


async def test_user_step_shows_the_contract_defaults(hass: HomeAssistant) -> None:
    result = await start(hass)
    assert defaults(result) == {
        "host": "0.0.0.0",
        "port": 9000,
        "new_chargers": "accept",
        "unknown_id_tags": "accept",
        "remote_id_tag": "HomeAssistant",
        "heartbeat_interval": 300,
    }
    optional = {str(key) for key in result["data_schema"].schema} - set(defaults(result))
    # The user step asks for the settings of CONTRACT.md (and the client CA of security profile 3);
    # the advanced ones are in the options flow.
    assert optional == {"password", "ssl_certfile", "ssl_keyfile", "ssl_cafile", "upstream_url"}
    assert result["errors"] == {}


async def test_user_step_every_field(hass: HomeAssistant) -> None:
    port = free_port()
    result = await start(hass)
    result = await submit(
        hass,
        result["flow_id"],
        {
            "host": "127.0.0.1",
            "port": port,
            "new_chargers": "accept",
            "unknown_id_tags": "reject",
            "remote_id_tag": "HA-REMOTE",
            "heartbeat_interval": 120,
            "password": "s3cret",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == str(port)
    assert entry.title == f"OCPP Central System :{port}"
    assert entry.data == {
        "host": "127.0.0.1",
        "port": port,
        "new_chargers": "accept",
        "unknown_id_tags": "reject",
        "remote_id_tag": "HA-REMOTE",
        "heartbeat_interval": 120,
        "password": "s3cret",
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    hub = hub_of(entry)
    assert hub.central.settings.remote_id_tag == "HA-REMOTE"

    # Security profile 1: the charge point id is the user name.
    with pytest.raises(InvalidStatus) as refused:
        async with charger(port, "CP-1"):
            pass
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        async with charger(port, "CP-1", additional_headers=basic_auth("CP-1", "wrong")):
            pass

    async with charger(port, "CP-1", additional_headers=basic_auth("CP-1", "s3cret")) as cp:
        boot = await cp.boot()
        assert boot.status == "Accepted"
        assert boot.interval == 120
        auth = await cp.authorize("UNKNOWN")
        assert auth.id_tag_info["status"] == "Invalid"
    assert "CP-1" in hub.central.chargers


@pytest.mark.parametrize(("policy", "answer"), [("accept", "Accepted"), ("pending", "Pending"), ("reject", "Rejected")])
async def test_user_step_new_chargers_policy(hass: HomeAssistant, policy: str, answer: str) -> None:
    port = free_port()
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(port, new_chargers=policy))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    async with charger(port, "CP-NEW") as cp:
        boot = await cp.boot()
    assert boot.status == answer


async def test_user_step_upstream_url(hass: HomeAssistant) -> None:
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(free_port(), upstream_url="ftp://example.org"))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"upstream_url": "invalid_upstream_url"}

    upstream = f"ws://127.0.0.1:{free_port()}/ocpp"
    result = await submit(hass, result["flow_id"], minimal(free_port(), upstream_url=upstream))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["upstream_url"] == upstream
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


async def test_user_step_empty_optional_fields_are_not_stored(hass: HomeAssistant) -> None:
    result = await start(hass)
    result = await submit(
        hass, result["flow_id"], minimal(free_port(), password="", ssl_certfile="", ssl_keyfile="", upstream_url="")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    for key in ("password", "ssl_certfile", "ssl_keyfile", "upstream_url"):
        assert key not in result["data"]


async def test_user_step_file_errors(hass: HomeAssistant, tmp_path: Any) -> None:
    result = await start(hass)
    missing = str(tmp_path / "missing.pem")
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_certfile=missing, ssl_keyfile=missing))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"ssl_certfile": "file_not_found", "ssl_keyfile": "file_not_found"}

    key = tmp_path / "key.pem"
    await hass.async_add_executor_job(key.write_text, "x")
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_keyfile=str(key)))
    assert result["errors"] == {"ssl_certfile": "certfile_required"}


async def test_user_step_remote_id_tag_length(hass: HomeAssistant) -> None:
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(free_port(), remote_id_tag="X" * 21))
    assert result["errors"] == {"remote_id_tag": "id_tag_length"}
    result = await submit(hass, result["flow_id"], minimal(free_port(), remote_id_tag=""))
    assert result["errors"] == {"remote_id_tag": "id_tag_length"}


async def test_user_step_rejects_out_of_range_numbers(hass: HomeAssistant) -> None:
    result = await start(hass)
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(result["flow_id"], minimal(free_port(), heartbeat_interval=1))
    with pytest.raises(InvalidData):
        await hass.config_entries.flow.async_configure(result["flow_id"], minimal(70000))


def _write_certificate(directory: Any) -> tuple[str, str]:
    """Write a self-signed certificate for 127.0.0.1 and its key (blocking)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(certfile), str(keyfile)


async def test_user_step_invalid_certificate(hass: HomeAssistant, tmp_path: Any) -> None:
    certfile, keyfile = await hass.async_add_executor_job(_write_certificate, tmp_path)
    garbage = tmp_path / "garbage.pem"
    await hass.async_add_executor_job(garbage.write_text, "not a certificate")
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_certfile=str(garbage)))
    assert result["errors"] == {"ssl_certfile": "invalid_certificate"}
    # A certificate without its key (the key is in another file).
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_certfile=certfile))
    assert result["errors"] == {"ssl_certfile": "invalid_certificate"}
    # A key that does not belong to the certificate.
    other = tmp_path / "other"
    await hass.async_add_executor_job(other.mkdir)
    _, other_key = await hass.async_add_executor_job(_write_certificate, other)
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_certfile=certfile, ssl_keyfile=other_key))
    assert result["errors"] == {"ssl_certfile": "invalid_certificate"}
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_certfile=certfile, ssl_keyfile=keyfile))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_user_step_client_ca_errors(hass: HomeAssistant, tmp_path: Any) -> None:
    """Security profile 3: the client CA file must exist, come with a certificate and be a CA."""
    certfile, keyfile = await hass.async_add_executor_job(_write_certificate, tmp_path)
    garbage = tmp_path / "garbage.pem"
    await hass.async_add_executor_job(garbage.write_text, "not a certificate")
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_cafile=str(tmp_path / "missing.pem")))
    assert result["errors"] == {"ssl_cafile": "file_not_found"}
    result = await submit(hass, result["flow_id"], minimal(free_port(), ssl_cafile=certfile))
    assert result["errors"] == {"ssl_certfile": "certfile_required"}
    result = await submit(
        hass,
        result["flow_id"],
        minimal(free_port(), ssl_certfile=certfile, ssl_keyfile=keyfile, ssl_cafile=str(garbage)),
    )
    assert result["errors"] == {"ssl_cafile": "invalid_ca_file"}


async def test_user_step_ssl_serves_wss(hass: HomeAssistant, tmp_path: Any) -> None:
    certfile, keyfile = await hass.async_add_executor_job(_write_certificate, tmp_path)
    port = free_port()
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(port, ssl_certfile=certfile, ssl_keyfile=keyfile))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["ssl_certfile"] == certfile
    assert result["data"]["ssl_keyfile"] == keyfile
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED

    client_context = await hass.async_add_executor_job(
        functools.partial(ssl.create_default_context, cafile=certfile)
    )
    async with connect(
        f"wss://127.0.0.1:{port}/ocpp/CP-TLS", subprotocols=["ocpp1.6"], ssl=client_context, open_timeout=5  # type: ignore[list-item]
    ) as ws:
        await ws.send(json.dumps([2, "1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}]))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert answer[0] == 3
    assert answer[2]["status"] == "Accepted"


async def test_user_step_port_configured(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    existing = await setup_entry()
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(existing.data["port"]))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"port": "port_configured"}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_user_step_port_configured_through_options(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """An entry whose port was changed in its options owns the new port, not the old one."""
    existing = await setup_entry()
    new_port = free_port()
    hass.config_entries.async_update_entry(existing, options={**existing.data, "port": new_port})
    await hass.async_block_till_done()
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(new_port))
    assert result["errors"] == {"port": "port_configured"}


async def test_user_step_port_in_use(hass: HomeAssistant, listening_socket: int) -> None:
    result = await start(hass)
    result = await submit(hass, result["flow_id"], minimal(listening_socket))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"port": "port_in_use"}
    # The form keeps what the user typed.
    shown = {
        str(key): (key.description or {}).get("suggested_value") for key in result["data_schema"].schema
    }
    assert shown["port"] == listening_socket
    assert hass.config_entries.async_entries(DOMAIN) == []

    # Once the other program is gone, the same flow succeeds.
    port = free_port()
    result = await submit(hass, result["flow_id"], minimal(port))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    async with charger(port, "CP-1") as cp:
        assert (await cp.boot()).status == "Accepted"


async def test_two_entries_side_by_side(hass: HomeAssistant) -> None:
    ports = [free_port(), free_port()]
    while ports[0] == ports[1]:
        ports[1] = free_port()
    entries = []
    for port in ports:
        result = await start(hass)
        result = await submit(hass, result["flow_id"], minimal(port))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entries.append(result["result"])
    await hass.async_block_till_done()
    assert [entry.state for entry in entries] == [ConfigEntryState.LOADED] * 2

    async with charger(ports[0], "CP-A") as cp_a, charger(ports[1], "CP-B") as cp_b:
        assert (await cp_a.boot()).status == "Accepted"
        assert (await cp_b.boot()).status == "Accepted"
        await hass.async_block_till_done()
        first, second = hub_of(entries[0]), hub_of(entries[1])
        assert set(first.central.sessions) == {"CP-A"}
        assert set(second.central.sessions) == {"CP-B"}
        assert set(first.central.chargers) == {"CP-A"}
        assert set(second.central.chargers) == {"CP-B"}
        # A charge point id belongs to one entry: the other one refuses it.
        with pytest.raises(InvalidStatus) as refused:
            async with charger(ports[1], "CP-A"):
                pass
        assert refused.value.response.status_code == 403

    # Unloading one leaves the other serving.
    assert await hass.config_entries.async_unload(entries[0].entry_id)
    await hass.async_block_till_done()
    async with charger(ports[1], "CP-B") as cp_b:
        assert (await cp_b.boot()).status == "Accepted"
    assert entry_config(entries[1])["port"] == ports[1]


@pytest.mark.parametrize(
    ("error", "expected"),
    [(errno.EADDRINUSE, "port_in_use"), (errno.EACCES, "port_not_allowed"), (errno.EADDRNOTAVAIL, "cannot_bind")],
)
def test_bind_problem(error: int, expected: str, socket_enabled: None) -> None:
    class Refusing(socket.socket):
        def bind(self, address: Any) -> None:
            raise OSError(error, os.strerror(error))

    with patch.object(flow_forms.socket, "socket", Refusing):
        assert flow_forms.bind_problem("127.0.0.1", 9000) == expected


def test_bind_problem_free_port(socket_enabled: None) -> None:
    assert flow_forms.bind_problem("127.0.0.1", free_port()) is None


async def test_user_step_host_not_on_this_machine(hass: HomeAssistant) -> None:
    result = await start(hass)
    with patch.object(flow_forms, "bind_problem", return_value="cannot_bind") as bind:
        result = await submit(hass, result["flow_id"], minimal(free_port(), host="192.0.2.7"))
    assert bind.call_args.args[0] == "192.0.2.7"
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"host": "cannot_bind"}
