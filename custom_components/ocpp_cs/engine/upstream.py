"""The upstream central system of local controller mode: dialling it, and why a dial failed."""

from __future__ import annotations

import base64
from dataclasses import dataclass
import errno
import socket
import ssl
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    NegotiationError,
)
from websockets.http11 import Request
from websockets.typing import Subprotocol

# Large enough for GetConfiguration answers with long values and full transactionData.
MAX_MESSAGE_SIZE = 1024 * 1024

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
class UpstreamStatus:
    """The upstream connection of one charger, as shown to the user."""

    connected: bool = False
    # Set while the upstream cannot be reached (monotonic time of the first failure).
    outage_since: float | None = None
    last_failure: UpstreamFailure | None = None
    # Monotonic time of the next redial, while an outage lasts, and of the last attempt.
    retry_at: float | None = None
    last_attempt: float = float("-inf")
