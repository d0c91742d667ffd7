"""
Local controller mode: relay a charger to an upstream central system, and watch both ways.

For a relayed charger this central system is a transparent proxy (user guide section 8):
every frame the charger sends goes to the upstream verbatim (same message id) and the
upstream's answer goes back verbatim; every request of the upstream reaches the charger and
its answer goes back. The upstream is authoritative (registration, authorization, transaction
ids, heartbeat interval). Both directions are observed, so the central system keeps its
state, entities, events and history as for a charger connected directly.

Home Assistant's own requests (`call()`) still reach the charger, with message ids that
carry LOCAL_CALL_PREFIX: their answers are consumed here and never reach the upstream.

One upstream WebSocket per charger connection, dialled during the charger's handshake with
the same path (upstream URL + the charger's last path segment) and subprotocols. While the
upstream cannot be reached the charger's handshake is refused with HTTP 503 (and
Retry-After), so that it queues its messages as it would with the backend itself; losing
the upstream closes the charger's connection for the same reason. The upstream is then
redialled with capped exponential backoff; the link that comes back waits ("parked") for
the charger's next connection.
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass
import errno
from http import HTTPStatus
import json
import logging
import math
import socket
import ssl
import time
from typing import Any
from urllib.parse import quote, urlsplit
import uuid

from jsonschema.exceptions import ValidationError as SchemaValidationError, best_match
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError, CallResult, MessageType
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    NegotiationError,
)
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .central import REGISTRATION_ACCEPTED, CentralSystem
from .configuration import parse_configuration_keys
from .payload import passes_schema, snake_case_keys
from .schemas import validator
from .server import charge_point_id_from_path
from .session import ChargePointSession, tolerated

_LOGGER = logging.getLogger(__name__)

# Message ids of Home Assistant's own requests to a relayed charger.
LOCAL_CALL_PREFIX = "ha-"
# Large enough for GetConfiguration answers with long values and full transactionData.
MAX_MESSAGE_SIZE = 1024 * 1024
# Requests in flight per direction that are remembered for observing their answers.
MAX_PENDING = 256
# Upstream frames kept while no charger is attached to a (parked) link.
MAX_QUEUED = 64
# A link dialled during a handshake that never became a session is closed after this.
HANDSHAKE_CLAIM_SECONDS = 30.0
# Seconds a request of the upstream waits for Home Assistant's request in flight to be
# answered (a charger gets one request at a time, as from a single central system).
UPSTREAM_CALL_GRACE = 5.0
# WebSocket close code for the charger when its upstream is lost: 1013 "Try Again Later".
CLOSE_TRY_AGAIN_LATER = 1013
# During an outage a charger's own connection attempt dials the upstream at once (it is back
# as soon as the charger tries again), unless the last attempt is more recent than this.
HANDSHAKE_REDIAL_INTERVAL = 1.0

# Charger-initiated actions whose own handler only records what they report (observed
# through the session's handler; its answer is discarded: the upstream's goes back).
RECORDING_ACTIONS = frozenset(
    {
        "Heartbeat", "StatusNotification", "MeterValues", "DataTransfer", "FirmwareStatusNotification",
        "DiagnosticsStatusNotification", "SecurityEventNotification", "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    }
)

# Failure kinds of an upstream connection attempt (form errors are `upstream_<kind>`).
FAILURE_UNAUTHORIZED = "unauthorized"
FAILURE_FORBIDDEN = "forbidden"
FAILURE_NOT_FOUND = "not_found"
FAILURE_HTTP_STATUS = "http_status"
FAILURE_TLS_VERIFY = "tls_verify"
FAILURE_TLS = "tls"
FAILURE_REFUSED = "refused"
FAILURE_TIMEOUT = "timeout"
FAILURE_DNS = "dns"
FAILURE_UNREACHABLE = "unreachable"
FAILURE_HANDSHAKE = "handshake"
FAILURE_INVALID_URL = "invalid_url"
FAILURE_CLOSED = "closed"
FAILURE_KINDS = (
    FAILURE_UNAUTHORIZED, FAILURE_FORBIDDEN, FAILURE_NOT_FOUND, FAILURE_HTTP_STATUS, FAILURE_TLS_VERIFY,
    FAILURE_TLS, FAILURE_REFUSED, FAILURE_TIMEOUT, FAILURE_DNS, FAILURE_UNREACHABLE, FAILURE_HANDSHAKE,
    FAILURE_INVALID_URL, FAILURE_CLOSED,
)


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """Why an upstream connection failed or ended: a kind (FAILURE_*) and its details."""

    kind: str
    detail: str
    status: int | None = None

    def __str__(self) -> str:
        """Return a line for logs and repair issues."""
        if self.status is not None:
            return f"HTTP {self.status}: {self.detail}" if self.detail else f"HTTP {self.status}"
        return f"{self.kind}: {self.detail}" if self.detail else self.kind


def describe_failure(err: BaseException) -> UpstreamFailure:
    """Classify an exception of a connection attempt (HTTP status, TLS, refused, timeout, ...)."""
    if isinstance(err, InvalidStatus):
        status = err.response.status_code
        kind = {401: FAILURE_UNAUTHORIZED, 403: FAILURE_FORBIDDEN, 404: FAILURE_NOT_FOUND}.get(
            status, FAILURE_HTTP_STATUS
        )
        reason = err.response.reason_phrase or ""
        return UpstreamFailure(kind, reason, status)
    if isinstance(err, InvalidURI):
        return UpstreamFailure(FAILURE_INVALID_URL, str(err))
    if isinstance(err, ssl.SSLCertVerificationError):
        return UpstreamFailure(FAILURE_TLS_VERIFY, str(err.verify_message or err.reason or err))
    if isinstance(err, ssl.SSLError):
        return UpstreamFailure(FAILURE_TLS, str(err.reason or err))
    if isinstance(err, TimeoutError):
        return UpstreamFailure(FAILURE_TIMEOUT, "no answer in time")
    if isinstance(err, socket.gaierror):
        return UpstreamFailure(FAILURE_DNS, str(err.strerror or err))
    if isinstance(err, ConnectionRefusedError) or (
        isinstance(err, OSError) and (err.errno == errno.ECONNREFUSED or "refused" in str(err).lower())
    ):
        return UpstreamFailure(FAILURE_REFUSED, "connection refused")
    if isinstance(err, OSError):
        return UpstreamFailure(FAILURE_UNREACHABLE, str(err.strerror or err))
    if isinstance(err, NegotiationError | InvalidHandshake):
        return UpstreamFailure(FAILURE_HANDSHAKE, str(err))
    if isinstance(err, ConnectionClosed):
        return UpstreamFailure(FAILURE_CLOSED, f"code {err.rcvd.code if err.rcvd else 'none'}")
    return UpstreamFailure(FAILURE_UNREACHABLE, f"{type(err).__name__}: {err}")


def last_path_segment(path: str) -> str | None:
    """Return the last non-empty path segment as the charger sent it (not decoded)."""
    segments = [segment for segment in urlsplit(path).path.split("/") if segment]
    return segments[-1] if segments else None


def upstream_url_for(base_url: str, segment: str) -> str:
    """Return the upstream URL of a charger: the configured URL + "/" + its path segment."""
    return base_url.rstrip("/") + "/" + segment


def basic_authorization(charge_point_id: str, password: str) -> str:
    """Return an HTTP Basic Authorization value (user = charge point id)."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def offered_subprotocols(request: Request) -> list[Subprotocol]:
    """Return the subprotocols a charger offered in its handshake, in its order."""
    offered: list[Subprotocol] = []
    for header in request.headers.get_all("Sec-WebSocket-Protocol"):
        offered += [Subprotocol(item.strip()) for item in header.split(",") if item.strip()]
    return offered


