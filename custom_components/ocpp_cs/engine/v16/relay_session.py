"""
A relayed OCPP 1.6 charger's session and its upstream link (local controller mode, ../relay.py).

Frames go verbatim both ways (same message ids); Home Assistant's own requests carry
LOCAL_CALL_PREFIX ids and their answers stay here. Both directions are observed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
import contextlib
import json
import logging
from typing import Any
import uuid

from jsonschema.exceptions import ValidationError as SchemaValidationError
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError, CallResult, MessageType
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from ..configuration import parse_configuration_keys
from ..payload import snake_case_keys
from ..ports import Core
from ..settings import REGISTRATION_ACCEPTED
from ..upstream import FAILURE_CLOSED, UpstreamFailure, describe_failure
from .checks import request_error
from .session import ChargePointSession
from .translate import boot_info, transaction_start, transaction_stop

_LOGGER = logging.getLogger(__name__)

# Message ids of Home Assistant's own requests to a relayed charger.
LOCAL_CALL_PREFIX = "ha-"
# Requests in flight per direction that are remembered for observing their answers.
MAX_PENDING = 256
# Upstream frames kept while no charger is attached to a (parked) link.
MAX_QUEUED = 64
# Seconds a request of the upstream waits for Home Assistant's request in flight to be
# answered (a charger gets one request at a time, as from a single central system).
UPSTREAM_CALL_GRACE = 5.0

# Charger-initiated actions whose own handler only records what they report (observed
# through the session's handler; its answer is discarded: the upstream's goes back).
RECORDING_ACTIONS = frozenset(
    {
        "Heartbeat", "StatusNotification", "MeterValues", "DataTransfer", "FirmwareStatusNotification",
        "DiagnosticsStatusNotification", "SecurityEventNotification", "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    }
)

type LinkClosed = Callable[[UpstreamLink, UpstreamFailure], None]
type UpstreamRequestListener = Callable[[RelaySession, str, Mapping[str, Any], Mapping[str, Any]], None]


class UpstreamLink:
    """One WebSocket to the upstream on behalf of one charger connection."""

    def __init__(
        self,
        charge_point_id: str,
        connection: ClientConnection,
        *,
        on_closed: LinkClosed,
        on_request_answered: UpstreamRequestListener,
    ) -> None:
        """Wrap an open connection and start reading the upstream's frames (`on_closed`: when it ends)."""
        self._on_closed = on_closed
        # The charger answered a request of the upstream (RelayManager tells its owner).
        self.request_answered = on_request_answered
        self.charge_point_id = charge_point_id
        self.connection = connection
        self.session: RelaySession | None = None
        self.closed_by_us = False
        self.queued: list[str | bytes] = []
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"upstream {charge_point_id}")

    async def _run(self) -> None:
        failure: UpstreamFailure | None = None
        try:
            async for frame in self.connection:
                session = self.session
                if session is None:
                    self.queued.append(frame)
                    del self.queued[:-MAX_QUEUED]
                    continue
                try:
                    await session.from_upstream(frame)
                except Exception:  # a bug of ours must not end the relay
                    _LOGGER.exception("%s: error relaying an upstream frame", self.charge_point_id)
        except ConnectionClosed as err:
            failure = describe_failure(err)
        finally:
            if failure is None:
                failure = UpstreamFailure(FAILURE_CLOSED, f"code {self.connection.close_code}")
            self._on_closed(self, failure)

    async def attach(self, session: RelaySession) -> None:
        """Hand the link to the charger's session; frames the upstream sent meanwhile follow."""
        self.session = session
        queued, self.queued = self.queued, []
        for frame in queued:
            await session.from_upstream(frame)

    async def send(self, frame: str | bytes) -> None:
        """Send a frame to the upstream (dropped when the link is closing: the charger follows)."""
        try:
            await self.connection.send(frame)
        except ConnectionClosed:
            _LOGGER.debug("%s: upstream closed before a frame could be relayed", self.charge_point_id)

    @property
    def open(self) -> bool:
        """Return True while the connection is open."""
        return not self.task.done() and not self.closed_by_us

    async def close(self, reason: str = "") -> None:
        """Close the link on purpose (the charger left, or nobody claimed it)."""
        self.closed_by_us = True
        await self.connection.close(code=1000, reason=reason)
        await asyncio.gather(self.task, return_exceptions=True)


def _decode(frame: str | bytes) -> list[Any] | None:
    """Return an OCPP-J message as a list, None when the frame is not one."""
    try:
        message = json.loads(frame)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(message, list) or len(message) < 2 or not isinstance(message[1], str):
        return None
    if message[0] not in (MessageType.Call, MessageType.CallResult, MessageType.CallError):
        return None
    return message


