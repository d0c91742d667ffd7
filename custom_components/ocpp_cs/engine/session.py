"""One connected charger: the OCPP-J framing, validation and the Core message handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import json
import logging
from typing import Any, TypeVar, cast

from jsonschema.exceptions import ValidationError as SchemaValidationError, best_match
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import (
    FormationViolationError,
    InternalError,
    NotImplementedError as OcppNotImplementedError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    SecurityError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallError, CallResult, MessageType
from ocpp.routing import on as _on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.exceptions import ConnectionClosed

from .central import REGISTRATION_ACCEPTED, CentralSystem
from .payload import passes_schema, snake_case_keys
from .schemas import validator
from .util import format_datetime, utcnow

_LOGGER = logging.getLogger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])
# Kinds of bad input a session logs at warning level (then at debug level).
MAX_LOGGED_ERRORS = 64


class DisconnectedBeforeAnswer(ConnectionClosed):
    """The connection ended after our call was sent, before the charger answered it."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Fetch an abandoned call's outcome (asyncio would log an unretrieved exception)."""
    if not future.cancelled():
        future.exception()


def on(action: Action) -> Callable[[_Handler], _Handler]:
    """Route a charger-initiated action to the decorated handler (typed `ocpp.routing.on`)."""
    return cast(Callable[[_Handler], _Handler], _on(action))


# Every action OCPP 1.6 (and its security extension) defines; others are unknown.
KNOWN_ACTIONS = frozenset(action.value for action in Action)
KNOWN_ACTIONS_FROM_CHARGERS = (
    "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
    "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
    "StopTransaction", "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
    "SignedFirmwareStatusNotification",
)

_SCHEMA_ERRORS: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,
    "required": ProtocolError,
    "enum": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "additionalProperties": FormationViolationError,
}


def tolerated(exc: SchemaValidationError) -> bool:
    """
    Return True for a schema violation that is let through: a sampled value's unit.

    Chargers spell units their own way ("kw" as in the spec's own table, "KWH", "Hz"); the
    meter parser understands them, and refusing MeterValues over it would lose the readings
    (spec 4.7: sanity checks should never stop the answer).
    """
    path = list(exc.absolute_path)
    return exc.validator == "enum" and len(path) > 1 and path[-1] == "unit" and "sampledValue" in path


def schema_error(exc: SchemaValidationError) -> OCPPError:
    """Map a JSON schema violation to the CALLERROR code OCPP 1.6 names for it."""
    path = ".".join(str(part) for part in exc.absolute_path)
    cause = f"{path}: {exc.message}" if path else exc.message
    error_type = _SCHEMA_ERRORS.get(str(exc.validator), FormationViolationError)
    return error_type(description=cause)


