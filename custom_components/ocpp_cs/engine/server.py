"""The WebSocket server: handshake (path, subprotocol, credentials) and session lifecycle."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
import hmac
from http import HTTPStatus
import logging
import ssl
from typing import TYPE_CHECKING
import weakref

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .central import CentralSystem
from .handshake import (
    AUTH_CERTIFICATE_MISMATCH,
    AUTH_CERTIFICATE_MISSING,
    AUTH_FAILURES_TRACKED,
    AUTH_MALFORMED,
    AUTH_MISSING,
    AUTH_NO_PASSWORD,
    AUTH_USER_MISMATCH,
    AUTH_WRONG_PASSWORD,
    PROFILE_BASIC,
    PROFILE_TLS_BASIC,
    PROFILE_TLS_CLIENT_CERTIFICATE,
    AuthFailures,
    SecurityRequirement,
    basic_auth_credentials,
    client_certificate_cn,
    implied_profile,
    plain_http_answer,
)
from .message_log import format_address
from .negotiation import SUBPROTOCOL_V16, SUBPROTOCOL_V201, SUBPROTOCOLS, choose_subprotocol
from .paths import charge_point_id_from_path
from .session import AnySession, ChargePointSession, V201Session
from .state import OCPP_VERSION_AUTO
from .util import utcnow

if TYPE_CHECKING:
    from .relay import RelayManager

__all__ = [
    "PROFILE_BASIC",
    "PROFILE_TLS_BASIC",
    "PROFILE_TLS_CLIENT_CERTIFICATE",
    "AuthFailures",
    "CentralSystemServer",
    "SecurityRequirement",
    "charge_point_id_from_path",
]

_LOGGER = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")
# Large enough for GetConfiguration answers with long values and full transactionData.
MAX_MESSAGE_SIZE = 1024 * 1024
# Simultaneous charger connections per central system; more are refused with 503.
MAX_CONNECTIONS = 500
# Seconds a client has for the TCP/TLS and WebSocket opening handshakes.
OPEN_TIMEOUT = 10.0


class CentralSystemServer:
    """Accepts charger connections for one central system and runs their sessions."""

    # Over 60 lines: one keyword argument per hook and limit the glue sets, each stored as given.
    def __init__(
        self,
        central: CentralSystem,
        *,
        host: str,
        port: int,
        password_for: Callable[[str], str | None] = lambda _charge_point_id: None,
        previous_password_for: Callable[[str], str | None] = lambda _charge_point_id: None,
        password_confirmed: Callable[[str], None] = lambda _charge_point_id: None,
        ssl_context: ssl.SSLContext | None = None,
        security_requirement: Callable[[str], SecurityRequirement] | None = None,
        security_profile_confirmed: Callable[[str], None] = lambda _charge_point_id: None,
        claimed_elsewhere: Callable[[str], bool] = lambda _charge_point_id: False,
        on_accepted_boot: Callable[[AnySession], Awaitable[None]] | None = None,
        on_session_started: Callable[[AnySession], None] | None = None,
        ping_interval: float | None = 30,
        ping_timeout: float | None = 30,
        response_timeout: float = 30,
        max_connections: int = MAX_CONNECTIONS,
        open_timeout: float = OPEN_TIMEOUT,
        relay: RelayManager | None = None,
    ) -> None:
        """Configure the server; `start` binds it (`relay`: local controller mode, relay.py).

        `security_requirement` gives each charger's security profile; without it every charger
        has the one the TLS settings imply (3 with a client CA, 2 with TLS, else 1).
        """
        self.central = central
        self.host = host
        self.port = port
        self._password_for = password_for
        self._previous_password_for = previous_password_for
        self._password_confirmed = password_confirmed
        self._ssl_context = ssl_context
        # With a client CA, certificates are optional at the TLS layer (CERT_OPTIONAL): each
        # charger's security profile decides at the HTTP handshake whether it needs one.
        self.client_certificates = ssl_context is not None and ssl_context.verify_mode != ssl.CERT_NONE
        default = SecurityRequirement(implied_profile(ssl_context))
        self._security_requirement = security_requirement or (lambda _charge_point_id: default)
        self._security_profile_confirmed = security_profile_confirmed
        # The security profile each connection was admitted with (until the connection is gone).
        self._profiles: weakref.WeakKeyDictionary[ServerConnection, int] = weakref.WeakKeyDictionary()
        self._confirming: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
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
        self.max_connections = max_connections
        self.open_timeout = open_timeout
        # Connections past the handshake, by charge point id (a replaced one counts until it closes).
        self._active: dict[ServerConnection, str] = {}
        self.refused_over_limit = 0
        self.auth_failures: OrderedDict[str, AuthFailures] = OrderedDict()
        self._relay = relay

    @property
    def bound_port(self) -> int:
        """Return the port actually listened on (differs from `port` when it was 0)."""
        if self._server is None:
            return self.port
        for sock in self._server.sockets:
            return int(sock.getsockname()[1])
        return self.port

    @property
    def connection_count(self) -> int:
        """Return how many connections are past the handshake."""
        return len(self._active)

    async def start(self) -> None:
        """Bind and start accepting connections; raises OSError when the port is taken."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=[Subprotocol(name) for name in SUBPROTOCOLS],
            select_subprotocol=self._select_subprotocol,
            # Relayed chargers: after our checks, their upstream is dialled during the handshake.
            process_request=(
                self._relay.wrap_process_request(self._process_request) if self._relay else self._process_request
            ),
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            max_size=MAX_MESSAGE_SIZE,
            ssl=self._ssl_context,
            open_timeout=self.open_timeout,
            # No permessage-deflate: on a LAN it saves nothing worth its CPU (a compressor per
            # frame each way) and its memory (a zlib context per direction per charger).
            compression=None,
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
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            # A browser or curl: say what this port is, instead of a bare handshake error.
            _LOGGER.debug("Answered a plain HTTP request for %r", request.path)
            return connection.respond(HTTPStatus.OK, plain_http_answer(request, tls=self._ssl_context is not None))
        charge_point_id = charge_point_id_from_path(request.path)
        if charge_point_id is None:
            _LOGGER.warning("Refused a connection without a charge point id in its URL %r", request.path)
            return self._refuse(connection, HTTPStatus.NOT_FOUND, "The URL must end with the charge point id")
        if self._claimed_elsewhere(charge_point_id):
            _LOGGER.warning(
                "Refused %s on port %s: it belongs to another ocpp_cs entry", charge_point_id, self.port
            )
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "Charge point belongs to another central system")
        admitted = self._authenticate(connection, request, charge_point_id)
        if isinstance(admitted, Response):
            return admitted
        if len(self._active) >= self.max_connections and charge_point_id not in self.central.sessions:
            # A charger that is connected already may reconnect: its new connection replaces the old.
            self.refused_over_limit += 1
            _LOGGER.warning(
                "Refused %s: %s chargers are connected, the most this central system takes",
                charge_point_id, self.max_connections,
            )
            response = self._refuse(connection, HTTPStatus.SERVICE_UNAVAILABLE, "Too many connections")
            response.headers["Retry-After"] = "60"
            return response
        profile, confirmed = admitted
        self._profiles[connection] = profile
        if confirmed:
            # Ends the fallback once the charger *did connect* with its new profile (A05.FR.09):
            # when the WebSocket handshake has succeeded too (see _handle), not before.
            self._confirming.add(connection)
        return None

    def _authenticate(
        self, connection: ServerConnection, request: Request, charge_point_id: str
    ) -> Response | tuple[int, bool]:
        """Check what the charger's security profile asks for.

        Return a refusal, or (the profile it connected with, whether that ends a fallback).
        """
        requirement = self._security_requirement(charge_point_id)
        if requirement.profile < PROFILE_TLS_CLIENT_CERTIFICATE:
            # Profiles 1 and 2: HTTP Basic. A client certificate it may present changes nothing.
            refused = self._check_password(connection, request, charge_point_id)
            return refused or (requirement.profile, False)
        common_name = client_certificate_cn(connection) if self.client_certificates else None
        if common_name == charge_point_id:
            # Profile 3: the certificate (verified against our CA by the TLS layer) is the
            # charger's whole authentication (whitepaper A00.FR.401); Basic credentials it may
            # send as well are not looked at.
            return PROFILE_TLS_CLIENT_CERTIFICATE, requirement.fallback is not None
        if common_name is not None:
            # Signed by our CA, but for another charger.
            self._count_auth_failure(charge_point_id, AUTH_CERTIFICATE_MISMATCH)
            _LOGGER.warning("Refused %s: its client certificate is for %r", charge_point_id, common_name)
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "Client certificate does not match")
        if requirement.fallback is None:
            self._count_auth_failure(charge_point_id, AUTH_CERTIFICATE_MISSING)
            _LOGGER.warning(
                "Refused %s: its security profile is 3 and it presented no client certificate%s",
                charge_point_id,
                "" if self.client_certificates else " (this central system has no client CA)",
            )
            return self._refuse(connection, HTTPStatus.FORBIDDEN, "Client certificate required")
        # Raised to profile 3 and never connected with it: it may have fallen back (A05.FR.08).
        refused = self._check_password(connection, request, charge_point_id)
        if refused is not None:
            return refused
        _LOGGER.warning(
            "%s connected with security profile %s: its profile is 3, and the lower one is accepted "
            "until it first connects with its client certificate",
            charge_point_id, requirement.fallback,
        )
        return requirement.fallback, False

    def _check_password(self, connection: ServerConnection, request: Request, charge_point_id: str) -> Response | None:
        """Check HTTP Basic credentials (security profiles 1 and 2); return a refusal, or None."""
        password = self._password_for(charge_point_id)
        reason = None
        if not password:
            if not self.client_certificates:
                return None  # no password configured: no authentication, as before security profiles
            # Where chargers authenticate with certificates, one without a password must not
            # get in with nothing at all.
            reason = AUTH_NO_PASSWORD
        else:
            credentials = basic_auth_credentials(request.headers)
            if credentials is None:
                reason = AUTH_MISSING if "Authorization" not in request.headers else AUTH_MALFORMED
            else:
                user_ok = hmac.compare_digest(credentials[0].encode(), charge_point_id.encode())
                password_ok = hmac.compare_digest(credentials[1].encode(), password.encode())
                previous = self._previous_password_for(charge_point_id)
                if password_ok:
                    self._password_confirmed(charge_point_id)
                elif previous:
                    # After a password change the old one stays valid until the charger uses the new one.
                    password_ok = hmac.compare_digest(credentials[1].encode(), previous.encode())
                if not user_ok:
                    reason = AUTH_USER_MISMATCH
                elif not password_ok:
                    reason = AUTH_WRONG_PASSWORD
        if reason is None:
            return None
        self._count_auth_failure(charge_point_id, reason)
        if reason == AUTH_NO_PASSWORD:
            _LOGGER.warning(
                "Refused %s: it must log in with a password (security profile 2), and none is set for it",
                charge_point_id,
            )
        else:
            _LOGGER.warning("Refused %s: HTTP Basic credentials %s", charge_point_id, reason.replace("_", " "))
        return self._refuse(connection, HTTPStatus.UNAUTHORIZED, "Authentication required")

    def security_profile_in_use(self, charge_point_id: str) -> int | None:
        """Return the security profile the charger's open connection was admitted with."""
        session = self.central.sessions.get(charge_point_id)
        return self._profiles.get(session.connection) if session is not None else None

    def _count_auth_failure(self, charge_point_id: str, reason: str) -> None:
        found = self.auth_failures.pop(charge_point_id, None)
        count = found.count + 1 if found else 1
        self.auth_failures[charge_point_id] = AuthFailures(count, utcnow(), reason)
        while len(self.auth_failures) > AUTH_FAILURES_TRACKED:
            self.auth_failures.popitem(last=False)

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        charge_point_id = charge_point_id_from_path(connection.request.path if connection.request else "")
        charger = self.central.chargers.get(charge_point_id or "")
        # A relayed charger (local controller mode) speaks 1.6 with its upstream: relay.py relays 1.6 only.
        relayed = self._relay is not None and self._relay.relayed(charge_point_id or "")
        offered = [name for name in subprotocols if name == SUBPROTOCOL_V16] if relayed else subprotocols
        chosen = choose_subprotocol(offered, charger.ocpp_version_choice if charger else OCPP_VERSION_AUTO)
        if chosen is not None:
            return Subprotocol(chosen)
        if not subprotocols:
            # Some chargers omit the header; they speak 1.6 all the same.
            key = charge_point_id or ""
            if key not in self._no_subprotocol_logged:
                self._no_subprotocol_logged.add(key)
                _LOGGER.info("%s offered no subprotocol; serving it as OCPP 1.6", charge_point_id)
            return None
        self.rejected_handshakes += 1
        _LOGGER.warning(
            "Refused %s: it offers only %s, not ocpp1.6 or ocpp2.0.1", charge_point_id, ", ".join(subprotocols)
        )
        raise NegotiationError("unsupported subprotocol; this central system speaks ocpp1.6 and ocpp2.0.1")

    # --- sessions -----------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = charge_point_id_from_path(connection.request.path)
        assert charge_point_id is not None
        session: AnySession
        if connection.subprotocol == SUBPROTOCOL_V201:
            # Served here: relaying (local controller mode) is for 1.6 chargers only.
            session = V201Session(
                charge_point_id,
                connection,
                self.central,
                response_timeout=self.response_timeout,
                on_accepted_boot=self._on_accepted_boot,
            )
        else:
            relay_session = self._relay.session_factory(connection) if self._relay is not None else None
            session = (relay_session or ChargePointSession)(
                charge_point_id,
                connection,
                self.central,
                response_timeout=self.response_timeout,
                on_accepted_boot=self._on_accepted_boot,
            )
        session.frames.event(f"connected from {format_address(connection.remote_address)}")
        if connection in self._confirming:
            self._confirming.discard(connection)
            self._security_profile_confirmed(charge_point_id)
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
        self._active[connection] = charge_point_id
        try:
            await session.start()
        finally:
            self._active.pop(connection, None)
            session.frames.closed(connection.close_code, connection.close_reason)
            self.central.session_closed(session)
            _LOGGER.info("%s disconnected (code %s)", charge_point_id, connection.close_code)