def _valid_request(action: str, payload: Any) -> bool:
    """Return True when a charger's request is valid per the schema, as the session judges it.

    Only valid requests are observed (their answer is the upstream's either way).
    """
    if not isinstance(payload, dict):
        return False
    try:
        return request_error(action, payload) is None
    except (OSError, ValueError, OCPPError, SchemaValidationError):
        return False


class _Pending(OrderedDict[str, tuple[str, Any]]):
    """Requests in flight by message id (bounded: the oldest are forgotten first)."""

    def add(self, unique_id: str, action: str, payload: Any) -> None:
        self[unique_id] = (action, payload)
        while len(self) > MAX_PENDING:
            self.popitem(last=False)


class RelaySession(ChargePointSession):
    """A relayed charger: frames go to and come from its upstream link; both ways are observed."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        central: Core,
        *,
        link: UpstreamLink,
        response_timeout: float = 30,
        on_accepted_boot: Callable[[ChargePointSession], Awaitable[None]] | None = None,
    ) -> None:
        """Create the session of a charger whose upstream link is open."""
        super().__init__(
            charge_point_id, connection, central, response_timeout=response_timeout, on_accepted_boot=on_accepted_boot
        )
        self.upstream = link
        # The charger's requests waiting for the upstream's answer, and the reverse.
        self._charger_calls = _Pending()
        self._upstream_calls = _Pending()
        self._upstream_idle = asyncio.Event()
        self._upstream_idle.set()
        self._local_idle = asyncio.Event()
        self._local_idle.set()
        self._local_calls = 0

    def new_unique_id(self) -> str:
        """Return a message id that marks the call as Home Assistant's own (its answer stays here)."""
        return f"{LOCAL_CALL_PREFIX}{uuid.uuid4()}"

    async def start(self) -> None:
        """Relay until the charger or the upstream goes; the upstream link closes with the charger."""
        try:
            await self.upstream.attach(self)
            await super().start()
        finally:
            if not self.upstream.closed_by_us:
                await self.upstream.close("The charge point disconnected")

    # --- Home Assistant's own requests ----------------------------------------------------

    async def call(
        self, payload: Any, suppress: bool = True, unique_id: str | None = None, skip_schema_validation: bool = False
    ) -> Any:
        """Send Home Assistant's request once no request of the upstream waits for the charger."""
        if not self._upstream_idle.is_set():
            idle = asyncio.ensure_future(self._upstream_idle.wait())
            try:
                await self.wait_unless_ended(idle, self.response_timeout)
            finally:
                idle.cancel()
            if self._ended.is_set():
                raise ConnectionClosed(None, None)  # the charger left: no need to wait out the timeout
            if not self._upstream_idle.is_set():
                self._upstream_calls.clear()  # the charger never answered them
                self._upstream_idle.set()
        self._local_calls += 1
        self._local_idle.clear()
        try:
            return await super().call(
                payload, suppress=suppress, unique_id=unique_id, skip_schema_validation=skip_schema_validation
            )
        finally:
            self._local_calls -= 1
            if not self._local_calls:
                self._local_idle.set()

    # --- frames from the charger ----------------------------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Relay a charger's frame upstream, unless it answers one of Home Assistant's requests."""
        self.frames.received(raw_msg)
        message = _decode(raw_msg)
        if message is None:
            await self.upstream.send(raw_msg)  # the upstream answers it as it sees fit
            return
        kind, unique_id = message[0], message[1]
        if kind == MessageType.Call:
            if len(message) >= 4 and isinstance(message[2], str):
                self._charger_calls.add(unique_id, message[2], message[3])
                self.central.message_received(self.id, heartbeat=message[2] == "Heartbeat")
            await self.upstream.send(raw_msg)
            return
        pending = self._upstream_calls.pop(unique_id, None)
        if pending is None and unique_id.startswith(LOCAL_CALL_PREFIX):
            # An answer after the timeout, or twice, is dropped: nothing waits for it.
            if kind == MessageType.CallResult and len(message) >= 3:
                self.deliver_answer(unique_id, CallResult(unique_id, message[2]))
            elif len(message) >= 4:
                details = message[4] if len(message) > 4 else {}
                self.deliver_answer(unique_id, CallError(unique_id, message[2], message[3], details))
            return
        await self.upstream.send(raw_msg)
        if not self._upstream_calls:
            self._upstream_idle.set()
        if pending is not None and kind == MessageType.CallResult and len(message) >= 3:
            self._observe_upstream_request(pending[0], pending[1], message[2])

    # --- frames from the upstream ---------------------------------------------------------

    async def from_upstream(self, raw_msg: str | bytes) -> None:
        """Relay an upstream frame to the charger; observe the answers to the charger's requests."""
        message = _decode(raw_msg)
        if message is None:
            await self._send_raw(raw_msg)
            return
        kind, unique_id = message[0], message[1]
        if kind == MessageType.Call:
            if not self._local_idle.is_set():
                # One request at a time for the charger: let Home Assistant's be answered first.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._local_idle.wait(), UPSTREAM_CALL_GRACE)
            if len(message) >= 4 and isinstance(message[2], str):
                self._upstream_calls.add(unique_id, message[2], message[3])
                self._upstream_idle.clear()
            await self._send_raw(raw_msg)
            return
        pending = self._charger_calls.pop(unique_id, None)
        answer = message[2] if kind == MessageType.CallResult and len(message) >= 3 else None
        if pending is None:
            await self._send_raw(raw_msg)
            return
        action, payload = pending
        if action == "StartTransaction" and isinstance(answer, dict):
            # Recorded (on disk) before the charger has the id, as for a direct charger.
            await self._observe_charger_request(action, payload, answer)
            await self._send_raw(raw_msg)
            return
        await self._send_raw(raw_msg)
        await self._observe_charger_request(action, payload, answer)

    async def _send_raw(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            await self._send(frame)
            return
        self.frames.sent(frame.decode("utf-8", errors="replace"))
        try:
            await self.connection.send(frame)
        except ConnectionClosed:
            _LOGGER.debug("%s: connection closed before a frame could be relayed", self.id)

    # --- observing ------------------------------------------------------------------------

    async def _observe_charger_request(self, action: str, payload: Any, answer: dict[str, Any] | None) -> None:
        """Record what a charger reported, with the upstream's answer (None: a CALLERROR)."""
        if not _valid_request(action, payload):
            return
        connector_id = payload.get("connectorId")
        if isinstance(connector_id, int) and not 0 <= connector_id <= self.central.max_connector_id(self.id):
            return  # as a direct session refuses it: no device per absurd connector id
        try:
            await self._observe(action, snake_case_keys(payload), answer)
        except Exception:  # observing must never break the relay
            _LOGGER.exception("%s: error observing %s", self.id, action)

    async def _observe(self, action: str, request: dict[str, Any], answer: dict[str, Any] | None) -> None:
        central = self.central
        if action == "BootNotification":
            if answer is None or not isinstance(answer.get("status"), str):
                return
            self.booted = True
            self.status_seen = False
            status = central.boot_notification(self.id, boot_info(request), upstream_status=answer["status"])[0]
            if status == REGISTRATION_ACCEPTED and self._on_accepted_boot is not None:
                self.run_in_background(self._on_accepted_boot(self))
        elif action == "Authorize":
            info = (answer or {}).get("idTagInfo")
            if isinstance(info, dict) and isinstance(info.get("status"), str):
                central.authorize_observed(self.id, request["id_tag"], info["status"])
        elif action == "StartTransaction":
            info = (answer or {}).get("idTagInfo")
            transaction_id = (answer or {}).get("transactionId")
            if isinstance(transaction_id, int) and isinstance(info, dict):
                await central.start_transaction_observed(
                    self.id, transaction_start(request), transaction_id, str(info.get("status"))
                )
        elif action == "StopTransaction":
            await central.stop_transaction(self.id, transaction_stop(request), observed=True)
        elif action in RECORDING_ACTIONS:  # the session has a handler for each
            await self.route_map[action]["_on_action"](**request)

    def _observe_upstream_request(self, action: str, payload: Any, answer: Any) -> None:
        """Record what the upstream changed on the charger (configuration) and tell the manager."""
        if not isinstance(payload, dict) or not isinstance(answer, dict):
            return
        try:
            if action == "GetConfiguration":
                keys = answer.get("configurationKey")
                if isinstance(keys, list):
                    self.central.update_configuration(self.id, parse_configuration_keys(keys))
            elif action == "ChangeConfiguration" and answer.get("status") in ("Accepted", "RebootRequired"):
                key, value = payload.get("key"), payload.get("value")
                charger = self.central.chargers.get(self.id)
                if isinstance(key, str) and isinstance(value, str) and charger is not None:
                    known = charger.configuration.get(key)
                    readonly = bool(known and known.readonly)
                    self.central.update_configuration(
                        self.id, parse_configuration_keys([{"key": key, "value": value, "readonly": readonly}])
                    )
            self.upstream.request_answered(self, action, payload, answer)
        except Exception:  # observing must never break the relay
            _LOGGER.exception("%s: error observing the upstream's %s", self.id, action)