async def open_upstream(
    url: str,
    *,
    subprotocols: list[Subprotocol] | None,
    authorization: str | None,
    user_agent: str | None,
    ssl_context: ssl.SSLContext | None,
    open_timeout: float,
    ping_interval: float | None = 30,
    ping_timeout: float | None = 30,
) -> ClientConnection:
    """Open a WebSocket to the upstream central system (raises what `connect` raises)."""
    headers = {"Authorization": authorization} if authorization else None
    secure = url.lower().startswith("wss://")
    return await connect(
        url,
        subprotocols=subprotocols or None,
        additional_headers=headers,
        user_agent_header=user_agent,
        ssl=ssl_context if secure else None,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_size=MAX_MESSAGE_SIZE,
    )


async def probe_upstream(
    base_url: str,
    charge_point_id: str,
    password: str | None,
    ssl_context: ssl.SSLContext | None,
    *,
    open_timeout: float = 10.0,
) -> UpstreamFailure | None:
    """Open and close an upstream connection for a charge point id; None when it worked."""
    url = upstream_url_for(base_url, quote(charge_point_id, safe=""))
    try:
        connection = await open_upstream(
            url,
            subprotocols=[Subprotocol("ocpp1.6")],
            authorization=basic_authorization(charge_point_id, password) if password else None,
            user_agent=None,
            ssl_context=ssl_context,
            open_timeout=open_timeout,
        )
    except Exception as err:  # every failure is reported to the user
        return describe_failure(err)
    await connection.close()
    return None


