"""
Instantaneous readings (power, current, offered power and current): never shown longer than they are true.

A charger reports power and current while it charges, and then usually nothing at all: the last
reading (10 kW) would stay on dashboards, in the solar blueprint's sums and in the site
controller's headroom for as long as the connector is idle, and come back after a restart. So
an instantaneous reading drops to 0 when its connector's transaction ends or its status leaves
Charging/SuspendedEV/SuspendedEVSE, unless the charger reports a value after that moment (a
newer reading replaces the 0 as any reading does); a reading of an idle connector older than a
few sample intervals becomes 0; and a restored one of an idle connector is 0 from the start.

0 rather than unavailable: an idle connector draws nothing, which is what 0 says, and sums,
numeric-state automations and the site controller's arithmetic all break on `unavailable`.
Energy registers, voltage, frequency, SoC and temperature keep their last value: they stay true
(or are the charger's to update) while nothing flows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from .state import ChargerState, ConnectorState

# Statuses in which a connector may draw power (spec 4.9, ChargePointStatus).
DRAWING_STATUSES = frozenset({"Charging", "SuspendedEV", "SuspendedEVSE"})
# A reading of an idle connector older than this many sample intervals is no longer true.
STALE_SAMPLE_INTERVALS = 3
# The sample interval assumed when the charger's MeterValueSampleInterval is unknown or 0.
DEFAULT_SAMPLE_INTERVAL = timedelta(seconds=60)


def is_instantaneous(measurand: str) -> bool:
    """Return True for a measurand that says what flows now (power, current; not the power factor)."""
    return measurand.startswith(("Power.", "Current.")) and measurand != "Power.Factor"


def is_idle(charger: ChargerState, connector: ConnectorState) -> bool:
    """Return True when a connector draws nothing: no transaction, not charging (connector 0: none of them)."""
    if connector.connector_id != 0:
        return connector.transaction is None and connector.status not in DRAWING_STATUSES
    return all(is_idle(charger, other) for other in charger.connectors.values() if other.connector_id != 0)


def zero_at(connector: ConnectorState, moment: datetime) -> frozenset[str]:
    """
    Set a connector's instantaneous readings to 0 as of `moment` (a stop, a status change).

    A reading taken after `moment` is the charger's word on what flows since, and stays. The
    0 carries `moment`, so any later reading replaces it. Returns the keys that changed.
    """
    changed = []
    for key, reading in connector.meters.items():
        if is_instantaneous(reading.measurand) and reading.value != 0 and reading.timestamp <= moment:
            connector.meters[key] = replace(reading, value=0.0, timestamp=moment, context=None)
            changed.append(key)
    return frozenset(changed)


def zero_older_than(connector: ConnectorState, cutoff: datetime | None) -> frozenset[str]:
    """
    Set a connector's instantaneous readings taken before `cutoff` (None: all) to 0.

    They keep their time: the charger's clock may be behind ours, and its next reading must
    still count as newer. Returns the keys that changed.
    """
    changed = []
    for key, reading in connector.meters.items():
        if not is_instantaneous(reading.measurand) or reading.value == 0:
            continue
        if cutoff is None or reading.timestamp < cutoff:
            connector.meters[key] = replace(reading, value=0.0, context=None)
            changed.append(key)
    return frozenset(changed)


def sample_interval(charger: ChargerState) -> timedelta:
    """Return how often the charger reports: the longer of its sample and clock-aligned intervals."""
    seconds = [
        value
        for value in (charger.config_int("MeterValueSampleInterval"), charger.config_int("ClockAlignedDataInterval"))
        if value is not None and value > 0
    ]
    return timedelta(seconds=max(seconds)) if seconds else DEFAULT_SAMPLE_INTERVAL


def expire_stale(charger: ChargerState, now: datetime) -> dict[int, frozenset[str]]:
    """Zero idle connectors' instantaneous readings older than a few sample intervals; return the keys by connector."""
    cutoff = now - STALE_SAMPLE_INTERVALS * sample_interval(charger)
    expired = {}
    for connector in charger.connectors.values():
        if is_idle(charger, connector) and (keys := zero_older_than(connector, cutoff)):
            expired[connector.connector_id] = keys
    return expired
