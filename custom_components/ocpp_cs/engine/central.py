"""
The central system's state and policies, independent of transport and of Home Assistant.

Sessions call in here with decoded payloads; this module decides the answers, keeps the
state, persists what must survive and tells the listener what changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import TYPE_CHECKING, Any

from . import energy
from .authorization import (
    PURPOSE_AUTHORIZE,
    PURPOSE_START,
    PURPOSE_STOP,
    AuthorizationState,
    PresentedIdTag,
    Reservation,
    decide,
    mark_reserved,
    unmark_reserved,
)
from .configuration import ConfigurationValue
from .history import TransactionHistory
from .listener import (
    CentralSystemListener,
    CertificateSigningRequested,
    DataTransferReceived,
    IdTagPresented,
    Persistence,
    SecurityEventReceived,
)
from .message_log import MessageLogs
from .meter import DEFAULT_MEASURAND, ENERGY_REGISTER, MeterReading, drop_key, parse_meter_values
from .persist import SharedSave
from .quirks import CHOICES
from .state import BootInfo, ChargerState, ChargingLimit, ConnectorState, IdTag, Transaction
from .util import parse_datetime, snake, utcnow

if TYPE_CHECKING:
    from .session import ChargePointSession

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# In the state since the `energy` sensors: state without it is from an install before them.
ENERGY_VERSION = 1
# Stopped transactions kept to recognise replays and to show the last session (more while the
# history file lacks them: see `history_written`).
RECENT_TRANSACTIONS = 200
# How often `last_heartbeat` is republished for messages other than Heartbeat.
LAST_SEEN_PUBLISH_INTERVAL = timedelta(seconds=60)

NEW_CHARGERS_ACCEPT = "accept"
NEW_CHARGERS_PENDING = "pending"
NEW_CHARGERS_REJECT = "reject"

REGISTRATION_ACCEPTED = "Accepted"
REGISTRATION_PENDING = "Pending"
REGISTRATION_REJECTED = "Rejected"

# Connector ids above this are refused unless NumberOfConnectors declares more.
MAX_CONNECTORS = 32
STATUS_KEYS = frozenset({"status", "error_code", "info", "vendor_error_code"})
# Security events that point at an attack or a broken setup (logged as warnings; routine
# ones such as StartupOfTheDevice or FirmwareUpdated are logged at info level).
ALARMING_SECURITY_EVENTS = frozenset(
    {
        "FailedToAuthenticateAtCentralSystem", "CentralSystemFailedToAuthenticate", "SecurityLogWasCleared",
        "MemoryExhaustion", "InvalidMessages", "AttemptedReplayAttacks", "TamperDetectionActivated",
        "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate", "InvalidCentralSystemCertificate",
        "InvalidChargePointCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite",
    }
)
TRANSACTION_KEYS = frozenset(
    {"transaction", "session_energy", "session_start", "transaction_id", "id_tag", "stop_reason"}
)


@dataclass(slots=True)
class CentralSettings:
    """The policies an entry configures."""

    new_chargers: str = NEW_CHARGERS_ACCEPT
    unknown_id_tags: str = "accept"
    heartbeat_interval: int = 300
    remote_id_tag: str = "HomeAssistant"


class CentralSystem:
    """All chargers of one entry: their state, transactions and id tags."""

    def __init__(
        self,
        settings: CentralSettings,
        listener: CentralSystemListener,
        persistence: Persistence,
    ) -> None:
        """Create an empty central system; call `restore` with persisted data."""
        self.settings = settings
        self._listener = listener
        self._persistence = persistence
        self._shared_save = SharedSave(self._write_snapshot)
        self.chargers: dict[str, ChargerState] = {}
        self.id_tags: dict[str, IdTag] = {}
        self.open_transactions: dict[int, Transaction] = {}
        # Local controller mode: open transactions of relayed chargers, under the upstream's ids
        # (apart from ours, so that they neither collide with nor advance `next_transaction_id`).
        self.observed_transactions: dict[tuple[str, int], Transaction] = {}
        self.recent_transactions: deque[Transaction] = deque()
        # StopTransactions recorded in this run, and how many of the newest recent transactions
        # the history on disk may lack: those stay in the state (saved before each StopTransaction
        # is answered), however many, until a history write that holds them has finished; a
        # crash then loses none of them, at any rate of stops.
        self._stops_recorded = 0
        self._stops_unwritten = 0
        self.next_transaction_id = 1
        self.sessions: dict[str, ChargePointSession] = {}
        # Chargers answered Pending/Rejected in this run (not persisted: they may boot again).
        self.registration: dict[str, str] = {}
        # Reservations, presented unknown id tags and local list records (authorization.py).
        self.auth = AuthorizationState()
        # Called after the id tag list changed (e.g. to sync chargers' local lists).
        self.id_tag_observers: list[Callable[[], None]] = []
        self._last_seen_published: dict[str, datetime] = {}
        # Every stopped session (persisted apart: history.py) and each charger's last frames.
        self.history = TransactionHistory()
        self.message_logs = MessageLogs()
        # Restored from an install before the `energy` sensors (see `seed_energy`).
        self._energy_unseeded = False

    # --- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return everything that must survive a restart, JSON-serialisable."""
        return {
            "next_transaction_id": self.next_transaction_id,
            "chargers": [c.to_dict() for c in self.chargers.values()],
            "id_tags": [t.to_dict() for t in self.id_tags.values()],
            "open_transactions": [t.to_dict() for t in self.open_transactions.values()],
            "recent_transactions": [t.to_dict() for t in self.recent_transactions],
            "observed_transactions": [t.to_dict() for t in self.observed_transactions.values()],
            "authorization": self.auth.to_dict(),
            "energy_version": ENERGY_VERSION,
        }

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load persisted state (before any charger connects)."""
        if not data:
            return
        self._energy_unseeded = "energy_version" not in data
        self.next_transaction_id = max(1, int(data.get("next_transaction_id") or 1))
        self.auth.restore(data.get("authorization"))
        for raw in data.get("chargers") or ():
            charger = ChargerState.from_dict(raw)
            charger.connector(0)
            self.chargers[charger.charge_point_id] = charger
        for raw in data.get("id_tags") or ():
            tag = IdTag.from_dict(raw)
            self.id_tags[tag.id_tag.casefold()] = tag
        for raw in data.get("recent_transactions") or ():
            self._remember_stopped(Transaction.from_dict(raw))
        for raw in data.get("open_transactions") or ():
            transaction = Transaction.from_dict(raw)
            self.open_transactions[transaction.transaction_id] = transaction
            owner = self.chargers.get(transaction.charge_point_id)
            if owner is not None:
                connector, _ = owner.connector(transaction.connector_id)
                current = connector.transaction
                if current is None or current.transaction_id < transaction.transaction_id:
                    connector.transaction = transaction
        for raw in data.get("observed_transactions") or ():
            self._restore_observed(Transaction.from_dict(raw))
        # Never hand out an id that is in use, whatever the counter says.
        used = [t.transaction_id for t in self.open_transactions.values()]
        used += [t.transaction_id for t in self.recent_transactions if t.start_seen and not t.observed]
        if used:
            self.next_transaction_id = max(self.next_transaction_id, max(used) + 1)

    def _remember_stopped(self, transaction: Transaction) -> None:
        self.recent_transactions.append(transaction)
        self._stops_recorded += 1
        self._stops_unwritten += 1
        self._trim_recent()
        charger = self.chargers.get(transaction.charge_point_id)
        if charger is not None and transaction.connector_id in charger.connectors:
            charger.connectors[transaction.connector_id].last_transaction = transaction

    def _trim_recent(self) -> None:
        keep = max(RECENT_TRANSACTIONS, self._stops_unwritten)
        while len(self.recent_transactions) > keep:
            self.recent_transactions.popleft()

    def history_mark(self) -> int:
        """Return a mark for a history snapshot taken now (to pass to `history_written`)."""
        return self._stops_recorded

    def history_written(self, mark: int) -> None:
        """Note that the history as of `mark` is on disk: the stops it holds may leave the state."""
        self._stops_unwritten = min(self._stops_unwritten, self._stops_recorded - mark)
        self._trim_recent()

    def seed_energy(self) -> None:
        """
        Start the `energy` sensors of an install from before them at its recorded sessions.

        Called once the history is loaded; the sessions it dropped (beyond its bound) are
        not counted. Later starts count from what is stored.
        """
        if not self._energy_unseeded:
            return
        self._energy_unseeded = False
        open_transactions = {(t.charge_point_id, t.transaction_id): t for t in self.open_transactions.values()}
        open_transactions.update(self.observed_transactions)
        for charge_point_id, connector_id in energy.seed(self.chargers, self.history, open_transactions):
            self._listener.charger_changed(charge_point_id, connector_id, energy.ENERGY_KEYS)
            self._listener.charger_changed(charge_point_id, 0, energy.ENERGY_KEYS)
        self._save_later()

    def _energy_changed(self, charger: ChargerState, connector_id: int) -> frozenset[str]:
        """Raise a connector's `energy` to its sessions' and announce the charger's; return its keys."""
        connector = charger.connectors.get(connector_id)
        if connector is None or not energy.refresh(connector):
            return frozenset()
        if connector_id != 0:
            self._listener.charger_changed(charger.charge_point_id, 0, energy.ENERGY_KEYS)
        return energy.ENERGY_KEYS

    def _publisher(self, charger: ChargerState, connector: ConnectorState) -> Callable[[str], None]:
        """Return what writes a register on either side of a drop at once (not coalesced)."""
        return partial(self._publish_reading, charger.charge_point_id, connector.connector_id)

    def _publish_reading(self, charge_point_id: str, connector_id: int, key: str) -> None:
        self._listener.charger_changed(charge_point_id, connector_id, frozenset({key, drop_key(key)}))

    def _register_at_start(self, charger: ChargerState, connector: ConnectorState, transaction: Transaction) -> None:
        """Note the register at the session's start, and a restart its meterStart announces."""
        shown = connector.meters.get(ENERGY_REGISTER)
        transaction.register_before_wh = shown.as_wh() if shown is not None else None
        if transaction.meter_start is None or transaction.start is None:
            return
        reading = MeterReading(
            float(transaction.meter_start), "Wh", transaction.start, DEFAULT_MEASURAND, context="Transaction.Begin"
        )
        charger.expect_register_restart(connector, reading, self._publisher(charger, connector))

    def _save_later(self) -> None:
        self._persistence.save_later()

    async def _save_now(self) -> None:
        # Callers that wait at the same time share a write (persist.py): one snapshot, not one each.
        await self._shared_save.save()

    async def _write_snapshot(self) -> None:
        await self._persistence.async_save_now(self.snapshot())

    # --- chargers and connections ------------------------------------------------------

    def registration_status(self, charge_point_id: str) -> str | None:
        """Return Accepted/Pending/Rejected for a charger, None when it never booted."""
        charger = self.chargers.get(charge_point_id)
        if charger is not None and charger.accepted:
            return REGISTRATION_ACCEPTED
        if charge_point_id in self.registration:
            return self.registration[charge_point_id]
        if charger is not None:
            return REGISTRATION_PENDING
        return None

    def is_accepted(self, charge_point_id: str) -> bool:
        """
        Return True when the charger may use the whole protocol.

        A charger this entry does not know yet counts as accepted under the `accept`
        policy, even if it skipped BootNotification (some reconnect without one).
        """
        status = self.registration_status(charge_point_id)
        if status is None:
            return self.settings.new_chargers == NEW_CHARGERS_ACCEPT
        return status == REGISTRATION_ACCEPTED

    def ensure_charger(self, charge_point_id: str, *, accepted: bool) -> ChargerState:
        """Return the charger's state, creating (and announcing) it when new."""
        charger = self.chargers.get(charge_point_id)
        if charger is None:
            charger = ChargerState(charge_point_id, accepted=accepted)
            charger.connector(0)
            self.chargers[charge_point_id] = charger
            charger.connected = charge_point_id in self.sessions
            self._listener.charger_added(charge_point_id)
            self._save_later()
        elif accepted and not charger.accepted:
            charger.accepted = True
            self._listener.charger_changed(charge_point_id, 0, frozenset({"registration"}))
            self._save_later()
        return charger

    def accepted_charger(self, charge_point_id: str) -> ChargerState:
        """Return the state of a charger the session already found accepted."""
        charger = self.chargers.get(charge_point_id)
        if charger is not None and charger.accepted:
            return charger
        return self.ensure_charger(charge_point_id, accepted=True)

    def accept_charger(self, charge_point_id: str) -> ChargerState:
        """Accept a pending charger (the user said so); it is asked to boot again by the caller."""
        self.registration.pop(charge_point_id, None)
        return self.ensure_charger(charge_point_id, accepted=True)

    def remove_charger(self, charge_point_id: str) -> None:
        """Forget a charger (its device was removed), its frames too."""
        self.chargers.pop(charge_point_id, None)
        self.registration.pop(charge_point_id, None)
        self.auth.forget_charger(charge_point_id)
        self.message_logs.forget(charge_point_id)
        self._save_later()

    def session_opened(self, session: ChargePointSession) -> ChargePointSession | None:
        """Register a new connection; return the one it replaces, if any."""
        charge_point_id = session.id
        previous = self.sessions.get(charge_point_id)
        self.sessions[charge_point_id] = session
        charger = self.chargers.get(charge_point_id)
        if charger is not None:
            charger.connected = True
            self._listener.charger_changed(charge_point_id, 0, frozenset({"connected"}))
        elif self.settings.new_chargers == NEW_CHARGERS_ACCEPT:
            # Known at once, even before BootNotification, so its device appears.
            self.ensure_charger(charge_point_id, accepted=True)
        return previous

    def session_closed(self, session: ChargePointSession) -> None:
        """Forget a connection, unless a newer one for the same charger replaced it."""
        charge_point_id = session.id
        if self.sessions.get(charge_point_id) is not session:
            return
        del self.sessions[charge_point_id]
        charger = self.chargers.get(charge_point_id)
        if charger is not None:
            charger.connected = False
            self._listener.charger_changed(charge_point_id, 0, frozenset({"connected"}))

    def message_received(self, charge_point_id: str, *, heartbeat: bool = False) -> datetime:
        """Note that a charger was heard from; return the time."""
        now = utcnow()
        charger = self.chargers.get(charge_point_id)
        if charger is None:
            return now
        charger.last_seen = now
        last = self._last_seen_published.get(charge_point_id)
        if heartbeat or last is None or now - last >= LAST_SEEN_PUBLISH_INTERVAL:
            self._last_seen_published[charge_point_id] = now
            self._listener.charger_changed(charge_point_id, 0, frozenset({"last_seen"}))
        return now

    def _connector(self, charger: ChargerState, connector_id: int) -> ConnectorState:
        """Return a connector, creating it and any lower-numbered ones that are missing."""
        connector, created = charger.connector(connector_id)
        if created:
            for lower in range(1, connector_id):
                _, lower_created = charger.connector(lower)
                if lower_created:
                    self._listener.connector_added(charger.charge_point_id, lower)
            if connector_id > 0:
                self._listener.connector_added(charger.charge_point_id, connector_id)
            self._save_later()
        return connector

    def max_connector_id(self, charge_point_id: str) -> int:
        """Return the highest connector id a charger may use (NumberOfConnectors, at least 32)."""
        charger = self.chargers.get(charge_point_id)
        declared = charger.config_int("NumberOfConnectors") if charger else None
        return max(MAX_CONNECTORS, declared or 0)

    def changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Announce a change made outside a charger message (a command's outcome) and persist it."""
        self._listener.charger_changed(charge_point_id, connector_id, keys)
        self._save_later()

    def update_configuration(self, charge_point_id: str, values: Mapping[str, ConfigurationValue]) -> None:
        """Record configuration keys read from (or written to) a charger."""
        charger = self.chargers.get(charge_point_id)
        if charger is None or not values:
            return
        charger.configuration.update(values)
        number = charger.config_int("NumberOfConnectors")
        if number is not None and number > 0:
            self._connector(charger, number)
        self._listener.charger_changed(charge_point_id, 0, frozenset({"configuration"}))
        self._save_later()

    # --- Core messages ------------------------------------------------------------------

    def boot_notification(
        self, charge_point_id: str, payload: Mapping[str, Any], *, upstream_status: str | None = None
    ) -> tuple[str, int]:
        """Record a BootNotification and return (status, interval) per the new-charger policy.

        A relayed charger's registration is the upstream's answer (`upstream_status`).
        """
        status = self.registration_status(charge_point_id)
        if upstream_status is not None:
            status = upstream_status
        elif status != REGISTRATION_ACCEPTED:
            # Not accepted yet: the policy in force now decides (the user may have changed it).
            policy = self.settings.new_chargers
            if policy == NEW_CHARGERS_ACCEPT:
                status = REGISTRATION_ACCEPTED
            elif policy == NEW_CHARGERS_PENDING:
                status = REGISTRATION_PENDING
            else:
                status = REGISTRATION_REJECTED
        interval = self.settings.heartbeat_interval
        if status == REGISTRATION_REJECTED:
            self.registration[charge_point_id] = status
            _LOGGER.warning("Rejected BootNotification of unknown charger %s", charge_point_id)
            return status, interval
        charger = self.ensure_charger(charge_point_id, accepted=status == REGISTRATION_ACCEPTED)
        charger.boot = BootInfo(
            vendor=payload.get("charge_point_vendor"),
            model=payload.get("charge_point_model"),
            charge_point_serial_number=payload.get("charge_point_serial_number"),
            charge_box_serial_number=payload.get("charge_box_serial_number"),
            firmware_version=payload.get("firmware_version"),
            iccid=payload.get("iccid"),
            imsi=payload.get("imsi"),
            meter_type=payload.get("meter_type"),
            meter_serial_number=payload.get("meter_serial_number"),
        )
        charger.last_boot = utcnow()
        if (quirk_profile := charger.quirk_profile_in_force()) is not None:
            _LOGGER.info(
                "%s: quirk profile %s (%s): %s", charge_point_id, quirk_profile.name, quirk_profile.brand,
                ", ".join(quirk_profile.quirks.changed()) or "handled like every charger",
            )
        if status == REGISTRATION_PENDING:
            if self.registration.get(charge_point_id) != REGISTRATION_PENDING:
                _LOGGER.info("Charger %s is pending: accept it in Repairs", charge_point_id)
            self.registration[charge_point_id] = status
            if upstream_status is None:  # the upstream accepts its own chargers, not the user
                self._listener.charger_pending(charge_point_id)
        else:
            self.registration.pop(charge_point_id, None)
        self._listener.charger_changed(charge_point_id, 0, frozenset({"boot", "registration"}))
        self._save_later()
        return status, interval

    def status_notification(self, charge_point_id: str, payload: Mapping[str, Any]) -> None:
        """Record a StatusNotification unless a newer status is already known."""
        charger = self.accepted_charger(charge_point_id)
        connector = self._connector(charger, int(payload["connector_id"]))
        timestamp = parse_datetime(payload.get("timestamp")) or utcnow()
        if connector.status_timestamp is not None and timestamp < connector.status_timestamp:
            _LOGGER.debug(
                "%s connector %s: ignoring status %s older than the one known",
                charge_point_id, connector.connector_id, payload.get("status"),
            )
            return
        connector.status = payload["status"]
        connector.error_code = payload["error_code"]
        connector.info = payload.get("info")
        connector.vendor_id = payload.get("vendor_id")
        connector.vendor_error_code = payload.get("vendor_error_code")
        connector.status_timestamp = timestamp
        if connector.status in ("Faulted", "Unavailable"):
            # The charger ends reservations of a connector that turns faulted or unavailable (5.13).
            for reservation in list(self.auth.reservations.values()):
                if reservation.charge_point_id == charge_point_id and connector.connector_id in (
                    0,
                    reservation.connector_id,
                ):
                    self.end_reservation(reservation.reservation_id, "connector " + connector.status.lower())
        self._listener.charger_changed(charge_point_id, connector.connector_id, STATUS_KEYS)
        self._save_later()

    def meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        meter_values: Iterable[Mapping[str, Any]],
        transaction_id: int | None,
    ) -> None:
        """Record sampled values; they update sensors and the transaction's energy."""
        charger = self.accepted_charger(charge_point_id)
        connector = self._connector(charger, connector_id)
        transaction = None
        if transaction_id is not None:
            transaction = self._open_transaction_of(charge_point_id, transaction_id)
            if transaction is None and connector_id > 0:
                transaction = self._by_charger_id(charger, transaction_id, connector_id=connector_id)
        elif connector_id > 0:
            transaction = connector.transaction
        self._apply_readings(charger, connector, meter_values, transaction)

    def _apply_readings(
        self,
        charger: ChargerState,
        connector: ConnectorState,
        meter_values: Iterable[Mapping[str, Any]],
        transaction: Transaction | None,
        *,
        at_stop: bool = False,
    ) -> None:
        readings = parse_meter_values(meter_values, utcnow())
        if not readings:
            return
        changed: set[str] = set()
        new_keys: list[str] = []
        session_changed = False
        # A charger whose connector-0 register is no meter reading (quirk_table.py): dropped.
        drop_register = connector.connector_id == 0 and charger.quirks.connector_zero_register_ignored
        publish = self._publisher(charger, connector)
        for key, reading in readings:
            if drop_register and key == ENERGY_REGISTER:
                continue
            if key not in connector.meters and key not in new_keys:
                new_keys.append(key)
            if charger.apply_reading(connector, key, reading, publish):
                changed.add(key)
            if transaction is not None and key == ENERGY_REGISTER:
                wh = reading.as_wh()
                if wh is not None and transaction.first_register_wh is None and not at_stop:
                    transaction.first_register_wh = wh
                    session_changed = True
                if wh is not None and (
                    transaction.last_register_wh is None or wh > transaction.last_register_wh
                ):
                    transaction.last_register_wh = wh
                    session_changed = True
        charge_point_id = charger.charge_point_id
        if new_keys:
            self._listener.meter_keys_added(charge_point_id, connector.connector_id, new_keys)
            self._save_later()
        if session_changed and transaction is not None:
            changed.add("session_energy")
            energy_keys = self._energy_changed(charger, transaction.connector_id)
            if transaction.connector_id == connector.connector_id:
                changed |= energy_keys
            elif energy_keys:
                self._listener.charger_changed(charge_point_id, transaction.connector_id, energy_keys)
        if changed:
            self._listener.charger_changed(charge_point_id, connector.connector_id, frozenset(changed))

    # --- authorization ------------------------------------------------------------------

    def id_tag_info(
        self,
        id_tag: str,
        charge_point_id: str,
        *,
        purpose: str = PURPOSE_AUTHORIZE,
        connector_id: int | None = None,
        transaction: Transaction | None = None,
    ) -> dict[str, Any]:
        """Return the IdTagInfo for an id tag: the entry's list and policies (authorization.decide)."""
        return decide(
            self.id_tags,
            self.settings.unknown_id_tags,
            self._running_transactions(),
            id_tag,
            charge_point_id,
            purpose=purpose,
            now=utcnow(),
            connector_id=connector_id,
            transaction=transaction,
        )

    def _running_transactions(self) -> list[Transaction]:
        """Return the open transactions that are their connector's current one (not superseded)."""
        running = []
        for transaction in self.open_transactions.values():
            charger = self.chargers.get(transaction.charge_point_id)
            connector = charger.connectors.get(transaction.connector_id) if charger else None
            if connector is None or connector.transaction is transaction:
                running.append(transaction)
        return running

    def _note_presented(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Remember an id tag that is not on the list (offered for adding in the options flow)."""
        if id_tag.casefold() not in self.id_tags:
            self.auth.note_presented(PresentedIdTag(id_tag, charge_point_id, utcnow(), status))
            self._save_later()

    def _id_tag_name(self, id_tag: str | None) -> str | None:
        """Return the friendly name of a listed id tag."""
        tag = self.id_tags.get(id_tag.casefold()) if id_tag else None
        return tag.name if tag is not None else None

    def _id_tags_changed(self) -> None:
        for observer in list(self.id_tag_observers):
            observer()

    def authorize(self, charge_point_id: str, id_tag: str) -> dict[str, Any]:
        """Answer Authorize and announce the presented tag."""
        info = self.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_AUTHORIZE)
        self._note_presented(charge_point_id, id_tag, info["status"])
        self._listener.id_tag_presented(
            IdTagPresented(charge_point_id, None, id_tag, snake(info["status"]))
        )
        return info

    def set_id_tag(self, tag: IdTag) -> None:
        """Add or replace an id tag of the entry's list."""
        self.id_tags[tag.id_tag.casefold()] = tag
        self.auth.forget_presented(tag.id_tag)
        self._save_later()
        self._id_tags_changed()

    def remove_id_tag(self, id_tag: str) -> bool:
        """Remove an id tag; return False when it was not listed."""
        removed = self.id_tags.pop(id_tag.casefold(), None) is not None
        if removed:
            self._save_later()
            self._id_tags_changed()
        return removed

    # --- transactions -------------------------------------------------------------------

    def _open_transaction_of(self, charge_point_id: str, transaction_id: int) -> Transaction | None:
        """Return an open transaction of this charger; another charger's id is not its own."""
        transaction = self.open_transactions.get(transaction_id)
        if transaction is None or transaction.charge_point_id != charge_point_id:
            return self.observed_transactions.get((charge_point_id, transaction_id))
        return transaction

    def _stopped_transaction(self, charge_point_id: str, transaction_id: int) -> Transaction | None:
        """Return the charger's recently stopped transaction with this id (ours, or its own for it)."""
        for recent in reversed(self.recent_transactions):
            if recent.charge_point_id == charge_point_id and transaction_id in (
                recent.transaction_id,
                recent.charger_transaction_id,
            ):
                return recent
        return None

    def _replayed_stop(
        self, charger: ChargerState, transaction_id: int, meter_stop: int, stop: datetime
    ) -> tuple[bool, Transaction | None]:
        """
        Return whether a StopTransaction for no open transaction is a replay (and the stopped one).

        A charger that uses its own transaction ids (quirk_table.py) may reuse one of ours for
        another session of its own: under our id only the very same stop (meterStop and time) is
        a replay; under its own id (remembered with the session) any is.
        """
        charge_point_id = charger.charge_point_id
        if not charger.quirks.own_transaction_ids:
            recent = self._stopped_transaction(charge_point_id, transaction_id)
            return recent is not None or self.history.stopped(charge_point_id, transaction_id), recent
        for recent in reversed(self.recent_transactions):
            if recent.charge_point_id != charge_point_id:
                continue
            if recent.charger_transaction_id == transaction_id or (
                recent.transaction_id == transaction_id and recent.meter_stop == meter_stop and recent.stop == stop
            ):
                return True, recent
        return self.history.stopped_as(charge_point_id, transaction_id, meter_stop, stop), None

    def _by_charger_id(
        self,
        charger: ChargerState,
        transaction_id: int,
        *,
        connector_id: int | None = None,
        meter_stop: int | None = None,
        stop: datetime | None = None,
    ) -> Transaction | None:
        """
        Return the running transaction a charger's own transaction id stands for (quirk_table.py).

        Only with the `own_transaction_ids` quirk, and never for an id of the charger's that a
        stopped session already has (a late message of that session). Once it has shown ids of its
        own, they may coincide with ours for other sessions: one of ours is mapped too (replayed
        stops were recognised before); until then one of ours is its session's. The id sticks to
        the transaction it was first taken for; a new one goes to the charger's (connector's) only
        running transaction that has none yet, when the stop can be its: a meterStop not below its
        meterStart, a stop not before its start.
        """
        charge_point_id = charger.charge_point_id
        if not charger.quirks.own_transaction_ids:
            return None
        mine = [recent for recent in self.recent_transactions if recent.charge_point_id == charge_point_id]
        if any(recent.charger_transaction_id == transaction_id for recent in mine):
            return None  # a late message of a stopped session
        if not any(recent.charger_transaction_id is not None for recent in mine) and (
            any(recent.transaction_id == transaction_id for recent in mine)
            or self.history.recorded(charge_point_id, transaction_id)
        ):
            # As far as we know it uses our ids (set up to, or it would have shown its own):
            # one of ours is a late message of that session.
            return None
        running = [
            t
            for t in self._running_transactions()
            if t.charge_point_id == charge_point_id and connector_id in (None, t.connector_id)
        ]
        for transaction in running:
            if transaction.charger_transaction_id == transaction_id:
                return transaction
        fresh = [t for t in running if t.charger_transaction_id is None]
        if len(fresh) != 1:
            return None
        transaction = fresh[0]
        if meter_stop is not None and transaction.meter_start is not None and meter_stop < transaction.meter_start:
            return None
        if stop is not None and transaction.start is not None and stop < transaction.start:
            return None
        transaction.charger_transaction_id = transaction_id
        self._save_later()
        return transaction

    def _find_replay(
        self, charge_point_id: str, connector_id: int, id_tag: str, meter_start: int, start: datetime | None
    ) -> Transaction | None:
        candidates = list(self.open_transactions.values()) + list(reversed(self.recent_transactions))
        for transaction in candidates:
            if (
                transaction.start_seen
                and transaction.charge_point_id == charge_point_id
                and transaction.connector_id == connector_id
                and transaction.id_tag == id_tag
                and transaction.meter_start == meter_start
                and transaction.start == start
            ):
                return transaction
        return None

    async def start_transaction(
        self, charge_point_id: str, payload: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """
        Record a StartTransaction; return (transaction id, IdTagInfo).

        The counter and the open transaction are on disk before the answer goes out, so
        an id is never handed out twice and a session survives a crash right after.
        """
        connector_id = int(payload["connector_id"])
        id_tag = str(payload["id_tag"])
        meter_start = int(payload["meter_start"])
        start = parse_datetime(payload.get("timestamp"))
        info = self.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_START, connector_id=connector_id)
        replay = self._find_replay(charge_point_id, connector_id, id_tag, meter_start, start)
        if replay is not None:
            _LOGGER.info(
                "%s: StartTransaction replayed, answering transaction %s again",
                charge_point_id, replay.transaction_id,
            )
            return replay.transaction_id, info
        charger = self.accepted_charger(charge_point_id)
        connector = self._connector(charger, connector_id)
        transaction = Transaction(
            transaction_id=self.next_transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            start=start or utcnow(),
            reservation_id=payload.get("reservation_id"),
            authorized=info["status"] == "Accepted",
        )
        self.next_transaction_id += 1
        self.open_transactions[transaction.transaction_id] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction.transaction_id,
                connector.transaction.transaction_id,
            )
            # Its stop was lost: the history records its end as reconstructed until (unless) it comes.
            superseded = connector.transaction
            self.history.add(superseded, self._id_tag_name(superseded.id_tag), reconstructed_stop=transaction.start)
            energy.count_stopped(connector, superseded)
        connector.transaction = transaction
        self._register_at_start(charger, connector, transaction)
        self._note_presented(charge_point_id, id_tag, info["status"])
        self._end_reservation_on_start(transaction)
        await self._save_now()
        self._listener.id_tag_presented(
            IdTagPresented(charge_point_id, connector_id, id_tag, snake(info["status"]))
        )
        self._listener.transaction_started(transaction)
        self._listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)
        return transaction.transaction_id, info

    async def stop_transaction(
        self, charge_point_id: str, payload: Mapping[str, Any], *, observed: bool = False
    ) -> dict[str, Any] | None:
        """Record a StopTransaction (known or not); return IdTagInfo when an id tag was given.

        `observed`: a relayed charger's stop, which the upstream answered.
        """
        transaction_id = int(payload["transaction_id"])
        meter_stop = int(payload["meter_stop"])
        stop = parse_datetime(payload.get("timestamp")) or utcnow()
        id_tag = payload.get("id_tag")
        reason = payload.get("reason") or "Local"
        charger = self.accepted_charger(charge_point_id)
        transaction = self._open_transaction_of(charge_point_id, transaction_id)
        if transaction is None:
            # A replayed StopTransaction (under our id, or the charger's own one for it): answer
            # it again, record nothing twice. Checked before the charger's own ids are mapped, so
            # a replay never stops the session that runs now.
            replayed, recent = self._replayed_stop(charger, transaction_id, meter_stop, stop)
            if replayed:
                # (After it left the recent transactions the history has it.)
                _LOGGER.info("%s: StopTransaction %s replayed", charge_point_id, transaction_id)
                return (
                    self.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=recent)
                    if id_tag
                    else None
                )
            if not observed:
                transaction = self._by_charger_id(charger, transaction_id, meter_stop=meter_stop, stop=stop)
        if transaction is not None and not transaction.observed:
            del self.open_transactions[transaction.transaction_id]
        elif transaction is not None:
            del self.observed_transactions[(charge_point_id, transaction_id)]
        if transaction is None:
            _LOGGER.warning(
                "%s: StopTransaction for unknown transaction %s; recorded without its start",
                charge_point_id, transaction_id,
            )
            transaction = Transaction(
                transaction_id=transaction_id,
                charge_point_id=charge_point_id,
                connector_id=0,
                id_tag=id_tag,
                meter_start=None,
                start=None,
                start_seen=False,
                observed=observed,
            )
        connector = self._connector(charger, transaction.connector_id)
        transaction_data = payload.get("transaction_data") or []
        # Without its start the connector is unknown: the readings are no connector's (nor the
        # charger's main meter, connector 0, where an unknown transaction is filed).
        if transaction_data and transaction.start_seen:
            self._apply_readings(charger, connector, transaction_data, transaction, at_stop=True)
        transaction.meter_stop = meter_stop
        transaction.stop = stop
        transaction.reason = reason
        transaction.stop_id_tag = id_tag
        if connector.transaction is transaction or (
            connector.transaction is not None and connector.transaction.transaction_id == transaction_id
        ):
            connector.transaction = None
            connector.pending_restart = None
        # Counted once: a replayed StopTransaction was answered above.
        energy.count_stopped(connector, transaction)
        energy_keys = self._energy_changed(charger, connector.connector_id)
        self._remember_stopped(transaction)
        self.history.add(transaction, self._id_tag_name(transaction.id_tag))
        connector.last_transaction = transaction
        await self._save_now()
        self._listener.transaction_stopped(transaction)
        self._listener.charger_changed(charge_point_id, connector.connector_id, TRANSACTION_KEYS | energy_keys)
        if not id_tag:
            return None
        return self.id_tag_info(id_tag, charge_point_id, purpose=PURPOSE_STOP, transaction=transaction)

    # --- other notifications ------------------------------------------------------------

    def firmware_status(self, charge_point_id: str, status: str) -> None:
        """Record a FirmwareStatusNotification."""
        self.accepted_charger(charge_point_id).firmware_status = status
        self._listener.charger_changed(charge_point_id, 0, frozenset({"firmware_status"}))
        self._save_later()

    def diagnostics_status(self, charge_point_id: str, status: str) -> None:
        """Record a DiagnosticsStatusNotification."""
        self.accepted_charger(charge_point_id).diagnostics_status = status
        self._listener.charger_changed(charge_point_id, 0, frozenset({"diagnostics_status"}))
        self._save_later()

    def data_transfer(self, charge_point_id: str, payload: Mapping[str, Any]) -> str:
        """Announce a DataTransfer; no vendor extension is handled, so the answer is UnknownVendorId."""
        self._listener.data_transfer(
            DataTransferReceived(
                charge_point_id,
                str(payload["vendor_id"]),
                payload.get("message_id"),
                payload.get("data"),
            )
        )
        return "UnknownVendorId"

    # --- security: passwords (profiles 1-2) and the OCPP 1.6 security extension ----------

    def password_of(self, charge_point_id: str) -> str | None:
        """Return the charger's own HTTP Basic password, None when it uses the entry's."""
        charger = self.chargers.get(charge_point_id)
        return charger.password if charger is not None else None

    def previous_password_of(self, charge_point_id: str) -> str | None:
        """Return the password a charger had before `set_charger_password`, until it uses the new one."""
        charger = self.chargers.get(charge_point_id)
        return charger.previous_password if charger is not None else None

    def password_confirmed(self, charge_point_id: str) -> None:
        """The charger authenticated with its current password: the previous one stops working."""
        charger = self.chargers.get(charge_point_id)
        if charger is not None and charger.previous_password is not None:
            charger.previous_password = None
            self._save_later()

    def change_password(self, charge_point_id: str, password: str, previous: str | None) -> None:
        """Give a charger a new password; `previous` stays valid until the charger uses the new one."""
        charger = self.chargers[charge_point_id]
        charger.previous_password = previous
        charger.password = password
        self._save_later()

    def set_password(self, charge_point_id: str, password: str | None) -> None:
        """Set (or clear, with None) a known charger's own HTTP Basic password; persisted."""
        charger = self.chargers[charge_point_id]
        charger.password = password or None
        self._save_later()

    def set_security_profile(self, charge_point_id: str, profile: int | None, *, fallback: int | None) -> None:
        """Set a known charger's own security profile (None: the entry's) and a lower one still accepted."""
        charger = self.chargers[charge_point_id]
        charger.security_profile = profile
        charger.security_profile_fallback = fallback
        self._listener.charger_changed(charge_point_id, 0, frozenset({"settings"}))
        self._save_later()

    def apply_settings(self, settings: CentralSettings) -> None:
        """Apply new policy settings (new chargers, unknown id tags, heartbeat, remote id tag)."""
        self.settings = settings

    def set_charger_limits(self, charge_point_id: str, *, max_current: float, phases: int) -> None:
        """Set a known charger's maximum current (A per phase) and phases; persisted."""
        if max_current <= 0 or phases not in (1, 2, 3):
            raise ValueError(f"invalid charger limits {max_current} A, {phases} phases")
        charger = self.chargers[charge_point_id]
        charger.max_current = float(max_current)
        charger.phases = int(phases)
        self.changed(charge_point_id, 0, frozenset({"settings"}))

    def set_min_current(self, charge_point_id: str, min_current: float) -> None:
        """Set the lowest current (A per phase) the site controller gives a known charger; persisted."""
        charger = self.chargers[charge_point_id]
        if not 0 < min_current <= charger.max_current:
            raise ValueError(f"invalid minimum current {min_current} A (maximum {charger.max_current} A)")
        charger.min_current = float(min_current)
        self.changed(charge_point_id, 0, frozenset({"settings"}))

    def set_relay_settings(self, charge_point_id: str, *, relayed: bool | None, upstream_password: str | None) -> bool:
        """Set whether a charger is relayed upstream and its upstream password; return True if changed."""
        charger = self.chargers[charge_point_id]
        changed = (relayed, upstream_password) != (charger.relayed, charger.upstream_password)
        charger.relayed, charger.upstream_password = relayed, upstream_password
        if changed:
            self.changed(charge_point_id, 0, frozenset({"settings"}))
        return changed

    def set_limit(self, charge_point_id: str, connector_id: int, limit: ChargingLimit) -> None:
        """Record the charging limit the charger accepted for a connector (0: the whole charger)."""
        self.chargers[charge_point_id].limits[connector_id] = limit
        self.changed(charge_point_id, connector_id, frozenset({"limit"}))

    def observe_id_tags(self, observer: Callable[[], None]) -> Callable[[], None]:
        """Call `observer` after the id tag list changed; return a function that stops it."""
        self.id_tag_observers.append(observer)
        return lambda: self.id_tag_observers.remove(observer) if observer in self.id_tag_observers else None

    def set_quirk_profile(self, charge_point_id: str, choice: str) -> None:
        """Choose a known charger's quirk profile: `auto` (detected), `none` or a profile's name."""
        if choice not in CHOICES:
            raise ValueError(f"unknown quirk profile {choice!r}")
        charger = self.chargers[charge_point_id]
        charger.quirk_profile = choice
        self._listener.charger_changed(charge_point_id, 0, frozenset({"settings"}))
        self._save_later()

    def security_profile_confirmed(self, charge_point_id: str) -> None:
        """The charger connected with its raised security profile: the lower one is refused from now on."""
        charger = self.chargers.get(charge_point_id)
        if charger is None or charger.security_profile_fallback is None:
            return
        _LOGGER.info(
            "%s connected with its client certificate: security profile %s is no longer accepted for it",
            charge_point_id, charger.security_profile_fallback,
        )
        charger.security_profile_fallback = None
        self._save_later()

    def log_status(self, charge_point_id: str, status: str, request_id: int | None) -> None:
        """Record a LogStatusNotification (the progress of a GetLog upload)."""
        _LOGGER.debug("%s: log upload %s is %s", charge_point_id, request_id, status)
        self.accepted_charger(charge_point_id).log_status = status
        self._listener.charger_changed(charge_point_id, 0, frozenset({"log_status"}))
        self._save_later()

    def security_event(self, charge_point_id: str, payload: Mapping[str, Any]) -> None:
        """Log and announce a SecurityEventNotification."""
        event = SecurityEventReceived(
            charge_point_id, str(payload["type"]), str(payload["timestamp"]), payload.get("tech_info")
        )
        level = logging.WARNING if event.type in ALARMING_SECURITY_EVENTS else logging.INFO
        _LOGGER.log(
            level, "%s reported security event %s at %s%s", charge_point_id, event.type, event.timestamp,
            f": {event.tech_info}" if event.tech_info else "",
        )
        self._listener.security_event(event)

    def sign_certificate(self, charge_point_id: str, csr: str) -> str:
        """Announce a charger's CSR (signed outside, returned with CertificateSigned); answer Accepted."""
        _LOGGER.info("%s sent a certificate signing request", charge_point_id)
        self._listener.certificate_signing_requested(CertificateSigningRequested(charge_point_id, csr))
        return "Accepted"

    # --- reservations -------------------------------------------------------------------

    def add_reservation(self, reservation: Reservation) -> None:
        """Record a reservation the charger accepted; its connector shows Reserved."""
        replaced = self.auth.add_reservation(reservation)
        charger = self.chargers.get(reservation.charge_point_id)
        if replaced is not None and charger is not None:
            unmark_reserved(replaced, charger.connectors.get(replaced.connector_id))
        if charger is not None:
            mark_reserved(reservation, charger.connectors.get(reservation.connector_id))
        self._save_later()
        self._listener.charger_changed(
            reservation.charge_point_id, reservation.connector_id, STATUS_KEYS | {"reservation"}
        )

    def end_reservation(self, reservation_id: int, why: str) -> Reservation | None:
        """Forget a reservation (used, cancelled, expired); return it, None when unknown."""
        reservation = self.auth.reservations.pop(reservation_id, None)
        if reservation is None:
            return None
        _LOGGER.debug(
            "%s: reservation %s ended (%s)", reservation.charge_point_id, reservation_id, why
        )
        charger = self.chargers.get(reservation.charge_point_id)
        if charger is not None:
            unmark_reserved(reservation, charger.connectors.get(reservation.connector_id))
        self._save_later()
        self._listener.charger_changed(
            reservation.charge_point_id, reservation.connector_id, STATUS_KEYS | {"reservation"}
        )
        return reservation

    def expire_reservations(self) -> list[Reservation]:
        """End every reservation whose expiry date has passed; return them."""
        return [
            ended
            for reservation in self.auth.expired(utcnow())
            if (ended := self.end_reservation(reservation.reservation_id, "expired")) is not None
        ]

    def _end_reservation_on_start(self, transaction: Transaction) -> None:
        """A StartTransaction with a reservation id ends that reservation (spec 5.13)."""
        reservation_id = transaction.reservation_id
        if reservation_id is None:
            return
        reservation = self.auth.reservations.get(reservation_id)
        if reservation is not None and reservation.charge_point_id == transaction.charge_point_id:
            self.end_reservation(reservation_id, f"transaction {transaction.transaction_id} started")

    # --- local controller mode: a relayed charger's messages, answered by the upstream -----

    def authorize_observed(self, charge_point_id: str, id_tag: str, status: str) -> None:
        """Announce an id tag the upstream answered for a relayed charger."""
        self._listener.id_tag_presented(IdTagPresented(charge_point_id, None, id_tag, snake(status)))

    def _restore_observed(self, transaction: Transaction) -> None:
        transaction.observed = True
        self.observed_transactions[(transaction.charge_point_id, transaction.transaction_id)] = transaction
        owner = self.chargers.get(transaction.charge_point_id)
        if owner is not None:
            connector, _ = owner.connector(transaction.connector_id)
            if connector.transaction is None:
                connector.transaction = transaction

    async def start_transaction_observed(
        self, charge_point_id: str, payload: Mapping[str, Any], transaction_id: int, status: str
    ) -> None:
        """
        Record a relayed charger's StartTransaction under the transaction id the upstream gave.

        The same id again is a replay; a replay (same connector, id tag, timestamp and
        meterStart) that the upstream answered with a new id moves the session to that id,
        since the charger will use it from now on: either way no second session starts.
        """
        key = (charge_point_id, transaction_id)
        if key in self.observed_transactions or any(
            t.transaction_id == transaction_id and t.charge_point_id == charge_point_id and t.observed
            for t in self.recent_transactions
        ):
            _LOGGER.info("%s: StartTransaction %s replayed through the upstream", charge_point_id, transaction_id)
            return
        connector_id = int(payload["connector_id"])
        id_tag = str(payload["id_tag"])
        meter_start = int(payload["meter_start"])
        start = parse_datetime(payload.get("timestamp"))
        for (owner, old_id), running in list(self.observed_transactions.items()):
            if (
                owner == charge_point_id
                and running.connector_id == connector_id
                and running.id_tag == id_tag
                and running.meter_start == meter_start
                and running.start == start
            ):
                _LOGGER.info(
                    "%s: StartTransaction replayed; the upstream moved transaction %s to %s",
                    charge_point_id, old_id, transaction_id,
                )
                del self.observed_transactions[(owner, old_id)]
                running.transaction_id = transaction_id
                self.observed_transactions[key] = running
                await self._save_now()
                self._listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)
                return
        charger = self.accepted_charger(charge_point_id)
        connector = self._connector(charger, connector_id)
        transaction = Transaction(
            transaction_id=transaction_id,
            charge_point_id=charge_point_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=meter_start,
            start=start or utcnow(),
            reservation_id=payload.get("reservation_id"),
            observed=True,
        )
        self.observed_transactions[key] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction_id, connector.transaction.transaction_id,
            )
            energy.count_stopped(connector, connector.transaction)
        connector.transaction = transaction
        self._register_at_start(charger, connector, transaction)
        await self._save_now()
        self._listener.id_tag_presented(IdTagPresented(charge_point_id, connector_id, id_tag, snake(status)))
        self._listener.transaction_started(transaction)
        self._listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)