@dataclass(slots=True)
class RelaySettings:
    """How a central system relays its chargers (an entry's local controller options)."""

    upstream_url: str
    ssl_context: ssl.SSLContext | None = None
    open_timeout: float = 10.0
    ping_interval: float | None = 30.0
    ping_timeout: float | None = 30.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    # How long a redialled link waits for its charger to connect again before it is closed.
    park_timeout: float = 300.0


@dataclass(slots=True)
class _DialParameters:
    """What a charger's last handshake said, to dial (and redial) its upstream the same way."""

    url: str
    subprotocols: list[Subprotocol]
    forwarded_authorization: str | None
    user_agent: str | None


@dataclass(slots=True)
class UpstreamStatus:
    """The upstream connection of one charger, as shown to the user."""

    connected: bool = False
    # Set while the upstream cannot be reached (monotonic time of the first failure).
    outage_since: float | None = None
    last_failure: UpstreamFailure | None = None
    # Monotonic time of the next redial, while an outage lasts, and of the last attempt.
    retry_at: float | None = None
    last_attempt: float = float("-inf")


class UpstreamLink:
    """One WebSocket to the upstream on behalf of one charger connection."""

    def __init__(self, manager: RelayManager, charge_point_id: str, connection: ClientConnection) -> None:
        """Wrap an open connection and start reading the upstream's frames."""
        self.manager = manager
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
            self.manager.link_closed(self, failure)

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
    if passes_schema(action, payload):  # the compiled check; jsonschema only when it says no
        return True
    try:
        errors = validator(MessageType.Call, action).iter_errors(payload)
        return best_match(e for e in errors if not tolerated(e)) is None
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
        central: CentralSystem,
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
        self._unique_id_generator = lambda: f"{LOCAL_CALL_PREFIX}{uuid.uuid4()}"
        # The charger's requests waiting for the upstream's answer, and the reverse.
        self._charger_calls = _Pending()
        self._upstream_calls = _Pending()
        self._upstream_idle = asyncio.Event()
        self._upstream_idle.set()
        self._local_idle = asyncio.Event()
        self._local_idle.set()
        self._local_calls = 0

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
                await self.wait_unless_ended(idle, self._response_timeout)
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
            if not self._awaits(unique_id):
                return  # an answer after the timeout, or twice: nothing waits for it
            if kind == MessageType.CallResult and len(message) >= 3:
                self._response_queue.put_nowait(CallResult(unique_id, message[2]))
            elif len(message) >= 4:
                details = message[4] if len(message) > 4 else {}
                self._response_queue.put_nowait(CallError(unique_id, message[2], message[3], details))
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
            await self._connection.send(frame)
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
            status = central.boot_notification(self.id, request, upstream_status=answer["status"])[0]
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
                await central.start_transaction_observed(self.id, request, transaction_id, str(info.get("status")))
        elif action == "StopTransaction":
            await central.stop_transaction(self.id, request, observed=True)
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
            self.upstream.manager.upstream_request_answered(self, action, payload, answer)
        except Exception:  # observing must never break the relay
            _LOGGER.exception("%s: error observing the upstream's %s", self.id, action)


