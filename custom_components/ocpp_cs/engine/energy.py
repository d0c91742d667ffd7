"""
The `energy` sensors: what the chargers delivered, in a form Home Assistant's statistics count exactly.

Home Assistant's long-term statistics of a `total_increasing` sensor add up its rises. A drop
to below 90% of the previous value is taken for a meter reset (what follows counts from 0); a
smaller drop is a dip (a warning, and nothing counted until the value is back above it).
Chargers' energy registers do all of that for reasons of their own: many restart at 0 for
every session, some glitch to 0 for a reading, some jump after a firmware update, some report
in kWh with one decimal, some report nothing before StopTransaction. The register sensor shows
what the register says, and its statistics count what the register did.

A connector's `energy` counts sessions instead: the energy of every stopped session, exactly as
the transaction is recorded (`Transaction.energy_wh`), added once, when its StopTransaction is
first recorded (a replay adds nothing), plus the running session's energy so far. A session
whose stop had to be reconstructed (a new one started without it) adds what was seen of it; its
real stop, if it ever comes, adds the rest. The value never goes down: where a running session's
readings ran ahead of its final energy (a register in kWh, rounded up), it stays put until the
next sessions catch up, so it converges on the sum of the sessions. A charger's `energy` is the
sum of its connectors'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .history import HistoryRecord
from .state import ChargerState, ConnectorState, Transaction

# The change key of the `energy` sensors.
ENERGY = "energy"
ENERGY_KEYS = frozenset({ENERGY})


def count_stopped(connector: ConnectorState, transaction: Transaction) -> None:
    """Add the part of a stopped (or superseded) transaction's energy not counted yet."""
    energy = transaction.energy_wh()
    if energy is None:
        return
    connector.stopped_energy_wh += energy - transaction.counted_wh
    transaction.counted_wh = energy


def running_wh(connector: ConnectorState) -> float:
    """Return the part of the running session's energy not counted yet."""
    transaction = connector.transaction
    if transaction is None:
        return 0.0
    return max(0.0, (transaction.energy_wh() or 0.0) - transaction.counted_wh)


def refresh(connector: ConnectorState) -> bool:
    """Raise the connector's `energy` to its sessions' energy now; return True when it went up."""
    total = connector.stopped_energy_wh + running_wh(connector)
    if total <= connector.energy_wh:
        return False
    connector.energy_wh = total
    return True


def charger_energy_wh(charger: ChargerState) -> float:
    """Return the charger's `energy`: the sum of its connectors'."""
    return sum(connector.energy_wh for connector in charger.connectors.values())


def seed(
    chargers: Mapping[str, ChargerState],
    records: Iterable[HistoryRecord],
    open_transactions: Mapping[tuple[str, int | str], Transaction],
) -> set[tuple[str, int]]:
    """
    Start the `energy` of an install from before it at the energy of the recorded sessions.

    `open_transactions` by (charge point id, transaction id): a session whose stop was
    reconstructed is still open, and its real stop must add only what the record lacks.
    Returns the (charge point id, connector id) whose `energy` changed.
    """
    for record in records:
        charger = chargers.get(record.charge_point_id)
        connector = charger.connectors.get(record.connector_id) if charger is not None else None
        if connector is None or not record.start_seen or not record.energy_wh:
            continue
        connector.stopped_energy_wh += record.energy_wh
        if not record.stop_seen:
            transaction = open_transactions.get(record.key)
            if transaction is not None:
                transaction.counted_wh = record.energy_wh
    changed: set[tuple[str, int]] = set()
    for charger in chargers.values():
        for connector in charger.connectors.values():
            if refresh(connector):
                changed.add((charger.charge_point_id, connector.connector_id))
    return changed
