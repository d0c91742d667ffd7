"""
OCPP-J framing of one charger connection, built on `ocpp.messages` and nothing private of `ocpp`.

Our own message ids, our own routing of CALLRESULT/CALLERROR to the call that waits for it
(answers nobody waits for are dropped, never queued), one call of ours in flight at a time
(as `ocpp.ChargePoint.call` does), and a call that ends as soon as the connection does.
Subclasses answer the charger's CALLs (`answer_call`).
"""

from __future__ import annotations

from abc import abstractmethod
import asyncio
from collections.abc import Awaitable
import json
import logging
from typing import Any
import uuid

from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import FormationViolationError, OCPPError, ProtocolError
from ocpp.messages import Call, CallError, CallResult, MessageType, validate_payload
from ocpp.v16 import ChargePoint, call_result
from websockets.exceptions import ConnectionClosed

from ..message_log import MessageLog

_LOGGER = logging.getLogger(__name__)

OCPP_VERSION = "1.6"
# Kinds of bad input a session logs at warning level (then at debug level).
MAX_LOGGED_ERRORS = 64

type Answer = CallResult | CallError


class DisconnectedBeforeAnswer(ConnectionClosed):
    """The connection ended after our call was sent, before the charger answered it."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Fetch an abandoned call's outcome (asyncio would log an unretrieved exception)."""
    if not future.cancelled():
        future.exception()


def action_of(payload: Any) -> str:
    """Return the action a `ocpp.v16.call` payload stands for (its class name)."""
    return type(payload).__name__


