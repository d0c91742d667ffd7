"""
One connected OCPP 2.0.1 charging station: its CALLs checked, handed to the core in its terms, and answered.

The framing (message ids, one call of ours at a time, answers to waiting calls) is the 1.6
session's (v16/framing.py): OCPP-J is the same for both versions. What differs is here: the
actions, their schemas (checks.py), their payloads (translate.py) and the answers. An EVSE is
what a 1.6 connector is to the core: EVSE n is connector n.

Outbound: `call(payload)` sends any `ocpp.v201.call` object with our framing and returns the
`ocpp.v201.call_result` object of the answer (schema-checked both ways, as for 1.6); a payload
of another OCPP version raises `WrongOcppVersion` and nothing is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
import logging
from typing import Any

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
from ocpp.v201 import call, call_result

from ..ports import Core
from ..reports import ConnectorStatus
from ..settings import REGISTRATION_ACCEPTED
from ..util import format_datetime, parse_datetime, utcnow
from ..v16.framing import FramedSession
from .checks import KNOWN_ACTIONS, OCPP_VERSION, request_error
from .notifications import NOTIFICATIONS, Notification, notify_report
from .translate import boot_info, connector_status, id_token_info, parse_meter_values, transaction_event

_LOGGER = logging.getLogger(__name__)

type Handler = Callable[[V201Session, dict[str, Any]], Awaitable[Any]]


class WrongOcppVersion(TypeError):
    """A call of another OCPP version was meant for a 2.0.1 charging station (nothing was sent)."""


class V201Session(FramedSession):
    """A 2.0.1 charging station's WebSocket session; handlers record in the central system and answer."""

    ocpp_version = OCPP_VERSION
    call_results = call_result

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        central: Core,
        *,
        response_timeout: float = 30,
        on_accepted_boot: Callable[[V201Session], Awaitable[None]] | None = None,
    ) -> None:
        """Create the session for an accepted WebSocket connection that chose subprotocol ocpp2.0.1."""
        frames = central.message_logs.log_for(charge_point_id)
        super().__init__(charge_point_id, connection, frames, response_timeout=response_timeout)
        self.central = central
        self._on_accepted_boot = on_accepted_boot
        # As for 1.6 (the glue's after-connect logic reads them): booted on this connection,
        # and a StatusNotification seen since.
        self.booted = False
        self.status_seen = False
        # Per EVSE: its last 2.0.1 connector status, the chargingState of its running
        # transaction, and whether its last transaction ended (Occupied then means Finishing).
        self.connector_statuses: dict[int, str] = {}
        self.charging_states: dict[int, str] = {}
        self.transaction_ended: set[int] = set()
        # Reports (GetBaseReport, GetReport) asked for, by request id: set once complete.
        self._reports: dict[int, asyncio.Event] = {}
        # The reportData of reports an action collects (get_base_report), as received (camelCase):
        # an empty list put here by the action, which takes it back once the report is complete.
        self.report_data: dict[int, list[dict[str, Any]]] = {}

    async def call(
        self, payload: Any, suppress: bool = True, unique_id: str | None = None, skip_schema_validation: bool = False
    ) -> Any:
        """Send an `ocpp.v201.call` object and return its `ocpp.v201.call_result` answer (see FramedSession.call)."""
        if type(payload).__module__ != "ocpp.v201.call":
            raise WrongOcppVersion(f"{type(payload).__name__} of {type(payload).__module__} sent to a 2.0.1 charger")
        return await super().call(
            payload, suppress=suppress, unique_id=unique_id, skip_schema_validation=skip_schema_validation
        )

    async def request_boot(self) -> None:
        """Ask the station to send BootNotification again (TriggerMessage, F06; a CALLERROR is logged)."""
        await self.call(call.TriggerMessage(requested_message="BootNotification"))

    def expect_report(self, request_id: int, *, collect: bool = False) -> asyncio.Event:
        """Return the event set once the report of `request_id` (its NotifyReport messages) is complete.

        With `collect`, the parts' reportData are kept for `collected_report` (get_base_report).
        """
        if collect:
            self.report_data[request_id] = []
        return self._reports.setdefault(request_id, asyncio.Event())

    def collected_report(self, request_id: int) -> list[dict[str, Any]]:
        """Return (and forget) the reportData collected for `request_id`."""
        return self.report_data.pop(request_id, [])

    def _check(self, msg: Call) -> Handler:
        """Return the request's handler, or raise the CALLERROR it earns (action, registration, payload)."""
        action = msg.action
        handler = HANDLERS.get(action)
        if handler is None:
            if action in KNOWN_ACTIONS:
                raise NotSupportedError(description=f"{action} is not supported by this CSMS")
            raise OcppNotImplementedError(description=f"{action} is not an OCPP 2.0.1 action")
        if action != "BootNotification" and not self.central.is_accepted(self.id):
            status = self.central.registration_status(self.id) or "not accepted"
            # B02.FR.09 / B03.FR.08: until accepted, only BootNotification is answered.
            raise SecurityError(
                description=f"Charging station is not accepted (registration {status}); send BootNotification"
            )
        if not isinstance(msg.payload, dict):
            raise FormationViolationError(description="Payload must be a JSON object")
        if (error := request_error(action, msg.payload)) is not None:
            raise error
        evse_id = msg.payload.get("evseId")
        if isinstance(evse_id, int) and not 0 <= evse_id <= self.central.max_connector_id(self.id):
            # Every EVSE becomes a device with entities: refuse absurd ids.
            raise PropertyConstraintViolationError(description=f"evseId: {evse_id} is out of range")
        return handler

    async def answer_call(self, msg: Call) -> None:
        """Check the request, hand it to its handler and send the answer (or the CALLERROR it earned)."""
        action = msg.action
        try:
            handler = self._check(msg)
            self.central.message_received(self.id, heartbeat=action == "Heartbeat")
            response = await handler(self, msg.payload)
        except OCPPError as error:
            self._log_once(
                action, error.code, "%s: %s answered with %s: %s", self.id, action, error.code, error.description
            )
            await self._send_error(msg.unique_id, error)
            return
        except Exception:  # a bug of ours must not end the charging station's session
            _LOGGER.exception("%s: error handling %s %s", self.id, action, msg.payload)
            await self._send_error(msg.unique_id, InternalError(description="An unexpected error occurred"))
            return
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        await self._send(msg.create_call_result(payload).to_json())

    # --- B: provisioning ------------------------------------------------------------------

    async def on_boot_notification(self, payload: dict[str, Any]) -> call_result.BootNotification:
        """Register the station per the entry's new-charger policy (B01-B03)."""
        self.booted = True
        self.status_seen = False
        status, interval = self.central.boot_notification(self.id, boot_info(payload))
        if status == REGISTRATION_ACCEPTED:
            self.central.message_received(self.id)
            if self._on_accepted_boot is not None:
                self.run_in_background(self._on_accepted_boot(self))
        return call_result.BootNotification(current_time=format_datetime(utcnow()), interval=interval, status=status)

    async def on_heartbeat(self, _payload: dict[str, Any]) -> call_result.Heartbeat:
        """Answer with the CSMS's time (G02)."""
        return call_result.Heartbeat(current_time=format_datetime(utcnow()))

    async def on_notify_report(self, payload: dict[str, Any]) -> Any:
        """Keep a report's part in the device model (B07, B08); its last part completes it."""
        answer = await notify_report(self.central, self.id, payload)
        if (parts := self.report_data.get(int(payload["requestId"]))) is not None:
            parts.extend(payload.get("reportData") or ())
        if not payload.get("tbc"):
            complete = self._reports.pop(int(payload["requestId"]), None)
            if complete is not None:
                complete.set()
        return answer

    # --- G: availability --------------------------------------------------------------------

    async def on_status_notification(self, payload: dict[str, Any]) -> call_result.StatusNotification:
        """Record an EVSE's connector status (G01), as the 1.6 status it amounts to."""
        self.status_seen = True
        evse_id = int(payload["evseId"])
        self.connector_statuses[evse_id] = payload["connectorStatus"]
        self.publish_status(evse_id, parse_datetime(payload.get("timestamp")))
        return call_result.StatusNotification()

    def publish_status(self, evse_id: int, timestamp: datetime | None = None) -> None:
        """Hand an EVSE's status (its connector status with its transaction's charging state) to the core."""
        reported = self.connector_statuses.get(evse_id)
        if reported is None:
            return
        charger = self.central.chargers.get(self.id)
        connector = charger.connectors.get(evse_id) if charger is not None else None
        error_code = connector.error_code if connector is not None and connector.error_code else "NoError"
        status = connector_status(reported, self.charging_states.get(evse_id), evse_id in self.transaction_ended)
        self.central.status_notification(
            self.id,
            ConnectorStatus(
                connector_id=evse_id,
                status=status,
                error_code=error_code,
                info=connector.info if connector is not None else None,
                vendor_error_code=connector.vendor_error_code if connector is not None else None,
                # A change of charging state keeps the status's own time: a station's clock behind
                # ours must not make its next StatusNotification look older than this.
                timestamp=timestamp or (connector.status_timestamp if connector is not None else None) or utcnow(),
            ),
        )

    # --- E: transactions, J: meter values, C: authorization ----------------------------------

    async def on_transaction_event(self, payload: dict[str, Any]) -> call_result.TransactionEvent:
        """Record a transaction's start, update or end (E01-E15); the idToken is answered as Authorize is."""
        event = transaction_event(payload)
        info, transaction = await self.central.transaction_event(self.id, event)
        evse_id = transaction.connector_id if transaction is not None else event.connector_id
        if evse_id is not None and evse_id > 0:
            if event.event_type == "Ended":
                self.charging_states.pop(evse_id, None)
                self.transaction_ended.add(evse_id)
            else:
                self.transaction_ended.discard(evse_id)
                if event.charging_state is not None:
                    self.charging_states[evse_id] = event.charging_state
            self.publish_status(evse_id)
        return call_result.TransactionEvent(id_token_info=id_token_info(info) if info is not None else None)

    async def on_meter_values(self, payload: dict[str, Any]) -> call_result.MeterValues:
        """Record sampled values of an EVSE (0: the station's main meter) outside transactions (J01)."""
        readings = parse_meter_values(payload["meterValue"], utcnow())
        self.central.meter_values(self.id, int(payload["evseId"]), readings, None)
        return call_result.MeterValues()

    async def on_authorize(self, payload: dict[str, Any]) -> call_result.Authorize:
        """Answer from the entry's id tags and policies: an id tag is idToken.idToken, of any type (C01)."""
        info = self.central.authorize(self.id, str(payload["idToken"]["idToken"]))
        return call_result.Authorize(id_token_info=id_token_info(info))


def _notification_handler(notification: Notification) -> Handler:
    """Return a handler that answers a notification (notifications.py) for the session's station."""

    async def handler(session: V201Session, payload: dict[str, Any]) -> Any:
        return await notification(session.central, session.id, payload)

    return handler


# The charging station's requests this CSMS answers, by action (anything else: NotSupported/NotImplemented).
HANDLERS: dict[str, Handler] = {
    "BootNotification": V201Session.on_boot_notification,
    "Heartbeat": V201Session.on_heartbeat,
    "StatusNotification": V201Session.on_status_notification,
    "TransactionEvent": V201Session.on_transaction_event,
    "MeterValues": V201Session.on_meter_values,
    "Authorize": V201Session.on_authorize,
    "NotifyReport": V201Session.on_notify_report,
    **{action: _notification_handler(notification) for action, notification in NOTIFICATIONS.items()},
}
