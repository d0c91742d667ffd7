"""
The central system's state and policies, independent of transport, protocol version and Home Assistant.

Wire sessions (v16/) call in here with plain typed arguments. CentralSystem holds the state
(store.py) and composes the parts that work on it, one responsibility each: registry (chargers,
connections, registration), credentials, reservation_book, metering, id_tag_authority,
transactions, observed (relayed chargers' transactions) and station_transactions (2.0.1's).
Its public methods are theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .credentials import Credentials
from .id_tag_authority import IdTagAuthority
from .listener import CentralSystemListener, Persistence
from .metering import Metering
from .observed import ObservedTransactions
from .orphans import OrphanedTransactions
from .registry import ChargerRegistry
from .reports import ConnectorStatus
from .reservation_book import ReservationBook
from .settings import (
    NEW_CHARGERS_ACCEPT,
    NEW_CHARGERS_PENDING,
    REGISTRATION_ACCEPTED,
    REGISTRATION_PENDING,
    REGISTRATION_REJECTED,
    CentralSettings,
)
from .station_transactions import StationTransactions
from .store import RECENT_TRANSACTIONS, CentralStore
from .transactions import Transactions

__all__ = [
    "NEW_CHARGERS_ACCEPT",
    "NEW_CHARGERS_PENDING",
    "RECENT_TRANSACTIONS",
    "REGISTRATION_ACCEPTED",
    "REGISTRATION_PENDING",
    "REGISTRATION_REJECTED",
    "CentralSettings",
    "CentralSystem",
]


class CentralSystem(CentralStore):
    """All chargers of one entry: their state (CentralStore) and the parts that keep it."""

    # Over 60 lines: one line per public method of its parts, the facade's whole point.
    def __init__(self, settings: CentralSettings, listener: CentralSystemListener, persistence: Persistence) -> None:
        """Create an empty central system; call `restore` with persisted data."""
        super().__init__(settings, listener, persistence)
        self.registry = registry = ChargerRegistry(self)
        self.credentials = credentials = Credentials(self)
        self.reservations = reservations = ReservationBook(self)
        self.metering = metering = Metering(self, registry, reservations)
        self.id_tag_authority = id_tags = IdTagAuthority(self)
        self.observed = observed = ObservedTransactions(self, registry, metering)
        self.orphans = orphans = OrphanedTransactions(self, metering, id_tags)
        self.transactions = transactions = Transactions(
            self, registry, metering, id_tags, reservations, orphans=orphans
        )
        self.station_transactions = StationTransactions(
            self,
            registry=registry,
            metering=metering,
            id_tags=id_tags,
            reservations=reservations,
            transactions=transactions,
        )
        # The public interface: each part's methods under the names sessions, glue and tests use.
        self.registration_status = registry.registration_status
        self.is_accepted = registry.is_accepted
        self.ensure_charger = registry.ensure_charger
        self.accepted_charger = registry.accepted_charger
        self.accept_charger = registry.accept_charger
        self.remove_charger = registry.remove_charger
        self.session_opened = registry.session_opened
        self.session_closed = registry.session_closed
        self.message_received = registry.message_received
        self.max_connector_id = registry.max_connector_id
        self.changed = registry.changed
        self.update_configuration = registry.update_configuration
        self.boot_notification = registry.boot_notification
        self.firmware_status = registry.firmware_status
        self.diagnostics_status = registry.diagnostics_status
        self.log_status = registry.log_status
        self.data_transfer = registry.data_transfer
        self.apply_settings = registry.apply_settings
        self.set_charger_limits = registry.set_charger_limits
        self.set_min_current = registry.set_min_current
        self.set_relay_settings = registry.set_relay_settings
        self.set_limit = registry.set_limit
        self.clear_limit = registry.clear_limit
        self.set_quirk_profile = registry.set_quirk_profile
        self.set_ocpp_version_choice = registry.set_ocpp_version_choice
        self.observe_id_tags = registry.observe_id_tags
        self.password_of = credentials.password_of
        self.previous_password_of = credentials.previous_password_of
        self.password_confirmed = credentials.password_confirmed
        self.change_password = credentials.change_password
        self.set_password = credentials.set_password
        self.set_security_profile = credentials.set_security_profile
        self.security_profile_confirmed = credentials.security_profile_confirmed
        self.security_event = credentials.security_event
        self.sign_certificate = credentials.sign_certificate
        self.add_reservation = reservations.add_reservation
        self.end_reservation = reservations.end_reservation
        self.expire_reservations = reservations.expire_reservations
        self.seed_energy = metering.seed_energy
        self.expire_readings = metering.expire_readings
        self.id_tag_info = id_tags.id_tag_info
        self.authorize = id_tags.authorize
        self.set_id_tag = id_tags.set_id_tag
        self.remove_id_tag = id_tags.remove_id_tag
        self.meter_values = transactions.meter_values
        self.start_transaction = transactions.start_transaction
        self.stop_transaction = transactions.stop_transaction
        self.authorize_observed = observed.authorize_observed
        self.start_transaction_observed = observed.start_transaction_observed
        self.transaction_event = self.station_transactions.transaction_event
        self.charger_rebooted = orphans.charger_rebooted
        self.transaction_in_doubt = orphans.in_doubt
        self.close_overdue_transactions = orphans.close_overdue

    def restore(self, data: Mapping[str, Any] | None) -> None:
        """Load persisted state; restored power and current of idle connectors are not current."""
        super().restore(data)
        self.metering.zero_restored()

    def status_notification(self, charge_point_id: str, report: ConnectorStatus) -> None:
        """Record a StatusNotification; one that says a connector has no transaction puts ours in doubt."""
        self.metering.status_notification(charge_point_id, report)
        self.orphans.status_reported(charge_point_id, report)
