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
from .records import (
    ID_TAG_STATUSES,
    LIFETIME_REGISTER_WH,
    REGISTER_RESTART_FRACTION,
    BootInfo,
    ChargingLimit,
    IdTag,
    Transaction,
    isoformat_or_none,
)
from .util import parse_datetime

__all__ = [
    "ID_TAG_STATUSES",
    "BootInfo",
    "ChargerState",
    "ChargingLimit",
    "ConnectorState",
    "IdTag",
    "Transaction",
    "is_register_drop",
]

# The per-charger choice of OCPP version (Charger settings): which one a charger offering both speaks.
OCPP_VERSION_AUTO = "auto"
OCPP_VERSION_CHOICES = (OCPP_VERSION_AUTO, "1.6", "2.0.1")

# How many lower energy-register readings in a row confirm a real meter reset.
REGISTER_DROP_CONFIRMATIONS = 3


def _profile(value: Any) -> int | None:
    """Return a stored security profile (1 to 3), None when absent or not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 3 else None


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
            "status_timestamp": isoformat_or_none(self.status_timestamp),
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
    # The OCPP version of its last connection ("1.6", "2.0.1"; None: never connected since
    # versions were recorded), and the user's choice when it offers both: auto (2.0.1), 1.6, 2.0.1.
    ocpp_version: str | None = None
    ocpp_version_choice: str = OCPP_VERSION_AUTO

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

    @property
    def can_switch_phases(self) -> bool:
        """Return True when the charger switches between 3 and 1 phases during a session.

        Its ConnectorSwitch3to1PhaseSupported key says so (OCPP 1.6 section 9.4.4, optional),
        or its quirk profile does for chargers that do without the key.
        """
        return bool(self.config_bool("ConnectorSwitch3to1PhaseSupported")) or self.quirks.phase_switching

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
            "last_seen": isoformat_or_none(self.last_seen),
            "last_boot": isoformat_or_none(self.last_boot),
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
            "ocpp_version": self.ocpp_version,
            "ocpp_version_choice": self.ocpp_version_choice,
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
            ocpp_version=data.get("ocpp_version"),
            ocpp_version_choice=str(data.get("ocpp_version_choice") or OCPP_VERSION_AUTO),
        )
        for connector_id, raw_limit in (data.get("limits") or {}).items():
            limit = ChargingLimit.from_dict(raw_limit)
            if limit is not None:
                charger.limits[int(connector_id)] = limit
        for raw in data.get("connectors") or ():
            connector = ConnectorState.from_dict(raw)
            charger.connectors[connector.connector_id] = connector
        return charger
