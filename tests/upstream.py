"""A second, bare OCPP 1.6 central system for local controller tests: the operator's backend.

It is an `ocpp.v16.ChargePoint` per connection with its own handlers, on its own port. It assigns
its own transaction ids (from 5000), answers id tags from its own list, tells its own heartbeat
interval, recognises replayed StartTransaction/StopTransaction, and records every frame it
received verbatim. Its state survives `stop()`/`start()` (a restart of the backend).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
import json
import ssl
from typing import Any

from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .conftest import free_port
from .helpers import wait_for

HEARTBEAT_INTERVAL = 123
FIRST_TRANSACTION_ID = 5000


@dataclass
class UpstreamState:
    """What the backend knows; kept across restarts."""

    next_transaction_id: int = FIRST_TRANSACTION_ID
    # transaction id -> (charge point id, connector, id tag, meter start, timestamp)
    started: dict[int, tuple[str, int, str, int, str]] = field(default_factory=dict)
    stopped: list[int] = field(default_factory=list)
    id_tags: dict[str, str] = field(default_factory=lambda: {"UNKNOWN": "Invalid"})
    passwords: dict[str, str] = field(default_factory=dict)
    # Every frame received, verbatim, by charge point id.
    frames: dict[str, list[str]] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    subprotocols: list[str | None] = field(default_factory=list)
    # How it answers BootNotification, and the actions it answers with a CALLERROR.
    boot_status: str = "Accepted"
    failing: set[str] = field(default_factory=set)
    # Close a charger's older connection when it connects again (as some backends do).
    replace_connections: bool = False
    # Answer a replayed StartTransaction with a new transaction id (as some backends do).
    renumber_replays: bool = False


class UpstreamSession(ChargePoint):
    """The backend's side of one charger connection."""

    def __init__(self, charge_point_id: str, connection: ServerConnection, state: UpstreamState) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.state = state

    async def route_message(self, raw_msg: str) -> None:
        self.state.frames.setdefault(self.id, []).append(raw_msg)
        await super().route_message(raw_msg)

    def calls(self, action: str) -> list[list[Any]]:
        """Return the CALL frames of an action this backend received from the charger."""
        frames = [json.loads(frame) for frame in self.state.frames.get(self.id, [])]
        return [frame for frame in frames if frame[0] == 2 and frame[2] == action]

    def fail_if_asked(self, action: str) -> None:
        if action in self.state.failing:
            raise InternalError(description=f"the backend fails {action}")

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> Any:
        self.fail_if_asked("BootNotification")
        return call_result.BootNotification(
            current_time="2025-01-01T00:00:00Z", interval=HEARTBEAT_INTERVAL, status=self.state.boot_status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time="2025-01-01T00:00:00Z")

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> Any:
        self.fail_if_asked("Authorize")
        return call_result.Authorize(id_tag_info={"status": self.state.id_tags.get(id_tag, "Accepted")})

    @on(Action.start_transaction)
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any) -> Any:
        self.fail_if_asked("StartTransaction")
        key = (self.id, connector_id, id_tag, meter_start, timestamp)
        replayed = [known for known, started in self.state.started.items() if started == key]
        if replayed and not self.state.renumber_replays:  # a replay: the same id again
            transaction_id = replayed[0]
        else:
            transaction_id = self.state.next_transaction_id
            self.state.next_transaction_id += 1
            self.state.started[transaction_id] = key
        status = self.state.id_tags.get(id_tag, "Accepted")
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info={"status": status})

    @on(Action.stop_transaction)
    def on_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        if transaction_id not in self.state.stopped:
            self.state.stopped.append(transaction_id)
        return call_result.StopTransaction()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        return call_result.DataTransfer(status="Accepted", data=f"upstream:{vendor_id}")


class Upstream:
    """The backend's server; `url` is what the local controller is configured with."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.state = UpstreamState()
        self.port = free_port()
        self.ssl_context = ssl_context
        self.sessions: dict[str, UpstreamSession] = {}
        self._server: Server | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/backend"

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        charge_point_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        self.state.paths.append(request.path)
        self.state.headers.append(dict(request.headers.raw_items()))
        wanted = self.state.passwords.get(charge_point_id)
        if wanted is None:
            return None
        value = request.headers.get("Authorization", "")
        try:
            decoded = base64.b64decode(value.removeprefix("Basic ")).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if decoded != f"{charge_point_id}:{wanted}":
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Authentication required\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        self.state.subprotocols.append(connection.subprotocol)
        session = UpstreamSession(charge_point_id, connection, self.state)
        previous = self.sessions.get(charge_point_id)
        self.sessions[charge_point_id] = session
        if previous is not None and self.state.replace_connections:
            await previous._connection.close(code=1000, reason="Replaced by a new connection")
        try:
            await session.start()
        except ConnectionClosed:
            pass
        finally:
            if self.sessions.get(charge_point_id) is session:
                del self.sessions[charge_point_id]

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            self.port,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._check,
            ssl=self.ssl_context,
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close(close_connections=True)
            await server.wait_closed()

    async def session(self, charge_point_id: str) -> UpstreamSession:
        """Return the backend's session of a charger, once it is connected."""
        await wait_for(lambda: charge_point_id in self.sessions, what=f"{charge_point_id} at the upstream")
        return self.sessions[charge_point_id]


@pytest.fixture(name="upstream")
async def upstream_fixture(socket_enabled: None) -> AsyncIterator[Upstream]:
    """A running upstream central system (the operator's backend) on its own port."""
    backend = Upstream()
    await backend.start()
    yield backend
    await backend.stop()