class FramedSession(ChargePoint):  # type: ignore[misc]
    """A charger's WebSocket: frames in and out, our calls and their answers.

    The framing is the same for OCPP 1.6 and 2.0.1 (OCPP-J); a subclass for another version
    sets `ocpp_version` (which schemas check our calls and their answers) and `call_results`
    (the module whose classes answers are returned as).
    """

    ocpp_version: str = OCPP_VERSION
    call_results: Any = call_result

    def __init__(self, charge_point_id: str, connection: Any, frames: MessageLog, *, response_timeout: float) -> None:
        """Wrap an accepted WebSocket connection (`frames`: the charger's message log)."""
        super().__init__(charge_point_id, connection, response_timeout=response_timeout, logger=_LOGGER)
        self._ws = connection
        self.response_timeout = response_timeout
        self.frames = frames
        self._background: set[asyncio.Task[None]] = set()
        self._logged_errors: set[tuple[str, str]] = set()
        # Our calls waiting for an answer, by message id; answers to other ids are dropped.
        self._awaited: dict[str, asyncio.Future[Answer]] = {}
        # Those of them that went out: a disconnection leaves them unanswered, not unsent.
        self._sent: set[str] = set()
        # One call of ours in flight at a time (OCPP-J 4.1.1).
        self._one_call = asyncio.Lock()
        # Set when the connection is gone: a call waiting for an answer ends at once.
        self._ended = asyncio.Event()

    @property
    def connection(self) -> Any:
        """Return the WebSocket connection."""
        return self._ws

    @property
    def answers_kept(self) -> int:
        """Return how many answers arrived that no call has taken yet (0 between calls)."""
        return sum(1 for answer in self._awaited.values() if answer.done() and not answer.cancelled())

    def new_unique_id(self) -> str:
        """Return the message id of a new call of ours."""
        return str(uuid.uuid4())

    async def start(self) -> None:
        """Receive and handle frames until the connection closes."""
        try:
            async for message in self._ws:
                await self.route_message(message)
        except ConnectionClosed:
            pass
        finally:
            self._ended.set()
            for task in self._background:
                task.cancel()

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Handle one frame: answer a CALL (`answer_call`), hand results and errors to a waiting `call()`."""
        request = await self.receive_frame(raw_msg)
        if request is not None:
            await self.answer_call(request)

    @abstractmethod
    async def answer_call(self, msg: Call) -> None:
        """Answer a charger's CALL with a CALLRESULT or a CALLERROR (each protocol version's session does)."""

    async def receive_frame(self, raw_msg: str | bytes) -> Call | None:
        """
        Parse one frame: return a CALL to answer; hand results and errors to a waiting `call()`.

        Frames that are no OCPP-J message are answered here with the CALLERROR OCPP-J names.
        """
        self.frames.received(raw_msg)
        try:
            msg = json.loads(raw_msg)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
            self._log_once("-", "invalid JSON", "%s sent a frame that is not JSON", self.id)
            await self._send_error("-1", FormationViolationError(description="Message is not valid JSON"))
            return None
        unique_id = msg[1] if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str) else "-1"
        if not isinstance(msg, list) or not msg or msg[0] not in (2, 3, 4):
            self._log_once("-", "framing", "%s sent a frame that is not an OCPP-J message", self.id)
            await self._send_error(unique_id, ProtocolError(description="Not an OCPP-J message"))
            return None
        try:
            if msg[0] == MessageType.Call:
                _, unique_id, action, payload = msg
                if not isinstance(unique_id, str) or not isinstance(action, str):
                    raise TypeError
            elif msg[0] == MessageType.CallResult:
                _, unique_id, payload = msg
                self.deliver_answer(unique_id, CallResult(unique_id, payload))
                return None
            else:
                unique_id, code, description = msg[1], msg[2], msg[3]
                details = msg[4] if len(msg) > 4 else {}
                self.deliver_answer(unique_id, CallError(unique_id, code, description, details))
                return None
        except (IndexError, TypeError, ValueError):
            self._log_once("-", "framing", "%s sent a malformed OCPP-J message", self.id)
            await self._send_error(
                unique_id if isinstance(unique_id, str) else "-1",
                ProtocolError(description="Message is missing elements or has elements of the wrong type"),
            )
            return None
        return Call(unique_id, action, payload)

    def deliver_answer(self, unique_id: Any, answer: Answer) -> bool:
        """Hand an answer to the call of ours that waits for it; return False when none does (dropped)."""
        waiting = self._awaited.get(unique_id) if isinstance(unique_id, str) else None
        if waiting is None or waiting.done():
            _LOGGER.debug("%s: dropped an answer to a call nobody made (%.40r)", self.id, unique_id)
            return False
        waiting.set_result(answer)
        return True

    async def wait_unless_ended(self, future: asyncio.Future[Any], seconds: float | None = None) -> None:
        """Wait until `future` is done, the connection ends or `seconds` pass, whichever comes first (no raise)."""
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait((future, ended), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()

    async def call(
        self, payload: Any, suppress: bool = True, unique_id: str | None = None, skip_schema_validation: bool = False
    ) -> Any:
        """
        Send a call and return the answer (a `call_results` object, as `ocpp.ChargePoint.call`).

        A CALLERROR returns None with `suppress`, else raises its exception. Raise ConnectionClosed
        as soon as the connection ends; DisconnectedBeforeAnswer (a ConnectionClosed) when it ends
        after the call was sent.
        """
        if self._ended.is_set():
            raise ConnectionClosed(None, None)
        unique_id = unique_id or self.new_unique_id()
        self._awaited[unique_id] = asyncio.get_running_loop().create_future()
        calling = asyncio.ensure_future(self._exchange(payload, unique_id, skip_schema_validation))
        try:
            await self.wait_unless_ended(calling)
        except asyncio.CancelledError:
            calling.cancel()
            calling.add_done_callback(_retrieve)
            raise
        finally:
            self._awaited.pop(unique_id, None)
            sent = unique_id in self._sent
            self._sent.discard(unique_id)
        if not calling.done():
            # The charger went away with our call unanswered: no need to wait for the timeout.
            calling.cancel()
            await asyncio.wait((calling,))  # (a cancellation of ours still propagates)
            _retrieve(calling)
            raise DisconnectedBeforeAnswer(None, None) if sent else ConnectionClosed(None, None)
        request, answer = calling.result()
        if isinstance(answer, CallError):
            _LOGGER.warning("Received a CALLError: %s'", answer)
            if suppress:
                return None
            raise answer.to_exception()
        if not skip_schema_validation:
            answer.action = request.action
            await validate_payload(answer, self.ocpp_version)
        return getattr(self.call_results, request.action)(**camel_to_snake_case(answer.payload))

    async def _exchange(self, payload: Any, unique_id: str, skip_schema_validation: bool) -> tuple[Call, Answer]:
        """Validate and send a call once no other call of ours is in flight; return it and its answer."""
        request = Call(unique_id, action_of(payload), remove_nones(snake_to_camel_case(serialize_as_dict(payload))))
        if not skip_schema_validation:
            await validate_payload(request, self.ocpp_version)
        async with self._one_call:
            await self._send(request.to_json())
            try:
                answer = await asyncio.wait_for(self._awaited[unique_id], self.response_timeout)
            except TimeoutError:
                raise TimeoutError(f"Waited {self.response_timeout}s for response on {request.to_json()}.") from None
        return request, answer

    async def _send(self, message: str) -> None:
        self.frames.sent(message)
        try:
            await self._ws.send(message)
        except ConnectionClosed:
            _LOGGER.debug("%s: connection closed before %s could be sent", self.id, message[:80])
            return
        if self._awaited and message.startswith("[2,"):  # a CALL: ours, or one relayed from an upstream
            unique_id = json.loads(message)[1]
            if unique_id in self._awaited:
                self._sent.add(unique_id)

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        await self._send(CallError(unique_id, error.code, error.description or "", {}).to_json())

    def _log_once(self, action: str, code: str, message: str, *args: Any) -> None:
        """Log a charger's bad input at warning level the first time, then at debug level."""
        key = (action, code)
        # Bounded: a charger that invents action names must not grow the set (nor the log) forever.
        first = key not in self._logged_errors and len(self._logged_errors) < MAX_LOGGED_ERRORS
        if first:
            self._logged_errors.add(key)
        _LOGGER.log(logging.WARNING if first else logging.DEBUG, message, *args)

    def run_in_background(self, coro: Awaitable[None]) -> None:
        """Run follow-up work without blocking the receive loop; cancelled with the session."""

        async def runner() -> None:
            try:
                await coro
            except (ConnectionClosed, asyncio.CancelledError):
                pass
            except Exception:
                _LOGGER.exception("%s: background task failed", self.id)

        task = asyncio.get_running_loop().create_task(runner())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
