"""What a wire session needs of the core (CentralSystem), so that sessions do not import it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from .authorization import AuthorizationState, Reservation
from .configuration import ConfigurationValue
from .message_log import MessageLogs
from .reports import ConnectorStatus, Readings, TransactionEvent, TransactionStart, TransactionStop
from .state import BootInfo, ChargerState, Transaction


class Core(Protocol):
    """The central system as its sessions see it: every method is called in the event loop."""

    @property
    def chargers(self) -> Mapping[str, ChargerState]:
        """Return the known chargers by charge point id."""

    @property
    def message_logs(self) -> MessageLogs:
        """Return each charger's log of frames."""

    @property
    def auth(self) -> AuthorizationState:
        """Return the reservations, presented id tags and local lists."""

    def end_reservation(self, reservation_id: int, why: str) -> Reservation | None:
        """Forget a reservation (used, cancelled, expired); return it, None when unknown."""

    def is_accepted(self, charge_point_id: str) -> bool:
        """Return True when the charger may use the whole protocol."""

    def registration_status(self, charge_point_id: str) -> str | None:
        """Return Accepted/Pending/Rejected, None when the charger never booted."""

    def max_connector_id(self, charge_point_id: str) -> int:
        """Return the highest connector id the charger may use."""

    def message_received(self, charge_point_id: str, *, heartbeat: bool = False) -> datetime:
        """Note that the charger was heard from."""

    def boot_notification(
        self, charge_point_id: str, boot: BootInfo, *, upstream_status: str | None = None
    ) -> tuple[str, int]:
        """Record a boot; return (registration status, heartbeat interval)."""

    def charger_rebooted(self, charge_point_id: str, now: datetime | None = None) -> None:
        """Note that a charger booted on its own: the transactions held open for it are in doubt."""

    def status_notification(self, charge_point_id: str, report: ConnectorStatus) -> None:
        """Record a connector's status."""

    def meter_values(
        self, charge_point_id: str, connector_id: int, readings: Readings, transaction_id: int | str | None
    ) -> None:
        """Record meter readings."""

    def authorize(self, charge_point_id: str, id_tag: str) -> dict[str, Any]:
        """Return the id tag answer (status, expiry_date, parent_id_tag) and announce the tag."""

    async def start_transaction(self, charge_point_id: str, started: TransactionStart) -> tuple[int, dict[str, Any]]:
        """Record a start; return (transaction id, id tag answer)."""

    async def stop_transaction(
        self, charge_point_id: str, stopped: TransactionStop, *, observed: bool = False
    ) -> dict[str, Any] | None:
        """Record a stop; return the id tag answer when an id tag was given."""

    def data_transfer(self, charge_point_id: str, vendor_id: str, message_id: str | None, data: Any) -> str:
        """Announce vendor data; return the answer's status."""

    def firmware_status(self, charge_point_id: str, status: str) -> None:
        """Record a firmware update's progress."""

    def diagnostics_status(self, charge_point_id: str, status: str) -> None:
        """Record a diagnostics upload's progress."""

    def log_status(self, charge_point_id: str, status: str, request_id: int | None) -> None:
        """Record a log upload's progress."""

    def security_event(self, charge_point_id: str, event_type: str, timestamp: str, tech_info: str | None) -> None:
        """Log and announce a security event."""

    def sign_certificate(self, charge_point_id: str, csr: str) -> str:
        """Announce a certificate signing request; return the answer's status."""

    def update_configuration(self, charge_point_id: str, values: Mapping[str, ConfigurationValue]) -> None:
        """Record configuration keys read from or written to the charger."""

    def authorize_observed(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Announce an id tag the upstream answered for a relayed charger."""

    async def start_transaction_observed(
        self, charge_point_id: str, started: TransactionStart, transaction_id: int | str, status: str
    ) -> None:
        """Record a relayed charger's start under the upstream's transaction id."""

    async def transaction_event(
        self, charge_point_id: str, event: TransactionEvent
    ) -> tuple[dict[str, Any] | None, Transaction | None]:
        """Record a 2.0.1 TransactionEvent; return (the id token's answer, if one was sent; the transaction)."""
