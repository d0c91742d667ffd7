"""The WebSocket server: who may connect, how, and what a charger's bad frames get."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.messages import CallError, CallResult
from ocpp.v16 import call
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus, NegotiationError

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import call_frame, has_entity, state, wait_for


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def refused_status(url: str, **kwargs: Any) -> int:
    """Try a handshake that must fail; return the HTTP status the server answered."""
    kwargs.setdefault("subprotocols", ["ocpp1.6"])
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=5, **kwargs):
            pass
    return refused.value.response.status_code


async def heartbeat_works(cp: SimCharger) -> None:
    answer = await cp.send(call.Heartbeat())
    assert answer.current_time


# --- the URL and the handshake ------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "last_segment", "charge_point_id"),
    [
        ("/a/b/", "CP%201", "CP 1"),
        ("/", "CP-ROOT", "CP-ROOT"),
        ("/ocpp/v16/", "CP-SLASH/", "CP-SLASH"),
        ("/steve/websocket/CentralSystemService/", "Wallbox%2FGarage", "Wallbox/Garage"),
    ],
)
async def test_charge_point_id_is_the_last_path_segment(
    hass: HomeAssistant, setup_entry: EntryFactory, prefix: str, last_segment: str, charge_point_id: str
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), last_segment, path_prefix=prefix) as cp:
        assert cp.connection.subprotocol == "ocpp1.6"
        assert (await cp.boot()).status == "Accepted"
        await hass.async_block_till_done()
        assert charge_point_id in hub_of(entry).central.sessions
        assert state(hass, f"{charge_point_id}_0_connected", "binary_sensor") == "on"


async def test_url_without_charge_point_id_is_refused(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    assert await refused_status(f"ws://127.0.0.1:{port}/") == 404
    assert await refused_status(f"ws://127.0.0.1:{port}//%20/") == 404
    assert hub_of(entry).central.chargers == {}


async def test_subprotocol_negotiation(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    # Offered among others: chosen. (2.0.1, which is served too since issue 17, is preferred
    # when offered with 1.6: tests/test_v201_station.py; here an unsupported one is the other.)
    async with charger(port, "CP-MULTI", subprotocols=["ocpp2.1", "ocpp1.6"]) as cp:
        assert cp.connection.subprotocol == "ocpp1.6"
        await heartbeat_works(cp)
    # None offered (no Sec-WebSocket-Protocol header at all): served as OCPP 1.6 all the same.
    for _ in range(2):
        async with connect(f"ws://127.0.0.1:{port}/ocpp/CP-NONE", open_timeout=5) as ws:
            assert ws.subprotocol is None
            cp = SimCharger("CP-NONE", ws)
            receiver = asyncio.get_running_loop().create_task(cp.start())
            assert (await cp.boot()).status == "Accepted"
            await heartbeat_works(cp)
            await ws.close()
            with contextlib.suppress(ConnectionClosed):
                await receiver
    # Only other versions: refused.
    with pytest.raises((InvalidStatus, NegotiationError)):
        async with charger(port, "CP-21", subprotocols=["ocpp2.1"]):
            pass
    assert "CP-21" not in hub_of(entry).central.chargers


async def test_new_connection_replaces_the_old_one(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-TWICE") as old:
        await old.boot()
        async with charger(port, "CP-TWICE") as new:
            await asyncio.wait_for(old.connection.wait_closed(), 5)
            assert old.connection.close_code == 1000
            await heartbeat_works(new)
            await new.status(1, "Available")
            await hass.async_block_till_done()
            # The session in charge is the new connection's.
            session = hub_of(entry).central.sessions["CP-TWICE"]
            assert session.connection.remote_address[1] == new.connection.local_address[1]
            assert state(hass, "CP-TWICE_0_connected", "binary_sensor") == "on"
            assert state(hass, "CP-TWICE_1_status") == "available"
        await wait_for(
            lambda: state(hass, "CP-TWICE_0_connected", "binary_sensor") == "off", what="disconnect"
        )
    assert "CP-TWICE" not in hub_of(entry).central.sessions


async def test_unload_closes_connections_and_frees_the_port(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-BYE") as cp:
        await cp.boot()
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        await asyncio.wait_for(cp.connection.wait_closed(), 5)
        assert cp.connection.close_code == 1001

    async def echo(connection: ServerConnection) -> None:
        await connection.send(await connection.recv())

    # Nothing listens there any more; another server can take the port.
    async with serve(echo, "127.0.0.1", port), connect(f"ws://127.0.0.1:{port}/x", open_timeout=5) as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"


async def test_charge_point_belongs_to_one_entry(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    first = await setup_entry()
    second = await setup_entry()
    async with charger(port_of(first), "CP-OWNED") as cp:
        await cp.boot()
    assert await refused_status(f"ws://127.0.0.1:{port_of(second)}/ocpp/CP-OWNED") == 403
    assert "CP-OWNED" not in hub_of(second).central.chargers
    # The second entry serves its own chargers, and the first keeps serving this one.
    async with charger(port_of(second), "CP-OTHER") as other:
        assert (await other.boot()).status == "Accepted"
    async with charger(port_of(first), "CP-OWNED") as cp:
        await heartbeat_works(cp)


async def test_http_basic_authentication(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password="s3cret-Pa55")
    port = port_of(entry)
    url = f"ws://127.0.0.1:{port}/ocpp/CP-AUTH"
    assert await refused_status(url) == 401
    assert await refused_status(url, additional_headers=basic("CP-AUTH", "wrong")) == 401
    assert await refused_status(url, additional_headers=basic("CP-OTHER", "s3cret-Pa55")) == 401
    assert await refused_status(url, additional_headers={"Authorization": "Bearer s3cret-Pa55"}) == 401
    assert await refused_status(url, additional_headers={"Authorization": "Basic !!notbase64"}) == 401
    no_colon = base64.b64encode(b"CP-AUTH").decode()
    assert await refused_status(url, additional_headers={"Authorization": f"Basic {no_colon}"}) == 401
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=5, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")
    assert "CP-AUTH" not in hub_of(entry).central.chargers

    async with charger(port, "CP-AUTH", additional_headers=basic("CP-AUTH", "s3cret-Pa55")) as cp:
        assert (await cp.boot()).status == "Accepted"
        await heartbeat_works(cp)


async def test_disconnect_turns_connected_off(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-OFF") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        assert state(hass, "CP-OFF_0_connected", "binary_sensor") == "on"
    await wait_for(lambda: state(hass, "CP-OFF_0_connected", "binary_sensor") == "off", what="disconnect")
    assert state(hass, "CP-OFF_1_status") == "unavailable"
    assert has_entity(hass, "CP-OFF_1_status")


# --- bad frames --------------------------------------------------------------------------


async def expect_error(cp: SimCharger, frame: str, code: str, unique_id: str | None = None) -> None:
    answer = await cp.raw(frame)
    assert isinstance(answer, CallError), f"{frame[:80]} got {answer}"
    assert answer.error_code == code, f"{frame[:80]}: {answer.error_code} {answer.error_description}"
    if unique_id is not None:
        assert answer.unique_id == unique_id
    # The session goes on after every error.
    await heartbeat_works(cp)


async def test_bad_frames_get_callerrors_and_the_session_goes_on(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-BAD") as bad, charger(port, "CP-GOOD") as good:
        await bad.boot()
        await good.boot()

        await expect_error(bad, "{this is not json", "FormationViolation", "-1")
        await expect_error(bad, "[" * 100_000 + "]" * 100_000, "FormationViolation", "-1")
        await expect_error(bad, '"just a string"', "ProtocolError", "-1")
        await expect_error(bad, json.dumps([7, "t-1", "Heartbeat", {}]), "ProtocolError", "t-1")
        await expect_error(bad, json.dumps([2, "t-2", "Heartbeat"]), "ProtocolError", "t-2")
        await expect_error(bad, json.dumps([2, 17, "Heartbeat", {}]), "ProtocolError", "-1")
        await expect_error(bad, call_frame("Heartbeat", [], "t-3"), "FormationViolation", "t-3")
        await expect_error(bad, call_frame("FooBar", {}, "t-4"), "NotImplemented", "t-4")
        # A known action that only a central system sends.
        await expect_error(bad, call_frame("Reset", {"type": "Soft"}), "NotSupported")
        await expect_error(
            bad,
            call_frame("StatusNotification", {"connectorId": "abc", "errorCode": "NoError", "status": "Available"}),
            "TypeConstraintViolation",
        )
        await expect_error(
            bad, call_frame("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}), "ProtocolError"
        )
        await expect_error(
            bad,
            call_frame("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}),
            "PropertyConstraintViolation",
        )
        await expect_error(
            bad,
            call_frame("StatusNotification", {"connectorId": -1, "errorCode": "NoError", "status": "Available"}),
            "PropertyConstraintViolation",
        )
        await expect_error(bad, call_frame("Authorize", {"idTag": "X" * 21}), "TypeConstraintViolation")
        await expect_error(bad, call_frame("Heartbeat", {"extra": 1}), "FormationViolation")

        await expect_error(bad, json.dumps([3, "t-6"]), "ProtocolError", "t-6")
        await expect_error(bad, json.dumps([4, "t-7", "GenericError"]), "ProtocolError", "t-7")
        # Answers to calls nobody made are dropped without a reply.
        await bad.connection.send(json.dumps([3, "nobody-asked", {}]))
        await bad.connection.send(json.dumps([4, "nobody-asked", "GenericError", "", {}]))
        await heartbeat_works(bad)

        # The other charger was never disturbed.
        await good.status(1, "Available")
        await heartbeat_works(good)
        await hass.async_block_till_done()
        assert state(hass, "CP-GOOD_1_status") == "available"
        assert state(hass, "CP-BAD_0_connected", "binary_sensor") == "on"
        # Nothing of the refused messages was recorded.
        assert set(hub_of(entry).central.chargers["CP-BAD"].connectors) == {0}


async def test_oversized_frame_closes_only_that_connection(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-BIG") as big, charger(port, "CP-SMALL") as small:
        await big.boot()
        await small.boot()
        await big.connection.send(call_frame("DataTransfer", {"vendorId": "x", "data": "y" * (1024 * 1024)}))
        await asyncio.wait_for(big.connection.wait_closed(), 5)
        assert big.connection.close_code == 1009
        await wait_for(lambda: state(hass, "CP-BIG_0_connected", "binary_sensor") == "off", what="CP-BIG off")

        answer = await small.raw(call_frame("Heartbeat", {}))
        assert isinstance(answer, CallResult)
        await hass.async_block_till_done()
        assert state(hass, "CP-SMALL_0_connected", "binary_sensor") == "on"

    # Just under the limit is fine (long configuration values and transaction data exist).
    async with charger(port, "CP-BIG") as big:
        answer = await big.raw(call_frame("DataTransfer", {"vendorId": "x", "data": "y" * (1000 * 1000)}))
        assert isinstance(answer, CallResult)
        assert answer.payload == {"status": "UnknownVendorId"}
