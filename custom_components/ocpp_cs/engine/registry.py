"""The chargers of a central system: registration, connections, connectors and their settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from .configuration import ConfigurationValue
from .costs.display import VENDOR_ID as COST_VENDOR_ID
from .listener import DataTransferReceived
from .quirks import CHOICES
from .settings import (
    MAX_CONNECTORS,
    NEW_CHARGERS_ACCEPT,
    NEW_CHARGERS_PENDING,
    REGISTRATION_ACCEPTED,
    REGISTRATION_PENDING,
    REGISTRATION_REJECTED,
    CentralSettings,
)
from .state import OCPP_VERSION_CHOICES, BootInfo, ChargerState, ChargingLimit, ConnectorState
from .store import CentralStore
from .util import utcnow

if TYPE_CHECKING:
    from .session import AnySession

_LOGGER = logging.getLogger(__name__)

# How often `last_heartbeat` is republished for messages other than Heartbeat.
LAST_SEEN_PUBLISH_INTERVAL = timedelta(seconds=60)


class ChargerRegistry:
    """Chargers and their connections: who may talk, what they reported about themselves."""

    def __init__(self, store: CentralStore) -> None:
        """Work on the central system's state."""
        self._store = store

    def registration_status(self, charge_point_id: str) -> str | None:
        """Return Accepted/Pending/Rejected for a charger, None when it never booted."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is not None and charger.accepted:
            return REGISTRATION_ACCEPTED
        if charge_point_id in self._store.registration:
            return self._store.registration[charge_point_id]
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
            return self._store.settings.new_chargers == NEW_CHARGERS_ACCEPT
        return status == REGISTRATION_ACCEPTED

    def ensure_charger(self, charge_point_id: str, *, accepted: bool) -> ChargerState:
        """Return the charger's state, creating (and announcing) it when new."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is None:
            charger = ChargerState(charge_point_id, accepted=accepted)
            charger.connector(0)
            self._store.chargers[charge_point_id] = charger
            charger.connected = charge_point_id in self._store.sessions
            self._store.listener.charger_added(charge_point_id)
            self._store.save_later()
        elif accepted and not charger.accepted:
            charger.accepted = True
            self._store.listener.charger_changed(charge_point_id, 0, frozenset({"registration"}))
            self._store.save_later()
        return charger

    def accepted_charger(self, charge_point_id: str) -> ChargerState:
        """Return the state of a charger the session already found accepted."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is not None and charger.accepted:
            return charger
        return self.ensure_charger(charge_point_id, accepted=True)

    def accept_charger(self, charge_point_id: str) -> ChargerState:
        """Accept a pending charger (the user said so); it is asked to boot again by the caller."""
        self._store.registration.pop(charge_point_id, None)
        return self.ensure_charger(charge_point_id, accepted=True)

    def remove_charger(self, charge_point_id: str) -> None:
        """Forget a charger (its device was removed), its frames too."""
        self._store.chargers.pop(charge_point_id, None)
        self._store.registration.pop(charge_point_id, None)
        self._store.auth.forget_charger(charge_point_id)
        self._store.message_logs.forget(charge_point_id)
        self._store.save_later()

    def session_opened(self, session: AnySession) -> AnySession | None:
        """Register a new connection; return the one it replaces, if any."""
        charge_point_id = session.id
        previous = self._store.sessions.get(charge_point_id)
        self._store.sessions[charge_point_id] = session
        charger = self._store.chargers.get(charge_point_id)
        if charger is not None:
            charger.connected = True
            self._store.listener.charger_changed(charge_point_id, 0, frozenset({"connected"}))
        elif self._store.settings.new_chargers == NEW_CHARGERS_ACCEPT:
            # Known at once, even before BootNotification, so its device appears.
            charger = self.ensure_charger(charge_point_id, accepted=True)
        if charger is not None and charger.ocpp_version != session.ocpp_version:
            charger.ocpp_version = session.ocpp_version
            self.changed(charge_point_id, 0, frozenset({"ocpp_version"}))
        return previous

    def session_closed(self, session: AnySession) -> None:
        """Forget a connection, unless a newer one for the same charger replaced it."""
        charge_point_id = session.id
        if self._store.sessions.get(charge_point_id) is not session:
            return
        del self._store.sessions[charge_point_id]
        charger = self._store.chargers.get(charge_point_id)
        if charger is not None:
            charger.connected = False
            self._store.listener.charger_changed(charge_point_id, 0, frozenset({"connected"}))

    def message_received(self, charge_point_id: str, *, heartbeat: bool = False) -> datetime:
        """Note that a charger was heard from; return the time."""
        now = utcnow()
        charger = self._store.chargers.get(charge_point_id)
        if charger is None:
            return now
        charger.last_seen = now
        last = self._store.last_seen_published.get(charge_point_id)
        if heartbeat or last is None or now - last >= LAST_SEEN_PUBLISH_INTERVAL:
            self._store.last_seen_published[charge_point_id] = now
            self._store.listener.charger_changed(charge_point_id, 0, frozenset({"last_seen"}))
        return now

    def connector(self, charger: ChargerState, connector_id: int) -> ConnectorState:
        """Return a connector, creating it and any lower-numbered ones that are missing."""
        connector, created = charger.connector(connector_id)
        if created:
            for lower in range(1, connector_id):
                _, lower_created = charger.connector(lower)
                if lower_created:
                    self._store.listener.connector_added(charger.charge_point_id, lower)
            if connector_id > 0:
                self._store.listener.connector_added(charger.charge_point_id, connector_id)
            self._store.save_later()
        return connector

    def max_connector_id(self, charge_point_id: str) -> int:
        """Return the highest connector id a charger may use (NumberOfConnectors, at least 32)."""
        charger = self._store.chargers.get(charge_point_id)
        declared = charger.config_int("NumberOfConnectors") if charger else None
        return max(MAX_CONNECTORS, declared or 0)

    def changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Announce a change made outside a charger message (a command's outcome) and persist it."""
        self._store.listener.charger_changed(charge_point_id, connector_id, keys)
        self._store.save_later()

    def update_configuration(self, charge_point_id: str, values: Mapping[str, ConfigurationValue]) -> None:
        """Record configuration keys read from (or written to) a charger."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is None or not values:
            return
        charger.configuration.update(values)
        number = charger.config_int("NumberOfConnectors")
        if number is not None and number > 0:
            self.connector(charger, number)
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"configuration"}))
        self._store.save_later()

    def boot_notification(
        self, charge_point_id: str, boot: BootInfo, *, upstream_status: str | None = None
    ) -> tuple[str, int]:
        """Record a BootNotification and return (status, interval) per the new-charger policy.

        A relayed charger's registration is the upstream's answer (`upstream_status`).
        """
        status = self.registration_status(charge_point_id)
        if upstream_status is not None:
            status = upstream_status
        elif status != REGISTRATION_ACCEPTED:
            # Not accepted yet: the policy in force now decides (the user may have changed it).
            policy = self._store.settings.new_chargers
            if policy == NEW_CHARGERS_ACCEPT:
                status = REGISTRATION_ACCEPTED
            elif policy == NEW_CHARGERS_PENDING:
                status = REGISTRATION_PENDING
            else:
                status = REGISTRATION_REJECTED
        interval = self._store.settings.heartbeat_interval
        if status == REGISTRATION_REJECTED:
            self._store.registration[charge_point_id] = status
            _LOGGER.warning("Rejected BootNotification of unknown charger %s", charge_point_id)
            return status, interval
        charger = self.ensure_charger(charge_point_id, accepted=status == REGISTRATION_ACCEPTED)
        charger.boot = boot
        charger.last_boot = utcnow()
        if (quirk_profile := charger.quirk_profile_in_force()) is not None:
            _LOGGER.info(
                "%s: quirk profile %s (%s): %s", charge_point_id, quirk_profile.name, quirk_profile.brand,
                ", ".join(quirk_profile.quirks.changed()) or "handled like every charger",
            )
        if status == REGISTRATION_PENDING:
            if self._store.registration.get(charge_point_id) != REGISTRATION_PENDING:
                _LOGGER.info("Charger %s is pending: accept it in Repairs", charge_point_id)
            self._store.registration[charge_point_id] = status
            if upstream_status is None:  # the upstream accepts its own chargers, not the user
                self._store.listener.charger_pending(charge_point_id)
        else:
            self._store.registration.pop(charge_point_id, None)
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"boot", "registration"}))
        self._store.save_later()
        return status, interval

    def firmware_status(self, charge_point_id: str, status: str) -> None:
        """Record a FirmwareStatusNotification."""
        self.accepted_charger(charge_point_id).firmware_status = status
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"firmware_status"}))
        self._store.save_later()

    def diagnostics_status(self, charge_point_id: str, status: str) -> None:
        """Record a DiagnosticsStatusNotification."""
        self.accepted_charger(charge_point_id).diagnostics_status = status
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"diagnostics_status"}))
        self._store.save_later()

    def data_transfer(self, charge_point_id: str, vendor_id: str, message_id: str | None, data: Any) -> str:
        """Announce a DataTransfer and answer it (OCPP 1.6 section 4.3).

        The one vendor extension spoken here is the cost display's (engine/costs/display.py),
        whose messages all go to the charger: from it, any message id is UnknownMessageId;
        every other vendor is UnknownVendorId.
        """
        self._store.listener.data_transfer(
            DataTransferReceived(
                charge_point_id,
                vendor_id,
                message_id,
                data,
            )
        )
        return "UnknownMessageId" if vendor_id == COST_VENDOR_ID else "UnknownVendorId"

    def log_status(self, charge_point_id: str, status: str, request_id: int | None) -> None:
        """Record a LogStatusNotification (the progress of a GetLog upload)."""
        _LOGGER.debug("%s: log upload %s is %s", charge_point_id, request_id, status)
        self.accepted_charger(charge_point_id).log_status = status
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"log_status"}))
        self._store.save_later()

    def apply_settings(self, settings: CentralSettings) -> None:
        """Apply new policy settings (new chargers, unknown id tags, heartbeat, remote id tag)."""
        self._store.settings = settings

    def set_charger_limits(self, charge_point_id: str, *, max_current: float, phases: int) -> None:
        """Set a known charger's maximum current (A per phase) and phases; persisted."""
        if max_current <= 0 or phases not in (1, 2, 3):
            raise ValueError(f"invalid charger limits {max_current} A, {phases} phases")
        charger = self._store.chargers[charge_point_id]
        charger.max_current = float(max_current)
        charger.phases = int(phases)
        self.changed(charge_point_id, 0, frozenset({"settings"}))

    def set_min_current(self, charge_point_id: str, min_current: float) -> None:
        """Set the lowest current (A per phase) the site controller gives a known charger; persisted."""
        charger = self._store.chargers[charge_point_id]
        if not 0 < min_current <= charger.max_current:
            raise ValueError(f"invalid minimum current {min_current} A (maximum {charger.max_current} A)")
        charger.min_current = float(min_current)
        self.changed(charge_point_id, 0, frozenset({"settings"}))

    def set_relay_settings(self, charge_point_id: str, *, relayed: bool | None, upstream_password: str | None) -> bool:
        """Set whether a charger is relayed upstream and its upstream password; return True if changed."""
        charger = self._store.chargers[charge_point_id]
        changed = (relayed, upstream_password) != (charger.relayed, charger.upstream_password)
        charger.relayed, charger.upstream_password = relayed, upstream_password
        if changed:
            self.changed(charge_point_id, 0, frozenset({"settings"}))
        return changed

    def set_limit(self, charge_point_id: str, connector_id: int, limit: ChargingLimit) -> None:
        """Record the charging limit the charger accepted for a connector (0: the whole charger)."""
        self._store.chargers[charge_point_id].limits[connector_id] = limit
        self.changed(charge_point_id, connector_id, frozenset({"limit"}))

    def clear_limit(self, charge_point_id: str, connector_id: int) -> None:
        """Forget a connector's limit (0: the whole charger): the charger cleared its profile."""
        if self._store.chargers[charge_point_id].limits.pop(connector_id, None) is not None:
            self.changed(charge_point_id, connector_id, frozenset({"limit"}))

    def observe_id_tags(self, observer: Callable[[], None]) -> Callable[[], None]:
        """Call `observer` after the id tag list changed; return a function that stops it."""
        self._store.id_tag_observers.append(observer)
        observers = self._store.id_tag_observers
        return lambda: observers.remove(observer) if observer in observers else None

    def set_ocpp_version_choice(self, charge_point_id: str, choice: str) -> None:
        """Choose the OCPP version of a known charger that offers both: `auto` (2.0.1), `1.6` or `2.0.1`."""
        if choice not in OCPP_VERSION_CHOICES:
            raise ValueError(f"unknown OCPP version choice {choice!r}")
        charger = self._store.chargers[charge_point_id]
        if charger.ocpp_version_choice != choice:
            charger.ocpp_version_choice = choice
            self.changed(charge_point_id, 0, frozenset({"settings"}))

    def set_quirk_profile(self, charge_point_id: str, choice: str) -> None:
        """Choose a known charger's quirk profile: `auto` (detected), `none` or a profile's name."""
        if choice not in CHOICES:
            raise ValueError(f"unknown quirk profile {choice!r}")
        charger = self._store.chargers[charge_point_id]
        charger.quirk_profile = choice
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"settings"}))
        self._store.save_later()
