"""The engine's outbound ports: change listener and persistence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .state import Transaction


@dataclass(frozen=True, slots=True)
class IdTagPresented:
    """An id tag was presented (Authorize or StartTransaction) and answered."""

    charge_point_id: str
    connector_id: int | None
    id_tag: str
    status: str


@dataclass(frozen=True, slots=True)
class DataTransferReceived:
    """A charger sent DataTransfer."""

    charge_point_id: str
    vendor_id: str
    message_id: str | None
    data: str | None


@dataclass(frozen=True, slots=True)
class SecurityEventReceived:
    """A charger sent SecurityEventNotification (OCPP 1.6 security extension)."""

    charge_point_id: str
    type: str
    timestamp: str
    tech_info: str | None


@dataclass(frozen=True, slots=True)
class CertificateSigningRequested:
    """A charger sent SignCertificate: its CSR waits for a CertificateSigned from the operator."""

    charge_point_id: str
    csr: str


class CentralSystemListener(Protocol):
    """What the engine tells the outside world; every method is called in the event loop."""

    def charger_added(self, charge_point_id: str) -> None:
        """A charger became known (accepted or pending)."""

    def charger_pending(self, charge_point_id: str) -> None:
        """A charger unknown to this entry booted and was answered Pending."""

    def connector_added(self, charge_point_id: str, connector_id: int) -> None:
        """A connector was seen for the first time."""

    def meter_keys_added(self, charge_point_id: str, connector_id: int, keys: list[str]) -> None:
        """Meter keys were reported for the first time on a connector."""

    def charger_changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Values changed; `keys` names them (`status`, `boot`, meter keys, ...)."""

    def transaction_started(self, transaction: Transaction) -> None:
        """A new transaction started (not fired for a replay)."""

    def transaction_stopped(self, transaction: Transaction) -> None:
        """A transaction stopped (or a stop for an unknown transaction was recorded)."""

    def id_tag_presented(self, event: IdTagPresented) -> None:
        """An id tag was presented and answered."""

    def data_transfer(self, event: DataTransferReceived) -> None:
        """A charger sent DataTransfer."""

    def security_event(self, event: SecurityEventReceived) -> None:
        """A charger reported a security event."""

    def certificate_signing_requested(self, event: CertificateSigningRequested) -> None:
        """A charger asked for its certificate to be signed."""


class Persistence(Protocol):
    """Where the engine's durable state goes."""

    async def async_save_now(self, data: dict[str, Any]) -> None:
        """Write the state and return once it is on disk."""

    def save_later(self) -> None:
        """Schedule a write of the state soon (coalesced)."""
