"""The data of the `ocpp_cs_transaction_started` / `ocpp_cs_transaction_stopped` events (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from .engine.history import HistoryRecord
from .engine.state import Transaction
from .engine.util import snake


def transaction_event(
    transaction: Transaction, *, stopped: bool = False, record: HistoryRecord | None = None
) -> dict[str, Any]:
    """Return the event data of a started or stopped transaction; a stop's cost comes from its `record`."""
    data: dict[str, Any] = {
        "charge_point_id": transaction.charge_point_id,
        "connector_id": transaction.connector_id,
        "transaction_id": transaction.transaction_id,
        "id_tag": transaction.id_tag,
        "meter_start": transaction.meter_start,
        "timestamp": transaction.start.isoformat() if transaction.start else None,
    }
    if stopped:
        energy = transaction.energy_wh()
        data.update(
            meter_stop=transaction.meter_stop,
            energy=round(energy / 1000.0, 3) if energy is not None else None,
            duration=transaction.duration_s(),
            reason=snake(transaction.reason or "Local"),
            stop_timestamp=transaction.stop.isoformat() if transaction.stop else None,
            # Issue 18: None when the entry has no price source.
            cost=record.cost if record is not None else None,
            currency=record.currency if record is not None else None,
        )
    return data
