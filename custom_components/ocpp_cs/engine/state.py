"""The state model: chargers, connectors, transactions, id tags (plain dataclasses)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .configuration import (
    PROFILE_CORE,
    ConfigurationValue,
    configuration_from_dict,
    parse_bool,
    parse_int,
    parse_list,
)
from .meter import ENERGY_REGISTER, MeterReading
from .quirks import NO_QUIRKS, QUIRKS_AUTO, QuirkProfile, Quirks, resolve
from .util import parse_datetime

# How many lower energy-register readings in a row confirm a real meter reset.
REGISTER_DROP_CONFIRMATIONS = 3
# A meterStart below this fraction of the register shown is the register restarting (Home
# Assistant's statistics take a drop below 90% of the previous value for a meter reset).
REGISTER_RESTART_FRACTION = 0.9
# A first reading (Wh) above this, in a session with meterStart 0, is a lifetime register's:
# no session delivers 100 kWh before its first reading.
LIFETIME_REGISTER_WH = 100_000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _profile(value: Any) -> int | None:
    """Return a stored security profile (1 to 3), None when absent or not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3 else None


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


@dataclass(slots=True)
class Transaction:
    """A charging session as this central system knows it."""

    transaction_id: int
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
    # True for a relayed charger's transaction: its id is the upstream's (local controller mode).
    observed: bool = False
    # False when StartTransaction was answered other than Accepted (the charger may stop it).
    authorized: bool = True
    # The part of its energy (Wh) already in its connector's `stopped_energy_wh`: a stop
    # reconstructed when a new session started counts what was seen; its real stop adds the rest.
    counted_wh: float = 0.0
    # The id the charger itself used for it in place of ours (the `own_transaction_ids` quirk).
    charger_transaction_id: int | None = None

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
            "start": _iso(self.start),
            "reservation_id": self.reservation_id,
            "last_register_wh": self.last_register_wh,
            "first_register_wh": self.first_register_wh,
            **({} if self.register_before_wh is None else {"register_before_wh": self.register_before_wh}),
            "meter_stop": self.meter_stop,
            "stop": _iso(self.stop),
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
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transaction:
        """Restore from persistence."""
        return cls(
            transaction_id=int(data["transaction_id"]),
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
        )


