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
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass
from http import HTTPStatus
import logging
import math
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .central import CentralSystem
from .paths import charge_point_id_from_path, last_path_segment
from .upstream import (
    RelaySettings,
    UpstreamFailure,
    UpstreamStatus,
    basic_authorization,
    describe_failure,
    offered_subprotocols,
    open_upstream,
    probe_upstream,
    upstream_url_for,
)
from .v16.relay_session import LOCAL_CALL_PREFIX, MAX_PENDING, RelaySession, UpstreamLink, UpstreamRequestListener
from .v16.session import ChargePointSession

__all__ = [
    "LOCAL_CALL_PREFIX",
    "MAX_PENDING",
    "RelayManager",
    "RelaySession",
    "RelaySettings",
    "UpstreamFailure",
    "UpstreamStatus",
    "describe_failure",
    "open_upstream",
    "probe_upstream",
]

_LOGGER = logging.getLogger(__name__)

# A link dialled during a handshake that never became a session is closed after this.
HANDSHAKE_CLAIM_SECONDS = 30.0
# WebSocket close code for the charger when its upstream is lost: 1013 "Try Again Later".
CLOSE_TRY_AGAIN_LATER = 1013
# During an outage a charger's own connection attempt dials the upstream at once (it is back
# as soon as the charger tries again), unless the last attempt is more recent than this.
HANDSHAKE_REDIAL_INTERVAL = 1.0


@dataclass(slots=True)
class _DialParameters:
    """What a charger's last handshake said, to dial (and redial) its upstream the same way."""

    url: str
    subprotocols: list[Subprotocol]
    forwarded_authorization: str | None
    user_agent: str | None


type RelayListener = Callable[[str], None]


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
        link = UpstreamLink(
            charge_point_id, connection, on_closed=self.link_closed, on_request_answered=self.upstream_request_answered
        )
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
