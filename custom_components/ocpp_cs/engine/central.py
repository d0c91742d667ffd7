"""
The central system's state and policies, independent of transport and of Home Assistant.

Sessions call in here with decoded payloads; this module decides the answers, keeps the
state, persists what must survive and tells the listener what changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from .configuration import ConfigurationValue
from .listener import CentralSystemListener, DataTransferReceived, IdTagPresented, Persistence
from .meter import ENERGY_REGISTER, parse_meter_values
from .state import BootInfo, ChargerState, ConnectorState, IdTag, Transaction
from .util import format_datetime, parse_datetime, snake, utcnow

if TYPE_CHECKING:
    from .session import ChargePointSession

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# Stopped transactions kept to recognise replays and to show the last session.
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
        self.chargers: dict[str, ChargerState] = {}
        self.id_tags: dict[str, IdTag] = {}
        self.open_transactions: dict[int, Transaction] = {}
        self.recent_transactions: deque[Transaction] = deque(maxlen=RECENT_TRANSACTIONS)
        self.next_transaction_id = 1
        self.sessions: dict[str, ChargePointSession] = {}
        # Chargers answered Pending/Rejected in this run (not persisted: they may boot again).
        self.registration: dict[str, str] = {}
        self._last_seen_published: dict[str, datetime] = {}

    # --- persistence -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return everything that must survive a restart, JSON-serialisable."""
        return {
            "next_transaction_id": self.next_transaction_id,
            "chargers": [c.to_dict() for c in self.chargers.values()],
            "id_tags": [t.to_dict() for t in self.id_tags.values()],
            "open_transactions": [t.to_dict() for t in self.open_transactions.values()],
            "recent_transactions": [t.to_dict() for t in self.recent_transactions],
        }

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load persisted state (before any charger connects)."""
        if not data:
            return
        self.next_transaction_id = max(1, int(data.get("next_transaction_id") or 1))
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
        # Never hand out an id that is in use, whatever the counter says.
        used = [t.transaction_id for t in self.open_transactions.values()]
        used += [t.transaction_id for t in self.recent_transactions if t.start_seen]
        if used:
            self.next_transaction_id = max(self.next_transaction_id, max(used) + 1)

    def _remember_stopped(self, transaction: Transaction) -> None:
        self.recent_transactions.append(transaction)
        charger = self.chargers.get(transaction.charge_point_id)
        if charger is not None and transaction.connector_id in charger.connectors:
            charger.connectors[transaction.connector_id].last_transaction = transaction

    def _save_later(self) -> None:
        self._persistence.save_later()

    async def _save_now(self) -> None:
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
        """Forget a charger (its device was removed)."""
        self.chargers.pop(charge_point_id, None)
        self.registration.pop(charge_point_id, None)
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

    def set_number_of_connectors(self, charge_point_id: str, number: int) -> None:
        """Create connectors 1..number (NumberOfConnectors from the charger's configuration)."""
        charger = self.chargers.get(charge_point_id)
        if charger is not None and number > 0:
            self._connector(charger, number)

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

    def boot_notification(self, charge_point_id: str, payload: Mapping[str, Any]) -> tuple[str, int]:
        """Record a BootNotification and return (status, interval) per the new-charger policy."""
        status = self.registration_status(charge_point_id)
        if status != REGISTRATION_ACCEPTED:
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
        if status == REGISTRATION_PENDING:
            if self.registration.get(charge_point_id) != REGISTRATION_PENDING:
                _LOGGER.info("Charger %s is pending: accept it in Repairs", charge_point_id)
            self.registration[charge_point_id] = status
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
        elif connector_id > 0:
            transaction = connector.transaction
        self._apply_readings(charger, connector, meter_values, transaction)

    def _apply_readings(
        self,
        charger: ChargerState,
        connector: ConnectorState,
        meter_values: Iterable[Mapping[str, Any]],
        transaction: Transaction | None,
    ) -> None:
        readings = parse_meter_values(meter_values, utcnow())
        if not readings:
            return
        changed: set[str] = set()
        new_keys: list[str] = []
        session_changed = False
        for key, reading in readings:
            if key not in connector.meters and key not in new_keys:
                new_keys.append(key)
            if charger.apply_reading(connector, key, reading):
                changed.add(key)
            if transaction is not None and key == ENERGY_REGISTER:
                wh = reading.as_wh()
                if wh is not None and (
                    transaction.last_register_wh is None or wh > transaction.last_register_wh
                ):
                    transaction.last_register_wh = wh
                    session_changed = True
        charge_point_id = charger.charge_point_id
        if new_keys:
            self._listener.meter_keys_added(charge_point_id, connector.connector_id, new_keys)
            self._save_later()
        if session_changed:
            changed.add("session_energy")
        if changed:
            self._listener.charger_changed(charge_point_id, connector.connector_id, frozenset(changed))

    # --- authorization ------------------------------------------------------------------

    def id_tag_info(self, id_tag: str) -> dict[str, Any]:
        """Return the IdTagInfo for an id tag (the entry's list, then the unknown-tag policy)."""
        tag = self.id_tags.get(id_tag.casefold())
        if tag is None:
            status = "Accepted" if self.settings.unknown_id_tags == "accept" else "Invalid"
            return {"status": status}
        status = tag.status
        if status == "Accepted" and tag.expiry_date is not None and tag.expiry_date <= utcnow():
            status = "Expired"
        info: dict[str, Any] = {"status": status}
        if tag.expiry_date is not None:
            info["expiry_date"] = format_datetime(tag.expiry_date)
        if tag.parent_id_tag:
            info["parent_id_tag"] = tag.parent_id_tag
        return info

    def authorize(self, charge_point_id: str, id_tag: str) -> dict[str, Any]:
        """Answer Authorize and announce the presented tag."""
        info = self.id_tag_info(id_tag)
        self._listener.id_tag_presented(
            IdTagPresented(charge_point_id, None, id_tag, snake(info["status"]))
        )
        return info

    def set_id_tag(self, tag: IdTag) -> None:
        """Add or replace an id tag of the entry's list."""
        self.id_tags[tag.id_tag.casefold()] = tag
        self._save_later()

    def remove_id_tag(self, id_tag: str) -> bool:
        """Remove an id tag; return False when it was not listed."""
        removed = self.id_tags.pop(id_tag.casefold(), None) is not None
        if removed:
            self._save_later()
        return removed

    # --- transactions -------------------------------------------------------------------

    def _open_transaction_of(self, charge_point_id: str, transaction_id: int) -> Transaction | None:
        """Return an open transaction of this charger; another charger's id is not its own."""
        transaction = self.open_transactions.get(transaction_id)
        if transaction is None or transaction.charge_point_id != charge_point_id:
            return None
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
        info = self.id_tag_info(id_tag)
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
        )
        self.next_transaction_id += 1
        self.open_transactions[transaction.transaction_id] = transaction
        if connector.transaction is not None:
            _LOGGER.warning(
                "%s connector %s: transaction %s started while %s had no StopTransaction yet",
                charge_point_id, connector_id, transaction.transaction_id,
                connector.transaction.transaction_id,
            )
        connector.transaction = transaction
        await self._save_now()
        self._listener.id_tag_presented(
            IdTagPresented(charge_point_id, connector_id, id_tag, snake(info["status"]))
        )
        self._listener.transaction_started(transaction)
        self._listener.charger_changed(charge_point_id, connector_id, TRANSACTION_KEYS)
        return transaction.transaction_id, info

    async def stop_transaction(
        self, charge_point_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Record a StopTransaction (known or not); return IdTagInfo when an id tag was given."""
        transaction_id = int(payload["transaction_id"])
        meter_stop = int(payload["meter_stop"])
        stop = parse_datetime(payload.get("timestamp")) or utcnow()
        id_tag = payload.get("id_tag")
        reason = payload.get("reason") or "Local"
        charger = self.accepted_charger(charge_point_id)
        transaction = self._open_transaction_of(charge_point_id, transaction_id)
        if transaction is not None:
            del self.open_transactions[transaction_id]
        if transaction is None:
            for recent in self.recent_transactions:
                if recent.transaction_id == transaction_id and recent.charge_point_id == charge_point_id:
                    # A replayed StopTransaction: answer it again, record nothing twice.
                    _LOGGER.info("%s: StopTransaction %s replayed", charge_point_id, transaction_id)
                    return self.id_tag_info(id_tag) if id_tag else None
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
            )
        connector = self._connector(charger, transaction.connector_id)
        transaction_data = payload.get("transaction_data") or []
        # Without its start the connector is unknown: the readings are no connector's (nor the
        # charger's main meter, connector 0, where an unknown transaction is filed).
        if transaction_data and transaction.start_seen:
            self._apply_readings(charger, connector, transaction_data, transaction)
        transaction.meter_stop = meter_stop
        transaction.stop = stop
        transaction.reason = reason
        transaction.stop_id_tag = id_tag
        if connector.transaction is transaction or (
            connector.transaction is not None and connector.transaction.transaction_id == transaction_id
        ):
            connector.transaction = None
        self._remember_stopped(transaction)
        connector.last_transaction = transaction
        await self._save_now()
        self._listener.transaction_stopped(transaction)
        self._listener.charger_changed(charge_point_id, connector.connector_id, TRANSACTION_KEYS)
        return self.id_tag_info(id_tag) if id_tag else None

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