@dataclass(slots=True)
class ConnectorState:
    """A connector (0 = the charger as a whole) and what it reported last."""

    connector_id: int
    status: str | None = None
    error_code: str | None = None
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None
    status_timestamp: datetime | None = None
    meters: dict[str, MeterReading] = field(default_factory=dict)
    # Energy register decreases waiting for confirmation (see ChargerState.apply_reading).
    pending_drop: list[MeterReading] = field(default_factory=list)
    # A restart of the energy register its running session's meterStart announced, until a
    # reading confirms it or shows the register went on (ChargerState.expect_register_restart).
    pending_restart: MeterReading | None = None
    transaction: Transaction | None = None
    last_transaction: Transaction | None = None
    # The energy of the connector's stopped sessions (Wh), each counted once (engine/energy.py),
    # and the `energy` sensor's value: that plus the running session's, never going down.
    stopped_energy_wh: float = 0.0
    energy_wh: float = 0.0

    @property
    def current_or_last_transaction(self) -> Transaction | None:
        """Return the running transaction, else the last one."""
        return self.transaction or self.last_transaction

    def to_dict(self) -> dict[str, Any]:
        """Serialise what must survive a restart (transactions are stored separately)."""
        return {
            "connector_id": self.connector_id,
            "status": self.status,
            "error_code": self.error_code,
            "info": self.info,
            "vendor_id": self.vendor_id,
            "vendor_error_code": self.vendor_error_code,
            "status_timestamp": _iso(self.status_timestamp),
            "meters": {key: reading.to_dict() for key, reading in self.meters.items()},
            "stopped_energy_wh": self.stopped_energy_wh,
            "energy_wh": self.energy_wh,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConnectorState:
        """Restore from persistence."""
        meters = {}
        for key, raw in (data.get("meters") or {}).items():
            reading = MeterReading.from_dict(raw)
            if reading is not None:
                meters[key] = reading
        return cls(
            connector_id=int(data["connector_id"]),
            status=data.get("status"),
            error_code=data.get("error_code"),
            info=data.get("info"),
            vendor_id=data.get("vendor_id"),
            vendor_error_code=data.get("vendor_error_code"),
            status_timestamp=parse_datetime(data.get("status_timestamp")),
            meters=meters,
            stopped_energy_wh=float(data.get("stopped_energy_wh") or 0.0),
            energy_wh=float(data.get("energy_wh") or 0.0),
        )


def is_register_drop(current: MeterReading, reading: MeterReading) -> bool:
    """Return True when an energy register reading is lower than the one stored."""
    if not reading.measurand.endswith(".Register"):
        return False
    new_wh, old_wh = reading.as_wh(), current.as_wh()
    return new_wh is not None and old_wh is not None and new_wh < old_wh


@dataclass(slots=True)
class ChargerState:
    """Everything known about one charge point."""

    charge_point_id: str
    accepted: bool = False
    boot: BootInfo = field(default_factory=BootInfo)
    connected: bool = False
    last_seen: datetime | None = None
    last_boot: datetime | None = None
    firmware_status: str | None = None
    diagnostics_status: str | None = None
    connectors: dict[int, ConnectorState] = field(default_factory=dict)
    number_of_connectors: int = 0
    # Configuration keys from the last GetConfiguration (spec chapter 9 and vendor keys).
    configuration: dict[str, ConfigurationValue] = field(default_factory=dict)
    # Charging limits users set, by connector (0 = the whole charger); re-sent on reconnect.
    limits: dict[int, ChargingLimit] = field(default_factory=dict)
    # The user's settings for this charger: its maximum current and its phases.
    max_current: float = 32.0
    phases: int = 3
    # The lowest current the site controller gives it while charging (below it: paused).
    min_current: float = 6.0
    # This charger's own HTTP Basic password (security profile 1/2); overrides the entry's.
    password: str | None = None
    # The password before the last change, accepted until the charger authenticates with the new one.
    previous_password: str | None = None
    # The security profile this charger must connect with (2 or 3; None: the entry's), and the
    # lower one still accepted after a raise until its first connection with the new one (the
    # whitepaper's A05: a charger that cannot connect with the new profile falls back).
    security_profile: int | None = None
    security_profile_fallback: int | None = None
    # The last LogStatusNotification status (security extension GetLog uploads).
    log_status: str | None = None
    # Local controller mode: relayed to the upstream (None: the entry's default, relayed
    # when an upstream URL is set) and the password it uses there (HTTP Basic, user = its id).
    relayed: bool | None = None
    upstream_password: str | None = None
    # The user's choice of quirk profile (engine/quirks.py): `auto`, `none` or a profile's name.
    quirk_profile: str = QUIRKS_AUTO

    def quirk_profile_in_force(self) -> QuirkProfile | None:
        """Return the quirk profile that applies: the chosen one, else the one its BootNotification matches."""
        boot = self.boot
        return resolve(self.quirk_profile, boot.vendor, boot.model, boot.firmware_version)

    @property
    def quirks(self) -> Quirks:
        """Return what is done differently for this charger (nothing without a quirk profile)."""
        profile = self.quirk_profile_in_force()
        return profile.quirks if profile is not None else NO_QUIRKS

    def config_value(self, key: str) -> str | None:
        """Return a configuration key's value, None when unknown."""
        found = self.configuration.get(key)
        return found.value if found else None

    def config_bool(self, key: str) -> bool | None:
        """Return a boolean configuration key (true/false or 1/0), None when unknown."""
        return parse_bool(self.config_value(key))

    def config_int(self, key: str) -> int | None:
        """Return an integer configuration key, None when unknown."""
        return parse_int(self.config_value(key))

    def supports(self, profile: str) -> bool:
        """Return True unless SupportedFeatureProfiles is known and lacks the profile."""
        if profile == PROFILE_CORE or "SupportedFeatureProfiles" not in self.configuration:
            return True
        profiles = {p.casefold() for p in parse_list(self.config_value("SupportedFeatureProfiles"))}
        return profile.casefold() in profiles

    def connector(self, connector_id: int) -> tuple[ConnectorState, bool]:
        """Return the connector, creating it; the flag says whether it is new."""
        found = self.connectors.get(connector_id)
        if found is not None:
            return found, False
        created = ConnectorState(connector_id)
        self.connectors[connector_id] = created
        self.number_of_connectors = max(self.number_of_connectors, connector_id)
        return created, True

    def apply_reading(
        self,
        connector: ConnectorState,
        key: str,
        reading: MeterReading,
        publish: Callable[[str], None] | None = None,
    ) -> bool:
        """
        Store a reading unless an equal-or-newer one is already stored.

        An energy register that goes down is held back until it is confirmed by
        REGISTER_DROP_CONFIRMATIONS readings in a row: a charger that glitches to 0
        mid-session must not make the Energy dashboard count the whole register again. A
        restart announced by a StartTransaction (`expect_register_restart`) is confirmed by
        the first reading that shows it. When such a confirmed drop of the energy register
        is stored, `publish` (the key) is called before and after: the values on both sides
        of a drop must reach Home Assistant as states of their own, or its statistics see a
        dip where the register was reset. Other registers' drops are stored as they come,
        like any reading. Returns True when the stored reading changed.
        """
        current = connector.meters.get(key)
        if current is not None and reading.timestamp < current.timestamp:
            return False
        lower = current is not None and is_register_drop(current, reading)
        if key == ENERGY_REGISTER and current is not None:
            restarted = self._confirms_restart(connector, current, reading)
            if restarted and not lower and publish is not None and connector.pending_restart is not None:
                # Seen only at its end, back above the old value: shown from meterStart.
                publish(key)
                current = connector.meters[key] = connector.pending_restart
                publish(key)
            connector.pending_restart = None if restarted else connector.pending_restart
            if lower and not restarted:
                connector.pending_drop.append(reading)
                if len(connector.pending_drop) < REGISTER_DROP_CONFIRMATIONS:
                    return False
            connector.pending_drop.clear()
        if current is not None and current.value == reading.value and current.unit == reading.unit:
            connector.meters[key] = reading
            return False
        published = lower and key == ENERGY_REGISTER and publish is not None
        if published and publish is not None:
            publish(key)
        connector.meters[key] = reading
        if published and publish is not None:
            publish(key)
        return True

    @staticmethod
    def _confirms_restart(connector: ConnectorState, current: MeterReading, reading: MeterReading) -> bool:
        """
        Return True when a register reading confirms the restart its session's start announced.

        Below 90% of the register shown, and not below the session's meterStart: the register
        really restarted. Back at (or above) 90% of it, it did not (a lifetime register with a
        meterStart of 0), and the restart is forgotten; unless that reading is the session's
        end (Transaction.End) and the register before it was no lifetime register's
        (Transaction.base_wh): a register that restarts per session and is read only at the
        end of each climbs back past its last value in a longer session.
        """
        restart = connector.pending_restart
        if restart is None or reading.timestamp < restart.timestamp:
            return False
        new_wh, old_wh, start_wh = reading.as_wh(), current.as_wh(), restart.as_wh()
        if new_wh is None or old_wh is None or start_wh is None:
            return False
        if new_wh >= REGISTER_RESTART_FRACTION * old_wh:
            if reading.context == "Transaction.End" and old_wh <= LIFETIME_REGISTER_WH:
                return True
            connector.pending_restart = None
            return False
        return new_wh >= start_wh

    def expect_register_restart(
        self, connector: ConnectorState, reading: MeterReading, publish: Callable[[str], None]
    ) -> bool:
        """
        Take a transaction's meterStart below the energy register shown for its restart.

        Registers that restart at 0 for every session say so in meterStart: the first
        reading of the session that shows the restart (`apply_reading`) is stored at once,
        no confirmations to wait for, so Home Assistant sees the meter reset before the
        session climbs back near the old value (a mere dip to it, and the session lost
        from the register's statistics). Nothing is shown from meterStart alone: a charger
        that sends 0 with a lifetime register would show a reset of its whole register.
        Drops too small to be a reset (rounding of a register in kWh) are left to the
        readings. Returns True when a restart is expected.
        """
        connector.pending_restart = None
        current = connector.meters.get(ENERGY_REGISTER)
        if current is None or reading.timestamp < current.timestamp:
            return False
        current_wh, start_wh = current.as_wh(), reading.as_wh()
        if current_wh is None or start_wh is None or start_wh >= REGISTER_RESTART_FRACTION * current_wh:
            return False
        connector.pending_restart = reading
        # Readings of the new session that arrived before its StartTransaction were held back.
        waiting = [held for held in connector.pending_drop if held.timestamp >= reading.timestamp]
        connector.pending_drop.clear()
        for held in waiting:
            self.apply_reading(connector, ENERGY_REGISTER, held, publish)
        return True

    def to_dict(self) -> dict[str, Any]:
        """Serialise what must survive a restart."""
        return {
            "charge_point_id": self.charge_point_id,
            "accepted": self.accepted,
            "boot": self.boot.to_dict(),
            "last_seen": _iso(self.last_seen),
            "last_boot": _iso(self.last_boot),
            "firmware_status": self.firmware_status,
            "diagnostics_status": self.diagnostics_status,
            "number_of_connectors": self.number_of_connectors,
            "connectors": [c.to_dict() for c in self.connectors.values()],
            "configuration": {key: value.to_dict() for key, value in self.configuration.items()},
            "limits": {str(connector_id): limit.to_dict() for connector_id, limit in self.limits.items()},
            "max_current": self.max_current,
            "phases": self.phases,
            "min_current": self.min_current,
            "password": self.password,
            "previous_password": self.previous_password,
            "security_profile": self.security_profile,
            "security_profile_fallback": self.security_profile_fallback,
            "log_status": self.log_status,
            "relayed": self.relayed,
            "upstream_password": self.upstream_password,
            "quirk_profile": self.quirk_profile,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChargerState:
        """Restore from persistence."""
        charger = cls(
            charge_point_id=str(data["charge_point_id"]),
            accepted=bool(data.get("accepted")),
            boot=BootInfo.from_dict(data.get("boot") or {}),
            last_seen=parse_datetime(data.get("last_seen")),
            last_boot=parse_datetime(data.get("last_boot")),
            firmware_status=data.get("firmware_status"),
            diagnostics_status=data.get("diagnostics_status"),
            number_of_connectors=int(data.get("number_of_connectors") or 0),
            configuration=configuration_from_dict(data.get("configuration") or {}),
            max_current=float(data.get("max_current") or 32.0),
            phases=int(data.get("phases") or 3),
            min_current=float(data.get("min_current") or 6.0),
            password=data.get("password") or None,
            previous_password=data.get("previous_password") or None,
            security_profile=_profile(data.get("security_profile")),
            security_profile_fallback=_profile(data.get("security_profile_fallback")),
            log_status=data.get("log_status"),
            relayed=data.get("relayed") if isinstance(data.get("relayed"), bool) else None,
            upstream_password=data.get("upstream_password") or None,
            quirk_profile=str(data.get("quirk_profile") or QUIRKS_AUTO),
        )
        for connector_id, raw_limit in (data.get("limits") or {}).items():
            limit = ChargingLimit.from_dict(raw_limit)
            if limit is not None:
                charger.limits[int(connector_id)] = limit
        for raw in data.get("connectors") or ():
            connector = ConnectorState.from_dict(raw)
            charger.connectors[connector.connector_id] = connector
        return charger


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
            "expiry_date": _iso(self.expiry_date),
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