class ChargePointSession(ChargePoint):  # type: ignore[misc]
    """A charger's WebSocket session; handlers record in the central system and answer."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        central: CentralSystem,
        *,
        response_timeout: float = 30,
        on_accepted_boot: Callable[[ChargePointSession], Awaitable[None]] | None = None,
    ) -> None:
        """Create the session for an accepted WebSocket connection."""
        super().__init__(charge_point_id, connection, response_timeout=response_timeout, logger=_LOGGER)
        self.central = central
        self._on_accepted_boot = on_accepted_boot
        self._background: set[asyncio.Task[None]] = set()
        self._logged_errors: set[tuple[str, str]] = set()
        # Unique ids of our calls waiting for an answer; answers to other ids are dropped.
        self._awaited: set[str] = set()
        # Those of them that went out: a disconnection leaves them unanswered, not unsent.
        self._sent: set[str] = set()
        # Set when the connection is gone: a call waiting for an answer ends at once.
        self._ended = asyncio.Event()
        # The charger's message log (message_log.py): every frame, both directions.
        self.frames = central.message_logs.log_for(charge_point_id)
        # True once this connection sent BootNotification.
        self.booted = False
        # True once a StatusNotification arrived since the last BootNotification.
        self.status_seen = False

    @property
    def connection(self) -> Any:
        """Return the WebSocket connection."""
        return self._connection

    # --- framing ------------------------------------------------------------------------

    async def start(self) -> None:
        """Receive and handle frames until the connection closes."""
        try:
            async for message in self._connection:
                await self.route_message(message)
        except ConnectionClosed:
            pass
        finally:
            self._ended.set()
            for task in self._background:
                task.cancel()

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Parse one frame; answer calls, hand results and errors to a waiting `call()`."""
        self.frames.received(raw_msg)
        try:
            msg = json.loads(raw_msg)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
            self._log_once("-", "invalid JSON", "%s sent a frame that is not JSON", self.id)
            await self._send_error("-1", FormationViolationError(description="Message is not valid JSON"))
            return
        unique_id = msg[1] if isinstance(msg, list) and len(msg) > 1 and isinstance(msg[1], str) else "-1"
        if not isinstance(msg, list) or not msg or msg[0] not in (2, 3, 4):
            self._log_once("-", "framing", "%s sent a frame that is not an OCPP-J message", self.id)
            await self._send_error(unique_id, ProtocolError(description="Not an OCPP-J message"))
            return
        message_type = msg[0]
        try:
            if message_type == MessageType.Call:
                _, unique_id, action, payload = msg
                if not isinstance(unique_id, str) or not isinstance(action, str):
                    raise TypeError
            elif message_type == MessageType.CallResult:
                _, unique_id, payload = msg
                if self._awaits(unique_id):
                    self._response_queue.put_nowait(CallResult(unique_id, payload))
                return
            else:
                unique_id, code, description = msg[1], msg[2], msg[3]
                details = msg[4] if len(msg) > 4 else {}
                if self._awaits(unique_id):
                    self._response_queue.put_nowait(CallError(unique_id, code, description, details))
                return
        except (IndexError, TypeError, ValueError):
            self._log_once("-", "framing", "%s sent a malformed OCPP-J message", self.id)
            await self._send_error(
                unique_id if isinstance(unique_id, str) else "-1",
                ProtocolError(description="Message is missing elements or has elements of the wrong type"),
            )
            return
        await self._handle_call(Call(unique_id, action, payload))

    def _awaits(self, unique_id: Any) -> bool:
        """Return True for the answer to a call of ours; others are dropped (nothing would take them)."""
        if isinstance(unique_id, str) and unique_id in self._awaited:
            return True
        _LOGGER.debug("%s: dropped an answer to a call nobody made (%.40r)", self.id, unique_id)
        return False

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
        Send a call and return the answer; raise ConnectionClosed as soon as the connection ends.

        DisconnectedBeforeAnswer (a ConnectionClosed) when it ends after the call was sent.
        """
        if self._ended.is_set():
            raise ConnectionClosed(None, None)
        unique_id = unique_id or str(self._unique_id_generator())
        self._awaited.add(unique_id)
        calling = asyncio.ensure_future(super().call(payload, suppress, unique_id, skip_schema_validation))
        try:
            await self.wait_unless_ended(calling)
        except asyncio.CancelledError:
            calling.cancel()
            calling.add_done_callback(_retrieve)
            raise
        finally:
            self._awaited.discard(unique_id)
            sent = unique_id in self._sent
            self._sent.discard(unique_id)
        if not calling.done():
            # The charger went away with our call unanswered: no need to wait for the timeout.
            calling.cancel()
            await asyncio.wait((calling,))  # (a cancellation of ours still propagates)
            _retrieve(calling)
            raise DisconnectedBeforeAnswer(None, None) if sent else ConnectionClosed(None, None)
        return calling.result()

    async def _handle_call(self, msg: Call) -> None:
        action = msg.action
        try:
            handlers = self.route_map.get(action)
            if handlers is None or "_on_action" not in handlers:
                if action in KNOWN_ACTIONS:
                    raise NotSupportedError(description=f"{action} is not supported by this central system")
                raise OcppNotImplementedError(description=f"{action} is not an OCPP 1.6 action")
            if action != Action.boot_notification and not self.central.is_accepted(self.id):
                status = self.central.registration_status(self.id) or "not accepted"
                raise SecurityError(
                    description=f"Charge point is not accepted (registration {status}); send BootNotification"
                )
            if not isinstance(msg.payload, dict):
                raise FormationViolationError(description="Payload must be a JSON object")
            if not passes_schema(action, msg.payload):  # compiled check (payload.py); jsonschema names errors
                errors = validator(MessageType.Call, action).iter_errors(msg.payload)
                error = best_match(e for e in errors if not tolerated(e))
                if error is not None:
                    raise schema_error(error)
            connector_id = msg.payload.get("connectorId")
            if isinstance(connector_id, int) and connector_id < 0:
                # The schema says integer; the spec's connector ids are 0 (the charger) and up.
                raise PropertyConstraintViolationError(description=f"connectorId: {connector_id} is negative")
            if isinstance(connector_id, int) and connector_id > self.central.max_connector_id(self.id):
                # Every connector becomes a device with entities: refuse absurd ids.
                raise PropertyConstraintViolationError(
                    description=f"connectorId: {connector_id} is above the charger's connectors"
                )
            self.central.message_received(self.id, heartbeat=action == Action.heartbeat)
            response = await handlers["_on_action"](**snake_case_keys(msg.payload))
        except OCPPError as error:
            self._log_once(
                action, error.code, "%s: %s answered with %s: %s", self.id, action, error.code, error.description
            )
            await self._send_error(msg.unique_id, error)
            return
        except Exception:  # a bug of ours must not end the charger's session
            _LOGGER.exception("%s: error handling %s %s", self.id, action, msg.payload)
            await self._send_error(msg.unique_id, InternalError(description="An unexpected error occurred"))
            return
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        await self._send(msg.create_call_result(payload).to_json())

    async def _send(self, message: str) -> None:
        self.frames.sent(message)
        try:
            await self._connection.send(message)
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

    # --- Core profile: charger-initiated messages ------------------------------------------

    @on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> call_result.BootNotification:
        """Register the charger per the entry's new-charger policy."""
        self.booted = True
        self.status_seen = False
        status, interval = self.central.boot_notification(self.id, payload)
        if status == REGISTRATION_ACCEPTED:
            self.central.message_received(self.id)
            if self._on_accepted_boot is not None:
                self.run_in_background(self._on_accepted_boot(self))
        return call_result.BootNotification(
            current_time=format_datetime(utcnow()), interval=interval, status=status
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        """Answer with the central system's time."""
        return call_result.Heartbeat(current_time=format_datetime(utcnow()))

    @on(Action.status_notification)
    async def on_status_notification(self, **payload: Any) -> call_result.StatusNotification:
        """Record a connector's status."""
        self.status_seen = True
        self.central.status_notification(self.id, payload)
        return call_result.StatusNotification()

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], transaction_id: int | None = None
    ) -> call_result.MeterValues:
        """Record sampled values."""
        self.central.meter_values(self.id, connector_id, meter_value, transaction_id)
        return call_result.MeterValues()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        """Answer from the entry's id tags and policy."""
        return call_result.Authorize(id_tag_info=self.central.authorize(self.id, id_tag))

    @on(Action.start_transaction)
    async def on_start_transaction(self, **payload: Any) -> call_result.StartTransaction:
        """Start (or recognise a replay of) a transaction."""
        transaction_id, info = await self.central.start_transaction(self.id, payload)
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=info)

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, **payload: Any) -> call_result.StopTransaction:
        """Stop a transaction; always answered, known or not."""
        info = await self.central.stop_transaction(self.id, payload)
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.data_transfer)
    async def on_data_transfer(self, **payload: Any) -> call_result.DataTransfer:
        """Announce the vendor message; no vendor extension is implemented."""
        return call_result.DataTransfer(status=self.central.data_transfer(self.id, payload))

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str) -> call_result.FirmwareStatusNotification:
        """Record the firmware update's progress."""
        self.central.firmware_status(self.id, status)
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(
        self, status: str
    ) -> call_result.DiagnosticsStatusNotification:
        """Record the diagnostics upload's progress."""
        self.central.diagnostics_status(self.id, status)
        return call_result.DiagnosticsStatusNotification()

    # --- OCPP 1.6 security extension: charger-initiated messages -----------------------------

    @on(Action.security_event_notification)
    async def on_security_event_notification(self, **payload: Any) -> call_result.SecurityEventNotification:
        """Log and announce a security event."""
        self.central.security_event(self.id, payload)
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate)
    async def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        """Accept the CSR; the signed chain comes back later with CertificateSigned."""
        return call_result.SignCertificate(status=self.central.sign_certificate(self.id, csr))

    @on(Action.log_status_notification)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.LogStatusNotification:
        """Record a GetLog upload's progress."""
        self.central.log_status(self.id, status, request_id)
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.SignedFirmwareStatusNotification:
        """Record a signed firmware update's progress (the same `firmware_status`)."""
        self.central.firmware_status(self.id, status)
        return call_result.SignedFirmwareStatusNotification()
