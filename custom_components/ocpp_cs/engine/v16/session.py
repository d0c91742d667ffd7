"""One connected OCPP 1.6 charger: its CALLs checked, handed to the core in its terms, and answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import logging
from typing import Any, TypeVar, cast

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import (
    FormationViolationError,
    InternalError,
    NotImplementedError as OcppNotImplementedError,
    NotSupportedError,
    OCPPError,
    PropertyConstraintViolationError,
    SecurityError,
)
from ocpp.messages import Call
from ocpp.routing import on as _on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, MessageTrigger

from ..payload import snake_case_keys
from ..ports import Core
from ..settings import REGISTRATION_ACCEPTED
from ..util import format_datetime, utcnow
from .checks import KNOWN_ACTIONS, request_error
from .framing import FramedSession, action_of
from .translate import boot_info, connector_status, parse_meter_values, transaction_start, transaction_stop

_LOGGER = logging.getLogger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[Any]])


def on(action: Action) -> Callable[[_Handler], _Handler]:
    """Route a charger-initiated action to the decorated handler (typed `ocpp.routing.on`)."""
    return cast(Callable[[_Handler], _Handler], _on(action))


class ChargePointSession(FramedSession):
    """A charger's WebSocket session; handlers record in the central system and answer."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        central: Core,
        *,
        response_timeout: float = 30,
        on_accepted_boot: Callable[[ChargePointSession], Awaitable[None]] | None = None,
    ) -> None:
        """Create the session for an accepted WebSocket connection."""
        # The charger's message log (message_log.py): every frame, both directions.
        frames = central.message_logs.log_for(charge_point_id)
        super().__init__(charge_point_id, connection, frames, response_timeout=response_timeout)
        self.central = central
        self._on_accepted_boot = on_accepted_boot
        # True once this connection sent BootNotification.
        self.booted = False
        # True once a StatusNotification arrived since the last BootNotification.
        self.status_seen = False
        # True from a TriggerMessage for BootNotification of ours to the BootNotification it asked
        # for: that one is no reboot (the charger keeps its transactions).
        self.boot_requested = False

    def _check(self, msg: Call) -> None:
        """Raise the CALLERROR a request earns before its handler runs (action, registration, payload)."""
        action = msg.action
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
        if (error := request_error(action, msg.payload)) is not None:
            raise error
        connector_id = msg.payload.get("connectorId")
        if isinstance(connector_id, int) and connector_id < 0:
            # The schema says integer; the spec's connector ids are 0 (the charger) and up.
            raise PropertyConstraintViolationError(description=f"connectorId: {connector_id} is negative")
        if isinstance(connector_id, int) and connector_id > self.central.max_connector_id(self.id):
            # Every connector becomes a device with entities: refuse absurd ids.
            raise PropertyConstraintViolationError(
                description=f"connectorId: {connector_id} is above the charger's connectors"
            )

    async def call(self, payload: Any, *args: Any, **kwargs: Any) -> Any:
        """Send a call (FramedSession.call), noting a TriggerMessage that asks for BootNotification."""
        if action_of(payload) == Action.trigger_message and getattr(payload, "requested_message", None) == (
            MessageTrigger.boot_notification
        ):
            self.boot_requested = True
        return await super().call(payload, *args, **kwargs)

    async def answer_call(self, msg: Call) -> None:
        """Check the request, hand it to its handler and send the answer (or the CALLERROR it earned)."""
        action = msg.action
        try:
            self._check(msg)
            self.central.message_received(self.id, heartbeat=action == Action.heartbeat)
            response = await self.route_map[action]["_on_action"](**snake_case_keys(msg.payload))
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

    async def request_boot(self) -> None:
        """Ask the charger to send BootNotification again (TriggerMessage; a CALLERROR is logged)."""
        await self.call(call.TriggerMessage(requested_message=MessageTrigger.boot_notification))

    # --- Core profile: charger-initiated messages ------------------------------------------

    @on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> call_result.BootNotification:
        """Register the charger per the entry's new-charger policy."""
        self.booted = True
        self.status_seen = False
        rebooted = not self.boot_requested
        self.boot_requested = False
        status, interval = self.central.boot_notification(self.id, boot_info(payload))
        if status == REGISTRATION_ACCEPTED:
            if rebooted:
                # It rebooted: the transactions it had are over, their stops (if any) queued.
                self.central.charger_rebooted(self.id)
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
        self.central.status_notification(self.id, connector_status(payload))
        return call_result.StatusNotification()

    @on(Action.meter_values)
    async def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], transaction_id: int | None = None
    ) -> call_result.MeterValues:
        """Record sampled values."""
        readings = parse_meter_values(meter_value, utcnow())
        self.central.meter_values(self.id, connector_id, readings, transaction_id)
        return call_result.MeterValues()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        """Answer from the entry's id tags and policy."""
        return call_result.Authorize(id_tag_info=self.central.authorize(self.id, id_tag))

    @on(Action.start_transaction)
    async def on_start_transaction(self, **payload: Any) -> call_result.StartTransaction:
        """Start (or recognise a replay of) a transaction."""
        transaction_id, info = await self.central.start_transaction(self.id, transaction_start(payload))
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=info)

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, **payload: Any) -> call_result.StopTransaction:
        """Stop a transaction; always answered, known or not."""
        info = await self.central.stop_transaction(self.id, transaction_stop(payload))
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None
    ) -> call_result.DataTransfer:
        """Announce the vendor message; no vendor extension is implemented."""
        return call_result.DataTransfer(status=self.central.data_transfer(self.id, vendor_id, message_id, data))

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
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None
    ) -> call_result.SecurityEventNotification:
        """Log and announce a security event."""
        self.central.security_event(self.id, type, timestamp, tech_info)
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
