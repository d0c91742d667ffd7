"""The WebSocket server: handshake (path, subprotocol, credentials) and session lifecycle."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
import hmac
from http import HTTPStatus
import logging
import ssl
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .central import CentralSystem
from .session import ChargePointSession

_LOGGER = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")
# Large enough for GetConfiguration answers with long values and full transactionData.
MAX_MESSAGE_SIZE = 1024 * 1024


def charge_point_id_from_path(path: str) -> str | None:
    """Return the charge point id: the last non-empty path segment, URL-decoded."""
    segments = [segment for segment in urlsplit(path).path.split("/") if segment]
    if not segments:
        return None
    charge_point_id = unquote(segments[-1]).strip()
    return charge_point_id or None


def basic_auth_credentials(headers: Headers) -> tuple[str, str] | None:
    """Return (user, password) from an HTTP Basic Authorization header."""
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    if not separator:
        return None
    return user, password


class CentralSystemServer:
    """Accepts charger connections for one central system and runs their sessions."""

    def __init__(
        self,
        central: CentralSystem,
        *,
        host: str,
        port: int,
        password_for: Callable[[str], str | None] = lambda _charge_point_id: None,
        ssl_context: ssl.SSLContext | None = None,
        claimed_elsewhere: Callable[[str], bool] = lambda _charge_point_id: False,
        on_accepted_boot: Callable[[ChargePointSession], Awaitable[None]] | None = None,
        on_session_started: Callable[[ChargePointSession], None] | None = None,
        ping_interval: float | None = 30,
        ping_timeout: float | None = 30,
        response_timeout: float = 30,
    ) -> None:
        """Configure the server; `start` binds it."""
        self.central = central
        self.host = host
        self.port = port
        self._password_for = password_for
        self._ssl_context = ssl_context
        self._claimed_elsewhere = claimed_elsewhere
        self._on_accepted_boot = on_accepted_boot
        self._on_session_started = on_session_started
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self.response_timeout = response_timeout
        self._server: Server | None = None
        self._no_subprotocol_logged: set[str] = set()
        self.rejected_handshakes = 0
        # Closes of replaced connections in flight (the loop keeps only weak references to tasks).
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def bound_port(self) -> int:
        """Return the port actually listened on (differs from `port` when it was 0)."""
        if self._server is None:
            return self.port
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return self.port

    async def start(self) -> None:
        """Bind and start accepting connections; raises OSError when the port is taken."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=[SUBPROTOCOL],
            select_subprotocol=self._select_subprotocol,
            process_request=self._process_request,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            max_size=MAX_MESSAGE_SIZE,
            ssl=self._ssl_context,
        )

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        await server.wait_closed()

    # --- handshake ----------------------------------------------------------------------

    def _refuse(self, connection: ServerConnection, status: HTTPStatus, text: str) -> Response:
        self.rejected_handshakes += 1
        response = connection.respond(status, text + "\n")
        if status == HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        charge_point_id = charge_point_id_from_path(request.path)
        if charge_point_id is None:
            _LOGGER.warning("Refused a connection without a charge point id in its URL %r", request.path)
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "The URL must end with the charge point id")
        if self._claimed_elsewhere(charge_point_id):
            _LOGGER.warning(
                "Refused %s on port %s: it belongs to another ocpp_cs entry", charge_point_id, self.port
            )
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "Charge point belongs to another central system")
        password = self._password_for(charge_point_id)
        if password:
            credentials = basic_auth_credentials(request.headers)
            valid = credentials is not None and hmac.compare_digest(
                credentials[0].encode(), charge_point_id.encode()
            ) & hmac.compare_digest(credentials[1].encode(), password.encode())
            if not valid:
                _LOGGER.warning("Refused %s: missing or wrong HTTP Basic credentials", charge_point_id)
                return self._refuse(connection, HTTPStatus.UNAUTHORIZED, "Authentication required")
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        if SUBPROTOCOL in subprotocols:
            return SUBPROTOCOL
        charge_point_id = charge_point_id_from_path(connection.request.path if connection.request else "")
        if not subprotocols:
            # Some chargers omit the header; they speak 1.6 all the same.
            key = charge_point_id or ""
            if key not in self._no_subprotocol_logged:
                self._no_subprotocol_logged.add(key)
                _LOGGER.info("%s offered no subprotocol; serving it as OCPP 1.6", charge_point_id)
            return None
        self.rejected_handshakes += 1
        _LOGGER.warning("Refused %s: it offers only %s, not ocpp1.6", charge_point_id, ", ".join(subprotocols))
        raise NegotiationError("unsupported subprotocol; this central system speaks ocpp1.6")

    # --- sessions -----------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = charge_point_id_from_path(connection.request.path)
        assert charge_point_id is not None
        session = ChargePointSession(
            charge_point_id,
            connection,
            self.central,
            response_timeout=self.response_timeout,
            on_accepted_boot=self._on_accepted_boot,
        )
        previous = self.central.session_opened(session)
        if previous is not None:
            _LOGGER.info("%s connected again; closing its previous connection", charge_point_id)
            closing = asyncio.get_running_loop().create_task(
                previous.connection.close(code=1000, reason="Replaced by a new connection")
            )
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        else:
            _LOGGER.info("%s connected", charge_point_id)
        if self._on_session_started is not None:
            self._on_session_started(session)
        try:
            await session.start()
        finally:
            self.central.session_closed(session)
            _LOGGER.info("%s disconnected (code %s)", charge_point_id, connection.close_code)
