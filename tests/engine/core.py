"""A central system with a recording listener and an in-memory persistence (no Home Assistant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from custom_components.ocpp_cs.engine.central import CentralSettings, CentralSystem
from custom_components.ocpp_cs.engine.listener import (
    CertificateSigningRequested,
    DataTransferReceived,
    IdTagPresented,
    SecurityEventReceived,
)
from custom_components.ocpp_cs.engine.reports import ConnectorStatus, TransactionStart, TransactionStop
from custom_components.ocpp_cs.engine.state import BootInfo, Transaction
from custom_components.ocpp_cs.engine.v16.translate import parse_meter_values

CP = "CP-1"


def at(minute: int, hour: int = 10) -> datetime:
    """Return a charger's time on 1 January 2025 (UTC)."""
    return datetime(2025, 1, 1, hour, minute, tzinfo=UTC)


@dataclass
class Recorder:
    """Everything the engine told the outside world, and every snapshot it saved."""

    added: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    connectors: list[tuple[str, int]] = field(default_factory=list)
    meter_keys: list[tuple[str, int, list[str]]] = field(default_factory=list)
    changes: list[tuple[str, int, frozenset[str]]] = field(default_factory=list)
    started: list[Transaction] = field(default_factory=list)
    stopped: list[Transaction] = field(default_factory=list)
    presented: list[IdTagPresented] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    saved: list[dict[str, Any]] = field(default_factory=list)
    later: int = 0

    def charger_added(self, charge_point_id: str) -> None:
        self.added.append(charge_point_id)

    def charger_pending(self, charge_point_id: str) -> None:
        self.pending.append(charge_point_id)

    def connector_added(self, charge_point_id: str, connector_id: int) -> None:
        self.connectors.append((charge_point_id, connector_id))

    def meter_keys_added(self, charge_point_id: str, connector_id: int, keys: list[str]) -> None:
        self.meter_keys.append((charge_point_id, connector_id, keys))

    def charger_changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        self.changes.append((charge_point_id, connector_id, keys))

    def transaction_started(self, transaction: Transaction) -> None:
        self.started.append(transaction)

    def transaction_stopped(self, transaction: Transaction) -> None:
        self.stopped.append(transaction)

    def id_tag_presented(self, event: IdTagPresented) -> None:
        self.presented.append(event)

    def data_transfer(self, event: DataTransferReceived) -> None:
        self.events.append(event)

    def security_event(self, event: SecurityEventReceived) -> None:
        self.events.append(event)

    def certificate_signing_requested(self, event: CertificateSigningRequested) -> None:
        self.events.append(event)

    async def async_save_now(self, data: dict[str, Any]) -> None:
        self.saved.append(data)

    def save_later(self) -> None:
        self.later += 1


def central(**settings: Any) -> tuple[CentralSystem, Recorder]:
    """Return a central system with one booted, accepted charger (CP-1), and its recorder."""
    recorder = Recorder()
    system = CentralSystem(CentralSettings(**settings), recorder, recorder)
    system.boot_notification(CP, BootInfo(vendor="Acme", model="One"))
    return system, recorder


def start(connector_id: int = 1, id_tag: str = "TAG", meter_start: int = 1000, minute: int = 0) -> TransactionStart:
    """Return a StartTransaction in the core's terms."""
    return TransactionStart(connector_id, id_tag, meter_start, at(minute))


def stop(
    transaction_id: int, meter_stop: int, minute: int, *, id_tag: str | None = None, readings: list[Any] | None = None
) -> TransactionStop:
    """Return a StopTransaction in the core's terms."""
    return TransactionStop(transaction_id, meter_stop, at(minute), id_tag=id_tag, readings=readings or ())


def register(wh: float, minute: int, context: str | None = None) -> list[Any]:
    """Return one energy register reading, parsed from a 1.6 sampledValue as a charger sends it."""
    sampled: dict[str, Any] = {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    if context is not None:
        sampled["context"] = context
    return parse_meter_values([{"timestamp": at(minute).isoformat(), "sampledValue": [sampled]}], at(59))


def status(connector_id: int, value: str, minute: int) -> ConnectorStatus:
    """Return a StatusNotification in the core's terms."""
    return ConnectorStatus(connector_id, value, "NoError", timestamp=at(minute))