type RelayListener = Callable[[str], None]
type UpstreamRequestListener = Callable[[RelaySession, str, Mapping[str, Any], Mapping[str, Any]], None]


class RelayManager:
    """The upstream links of one central system's relayed chargers: dial, redial, park, report."""

    def __init__(
        self,
        central: CentralSystem,
        settings: RelaySettings,
        *,
        local_password_for: Callable[[str], str | None] = lambda _charge_point_id: None,
        on_status: RelayListener | None = None,
        on_upstream_request: UpstreamRequestListener | None = None,
    ) -> None:
        """Relay per the settings; `on_status(charge point id)` hears of every status change."""
        self.central = central
        self.settings = settings
        self._local_password_for = local_password_for
        self._on_status = on_status
        self._on_upstream_request = on_upstream_request
        self.status: dict[str, UpstreamStatus] = {}
        self._links: dict[str, set[UpstreamLink]] = {}
        # Links dialled during a handshake, until the connection's session takes them.
        self._claims: dict[ServerConnection, tuple[UpstreamLink, asyncio.TimerHandle]] = {}
        self._parked: dict[str, UpstreamLink] = {}
        self._park_timers: dict[str, asyncio.TimerHandle] = {}
        self._redial: dict[str, asyncio.Task[None]] = {}
        self._dial: dict[str, _DialParameters] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    # --- policy -----------------------------------------------------------------------------

    def relayed(self, charge_point_id: str) -> bool:
        """Return True when this charger goes through the upstream (its own option, else yes)."""
        charger = self.central.chargers.get(charge_point_id)
        if charger is not None and charger.relayed is not None:
            return charger.relayed
        return True

    def is_connected(self, charge_point_id: str) -> bool:
        """Return True while an upstream connection is open for the charger."""
        status = self.status.get(charge_point_id)
        return status is not None and status.connected

    def _authorization(self, charge_point_id: str, forwarded: str | None) -> str | None:
        charger = self.central.chargers.get(charge_point_id)
        if charger is not None and charger.upstream_password:
            return basic_authorization(charge_point_id, charger.upstream_password)
        return forwarded

    # --- handshake hook ---------------------------------------------------------------------

    def wrap_process_request(
        self, process_request: Callable[[ServerConnection, Request], Response | None]
    ) -> Callable[[ServerConnection, Request], Awaitable[Response | None]]:
        """Return the server's handshake check followed by the upstream dial of relayed chargers."""

        async def process(connection: ServerConnection, request: Request) -> Response | None:
            response = process_request(connection, request)
            if response is not None:
                return response
            segment = last_path_segment(request.path)
            charge_point_id = charge_point_id_from_path(request.path)
            if segment is None or charge_point_id is None or not self.relayed(charge_point_id):
                return None
            return await self._handshake(connection, request, charge_point_id, segment)

        return process

    async def _handshake(
        self, connection: ServerConnection, request: Request, charge_point_id: str, segment: str
    ) -> Response | None:
        offered = offered_subprotocols(request)
        if offered and "ocpp1.6" not in offered:
            return None  # the server refuses it (subprotocol negotiation)
        forwarded = None
        if not self._local_password_for(charge_point_id):
            # Credentials that were not ours are the backend's: pass them on.
            forwarded = request.headers.get("Authorization")
        self._dial[charge_point_id] = _DialParameters(
            upstream_url_for(self.settings.upstream_url, segment), offered, forwarded, request.headers.get("User-Agent")
        )
        link = self._unpark(charge_point_id)
        if link is None or not link.open:
            redial = self._redial.get(charge_point_id)
            status = self.status.get(charge_point_id)
            recent = status is not None and time.monotonic() - status.last_attempt < HANDSHAKE_REDIAL_INTERVAL
            if redial is not None and recent:
                return self._unavailable(connection, charge_point_id)
            try:
                link = await self._open(charge_point_id)
            except Exception as err:  # any failure means: upstream unreachable
                failure = describe_failure(err)
                _LOGGER.warning(
                    "%s: refused while its upstream central system cannot be reached (%s)", charge_point_id, failure
                )
                if charge_point_id not in self.central.chargers and self.central.is_accepted(charge_point_id):
                    # Known at once (as when it connects), so that its upstream password can be set.
                    self.central.ensure_charger(charge_point_id, accepted=True)
                self._outage(charge_point_id, failure)
                return self._unavailable(connection, charge_point_id)
            if redial is not None:
                redial.cancel()  # the charger's attempt found the upstream back
        timer = asyncio.get_running_loop().call_later(HANDSHAKE_CLAIM_SECONDS, self._unclaimed, connection)
        self._claims[connection] = (link, timer)
        return None

    def _unavailable(self, connection: ServerConnection, charge_point_id: str) -> Response:
        status = self.status.get(charge_point_id)
        retry = 1
        if status is not None and status.retry_at is not None:
            retry = max(1, math.ceil(status.retry_at - time.monotonic()))
        response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Upstream central system unreachable\n")
        response.headers["Retry-After"] = str(retry)
        return response

    def _unclaimed(self, connection: ServerConnection) -> None:
        claim = self._claims.pop(connection, None)
        if claim is not None:
            self._spawn(claim[0].close("The charge point did not complete its handshake"))

    def session_factory(self, connection: ServerConnection) -> Callable[..., ChargePointSession] | None:
        """Return how to build the session of a connection whose upstream link is open, else None."""
        claim = self._claims.pop(connection, None)
        if claim is None:
            return None
        link, timer = claim
        timer.cancel()

        def factory(*args: Any, **kwargs: Any) -> ChargePointSession:
            return RelaySession(*args, link=link, **kwargs)

        return factory

    # --- links --------------------------------------------------------------------------------

    async def _open(self, charge_point_id: str) -> UpstreamLink:
        params = self._dial[charge_point_id]
        self.status.setdefault(charge_point_id, UpstreamStatus()).last_attempt = time.monotonic()
        connection = await open_upstream(
            params.url,
            subprotocols=params.subprotocols,
            authorization=self._authorization(charge_point_id, params.forwarded_authorization),
            user_agent=params.user_agent,
            ssl_context=self.settings.ssl_context,
            open_timeout=self.settings.open_timeout,
            ping_interval=self.settings.ping_interval,
            ping_timeout=self.settings.ping_timeout,
        )
        link = UpstreamLink(self, charge_point_id, connection)
        self._links.setdefault(charge_point_id, set()).add(link)
        status = self.status.setdefault(charge_point_id, UpstreamStatus())
        recovered = status.outage_since is not None
        status.connected = True
        status.outage_since = None
        status.retry_at = None
        if recovered:
            _LOGGER.info("%s: upstream central system reachable again", charge_point_id)
        self._changed(charge_point_id)
        return link

    def link_closed(self, link: UpstreamLink, failure: UpstreamFailure) -> None:
        """A link ended: on purpose, replaced, or lost (then the charger goes too, and we redial)."""
        charge_point_id = link.charge_point_id
        links = self._links.get(charge_point_id, set())
        links.discard(link)
        status = self.status.setdefault(charge_point_id, UpstreamStatus())
        status.connected = bool(links)
        if self._parked.get(charge_point_id) is link:
            self._unpark(charge_point_id)
        session = link.session
        if link.closed_by_us or self._stopped:
            self._changed(charge_point_id)
            return
        current = session is None or self.central.sessions.get(charge_point_id) is session
        if session is not None:
            self._spawn(
                session.connection.close(code=CLOSE_TRY_AGAIN_LATER, reason="Upstream central system unreachable")
            )
        if not current or links:
            # An older connection of a charger that has a newer one: nothing is lost.
            self._changed(charge_point_id)
            return
        _LOGGER.warning("%s: upstream connection lost (%s); the charger is disconnected", charge_point_id, failure)
        self._outage(charge_point_id, failure)

    def _outage(self, charge_point_id: str, failure: UpstreamFailure) -> None:
        status = self.status.setdefault(charge_point_id, UpstreamStatus())
        if status.outage_since is None:
            status.outage_since = time.monotonic()
        status.last_failure = failure
        if charge_point_id not in self._redial and not self._stopped:
            task = asyncio.get_running_loop().create_task(
                self._redial_loop(charge_point_id), name=f"upstream redial {charge_point_id}"
            )
            self._redial[charge_point_id] = task
            task.add_done_callback(lambda _task: self._redial.pop(charge_point_id, None))
        self._changed(charge_point_id)

    async def _redial_loop(self, charge_point_id: str) -> None:
        delay = self.settings.backoff_initial
        status = self.status[charge_point_id]
        while True:
            status.retry_at = time.monotonic() + delay
            self._changed(charge_point_id)
            await asyncio.sleep(delay)
            try:
                link = await self._open(charge_point_id)
            except Exception as err:  # any failure means: try again later
                status.last_failure = describe_failure(err)
                _LOGGER.debug("%s: upstream still unreachable: %s", charge_point_id, status.last_failure)
                delay = min(delay * 2, self.settings.backoff_max)
                continue
            if self._links.get(charge_point_id, set()) - {link}:
                # The charger has a link already: its older connection is still open (its new
                # handshake's dial failed and started this loop), or another handshake dialled.
                await link.close("Not needed")
                return
            self._park(charge_point_id, link)
            return

    def _park(self, charge_point_id: str, link: UpstreamLink) -> None:
        """Keep a redialled link for the charger's next connection (closed if it does not come)."""
        self._parked[charge_point_id] = link

        def expire() -> None:
            # Still parked: every way out of the park (_unpark, stop) cancels this timer.
            self._park_timers.pop(charge_point_id, None)
            del self._parked[charge_point_id]
            self._spawn(link.close("The charge point did not connect again"))

        self._park_timers[charge_point_id] = asyncio.get_running_loop().call_later(
            self.settings.park_timeout, expire
        )

    def _unpark(self, charge_point_id: str) -> UpstreamLink | None:
        """Take a charger's parked link (None when there is none) and stop its timer."""
        timer = self._park_timers.pop(charge_point_id, None)
        if timer is not None:
            timer.cancel()
        return self._parked.pop(charge_point_id, None)

    def upstream_request_answered(
        self, session: RelaySession, action: str, request: Mapping[str, Any], answer: Mapping[str, Any]
    ) -> None:
        """Tell the owner that the charger answered a request of the upstream."""
        if self._on_upstream_request is not None:
            self._on_upstream_request(session, action, request, answer)

    def _changed(self, charge_point_id: str) -> None:
        if self._on_status is not None:
            self._on_status(charge_point_id)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def runner() -> None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await coro

        task = asyncio.get_running_loop().create_task(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop redialling and close every link (after the server closed the chargers)."""
        self._stopped = True
        for task in list(self._redial.values()):
            task.cancel()
        for timer in self._park_timers.values():
            timer.cancel()
        self._park_timers.clear()
        links = {link for links in self._links.values() for link in links}
        for link, timer in self._claims.values():
            timer.cancel()
            links.add(link)
        self._claims.clear()
        self._parked.clear()
        await asyncio.gather(*(link.close("Shutting down") for link in links), return_exceptions=True)
        await asyncio.gather(*self._redial.values(), *self._tasks, return_exceptions=True)

