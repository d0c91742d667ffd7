"""Plain records of the state model: boot information, transactions, charging limits, id tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .util import parse_datetime

# A meterStart below this fraction of the register shown is the register restarting (Home
# Assistant's statistics take a drop below 90% of the previous value for a meter reset).
REGISTER_RESTART_FRACTION = 0.9
# A first reading (Wh) above this, in a session with meterStart 0, is a lifetime register's:
# no session delivers 100 kWh before its first reading.
LIFETIME_REGISTER_WH = 100_000


def isoformat_or_none(value: datetime | None) -> str | None:
    """Return a time as ISO 8601 for persistence, None as None."""
    return value.isoformat() if value else None


@dataclass(slots=True)
class BootInfo:
    """What a charger said about itself in BootNotification."""

    vendor: str | None = None
    model: str | None = None
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None

    @property
    def serial_number(self) -> str | None:
        """Return the serial number to show on the device."""
        return self.charge_point_serial_number or self.charge_box_serial_number

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BootInfo:
        """Restore from persistence, ignoring unknown keys."""
        return cls(**{name: data.get(name) for name in cls.__slots__})


# Our transaction ids are integers (OCPP 1.6); an OCPP 2.0.1 station's own are strings, kept as sent.
type TransactionId = int | str


def transaction_id_from(value: Any) -> TransactionId:
    """Return a stored transaction id: a string stays one (2.0.1), anything else is an integer (1.6)."""
    return value if isinstance(value, str) else int(value)


@dataclass(slots=True)
class Transaction:
    """A charging session as this central system knows it."""

    transaction_id: TransactionId
    charge_point_id: str
    connector_id: int
    id_tag: str | None
    meter_start: int | None
    start: datetime | None
    reservation_id: int | None = None
    # The highest energy register reading (Wh) seen during the session, and the first one
    # seen while it ran (not one that came with its StopTransaction).
    last_register_wh: float | None = None
    first_register_wh: float | None = None
    # The connector's energy register (Wh) when the session started, if one was shown.
    register_before_wh: float | None = None
    meter_stop: int | None = None
    stop: datetime | None = None
    reason: str | None = None
    stop_id_tag: str | None = None
    # False when the stop was not seen (a StopTransaction for an unknown transaction).
    start_seen: bool = True
    # True for a transaction under an id we did not give: a relayed charger's (its upstream's,
    # local controller mode) or an OCPP 2.0.1 station's own.
    observed: bool = False
    # False when StartTransaction was answered other than Accepted (the charger may stop it).
    authorized: bool = True
    # The part of its energy (Wh) already in its connector's `stopped_energy_wh`: a stop
    # reconstructed when a new session started counts what was seen; its real stop adds the rest.
    counted_wh: float = 0.0
    # The id the charger itself used for it in place of ours (the `own_transaction_ids` quirk).
    charger_transaction_id: int | None = None
    # True when its end was reconstructed (the charger rebooted or went idle without a
    # StopTransaction, orphans.py): `stop` and `meter_stop` are what was known then, until (unless)
    # the charger's queued StopTransaction brings the real ones.
    stop_reconstructed: bool = False

    @property
    def our_id(self) -> int:
        """Return the id we gave it (open_transactions are keyed by it); ValueError for an observed one."""
        if isinstance(self.transaction_id, int) and not self.observed:
            return self.transaction_id
        raise ValueError(f"transaction {self.transaction_id!r} has no id of ours")

    @property
    def is_open(self) -> bool:
        """Return True while no StopTransaction has been received."""
        return self.stop is None

    def energy_wh(self) -> float | None:
        """
        Return the energy of the session in Wh, never negative.

        meterStop - meterStart once the session has ended, as the charger reports it; while
        it runs, its highest register reading so far - meterStart. Where meterStop cannot be
        right the highest reading of the session is its end: a meterStop below meterStart
        (the register was reset, or the charger sent 0), or a meterStop of 0 with readings
        above it (a charger that leaves it at 0 and reports its end in the Transaction.End
        sampled value). A glitch never makes energy negative.

        A meterStart of 0 is not always the register: some chargers send 0 with a lifetime
        register in their readings (see `base_wh`). The same base is used while the session
        runs and once it has stopped, so the running energy never exceeds the final one
        (the `energy` sensor never goes down: a running figure too high would stay).
        """
        if self.meter_start is None:
            return None
        base = self.base_wh()
        seen = self.last_register_wh
        stop = self.meter_stop
        if stop is not None and stop >= base and not (stop == 0 and seen is not None and seen > 0):
            return float(stop - base)
        if seen is None:
            return 0.0
        return max(0.0, seen - base)

    def base_wh(self) -> float:
        """
        Return the register value the session's energy is counted from.

        meterStart, unless it is 0 and the register did not restart for the session: its
        first reading (`first_register_wh`, taken while it ran) at or above 90% of the
        register shown before the session (`register_before_wh`) is the same register
        going on, counted from where it was (or from that reading, if lower). Without a
        register shown before, a first reading above anything a session could have
        delivered by then (LIFETIME_REGISTER_WH) is a lifetime register's, counted from
        that reading. Known only at its end (a Transaction.End value, meterStop), a register
        is taken to have gone on only when the one before was above that too: a register
        that restarts per session climbs back past its last value in a longer session.
        """
        start = self.meter_start or 0
        if start != 0:
            return float(start)
        first = self.first_register_wh
        went_on = first
        if went_on is None:
            went_on = self.last_register_wh if self.last_register_wh is not None else self.meter_stop
        if went_on is None or went_on <= 0:
            return 0.0
        before = self.register_before_wh
        if before is not None and before > 0:
            if went_on < REGISTER_RESTART_FRACTION * before:
                return 0.0
            if first is not None or before > LIFETIME_REGISTER_WH:
                return min(before, float(went_on))
            return 0.0
        if first is not None and first > LIFETIME_REGISTER_WH:
            return first
        return 0.0

    def duration_s(self) -> int | None:
        """Return the duration in whole seconds, when both ends are known."""
        if self.start is None or self.stop is None:
            return None
        return max(0, int((self.stop - self.start).total_seconds()))

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "transaction_id": self.transaction_id,
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "id_tag": self.id_tag,
            "meter_start": self.meter_start,
            "start": isoformat_or_none(self.start),
            "reservation_id": self.reservation_id,
            "last_register_wh": self.last_register_wh,
            "first_register_wh": self.first_register_wh,
            **({} if self.register_before_wh is None else {"register_before_wh": self.register_before_wh}),
            "meter_stop": self.meter_stop,
            "stop": isoformat_or_none(self.stop),
            "reason": self.reason,
            "stop_id_tag": self.stop_id_tag,
            "start_seen": self.start_seen,
            **({"observed": True} if self.observed else {}),
            **({} if self.authorized else {"authorized": False}),
            **({"counted_wh": self.counted_wh} if self.counted_wh else {}),
            **(
                {"charger_transaction_id": self.charger_transaction_id}
                if self.charger_transaction_id is not None
                else {}
            ),
            **({"stop_reconstructed": True} if self.stop_reconstructed else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        """Restore from persistence."""
        return cls(
            transaction_id=transaction_id_from(data["transaction_id"]),
            charge_point_id=str(data["charge_point_id"]),
            connector_id=int(data["connector_id"]),
            id_tag=data.get("id_tag"),
            meter_start=data.get("meter_start"),
            start=parse_datetime(data.get("start")),
            reservation_id=data.get("reservation_id"),
            last_register_wh=data.get("last_register_wh"),
            first_register_wh=data.get("first_register_wh"),
            register_before_wh=data.get("register_before_wh"),
            meter_stop=data.get("meter_stop"),
            stop=parse_datetime(data.get("stop")),
            reason=data.get("reason"),
            stop_id_tag=data.get("stop_id_tag"),
            start_seen=bool(data.get("start_seen", True)),
            observed=bool(data.get("observed", False)),
            authorized=bool(data.get("authorized", True)),
            counted_wh=float(data.get("counted_wh") or 0.0),
            charger_transaction_id=(
                int(data["charger_transaction_id"]) if data.get("charger_transaction_id") is not None else None
            ),
            stop_reconstructed=bool(data.get("stop_reconstructed", False)),
        )


@dataclass(slots=True)
class ChargingLimit:
    """A limit a user set for a scope (connector 0 = the whole charger)."""

    value: float
    unit: str  # as the user set it: A or W

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {"value": self.value, "unit": self.unit}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChargingLimit | None:
        """Restore a persisted limit."""
        try:
            unit = str(data["unit"])
            return cls(float(data["value"]), unit) if unit in ("A", "W") else None
        except (KeyError, TypeError, ValueError):
            return None


ID_TAG_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")


@dataclass(slots=True)
class IdTag:
    """An id tag on the entry's list."""

    id_tag: str
    status: str = "Accepted"
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None
    name: str | None = None
    # The chargers the tag may be used on (charge point ids); empty = every charger.
    charge_point_ids: tuple[str, ...] = ()
    # At most one open transaction at a time (a second start answers ConcurrentTx).
    single_transaction: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {
            "id_tag": self.id_tag,
            "status": self.status,
            "expiry_date": isoformat_or_none(self.expiry_date),
            "parent_id_tag": self.parent_id_tag,
            "name": self.name,
            "charge_point_ids": list(self.charge_point_ids),
            "single_transaction": self.single_transaction,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IdTag:
        """Restore from persistence."""
        status = data.get("status") or "Accepted"
        return cls(
            id_tag=str(data["id_tag"]),
            status=status if status in ID_TAG_STATUSES else "Invalid",
            expiry_date=parse_datetime(data.get("expiry_date")),
            parent_id_tag=data.get("parent_id_tag") or None,
            name=data.get("name") or None,
            charge_point_ids=tuple(str(cp) for cp in data.get("charge_point_ids") or ()),
            single_transaction=bool(data.get("single_transaction", True)),
        )
