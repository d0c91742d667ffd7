"""A central system's charger credentials: passwords (profiles 1-2) and the OCPP 1.6 security extension."""

from __future__ import annotations

import logging

from .listener import CertificateSigningRequested, SecurityEventReceived
from .settings import ALARMING_SECURITY_EVENTS
from .store import CentralStore

_LOGGER = logging.getLogger(__name__)


class Credentials:
    """Each charger's own password and security profile; its security events and CSRs."""

    def __init__(self, store: CentralStore) -> None:
        """Work on the central system's state."""
        self._store = store

    def password_of(self, charge_point_id: str) -> str | None:
        """Return the charger's own HTTP Basic password, None when it uses the entry's."""
        charger = self._store.chargers.get(charge_point_id)
        return charger.password if charger is not None else None

    def previous_password_of(self, charge_point_id: str) -> str | None:
        """Return the password a charger had before `set_charger_password`, until it uses the new one."""
        charger = self._store.chargers.get(charge_point_id)
        return charger.previous_password if charger is not None else None

    def password_confirmed(self, charge_point_id: str) -> None:
        """The charger authenticated with its current password: the previous one stops working."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is not None and charger.previous_password is not None:
            charger.previous_password = None
            self._store.save_later()

    def change_password(self, charge_point_id: str, password: str, previous: str | None) -> None:
        """Give a charger a new password; `previous` stays valid until the charger uses the new one."""
        charger = self._store.chargers[charge_point_id]
        charger.previous_password = previous
        charger.password = password
        self._store.save_later()

    def set_password(self, charge_point_id: str, password: str | None) -> None:
        """Set (or clear, with None) a known charger's own HTTP Basic password; persisted."""
        charger = self._store.chargers[charge_point_id]
        charger.password = password or None
        self._store.save_later()

    def set_security_profile(self, charge_point_id: str, profile: int | None, *, fallback: int | None) -> None:
        """Set a known charger's own security profile (None: the entry's) and a lower one still accepted."""
        charger = self._store.chargers[charge_point_id]
        charger.security_profile = profile
        charger.security_profile_fallback = fallback
        self._store.listener.charger_changed(charge_point_id, 0, frozenset({"settings"}))
        self._store.save_later()

    def security_profile_confirmed(self, charge_point_id: str) -> None:
        """The charger connected with its raised security profile: the lower one is refused from now on."""
        charger = self._store.chargers.get(charge_point_id)
        if charger is None or charger.security_profile_fallback is None:
            return
        _LOGGER.info(
            "%s connected with its client certificate: security profile %s is no longer accepted for it",
            charge_point_id, charger.security_profile_fallback,
        )
        charger.security_profile_fallback = None
        self._store.save_later()

    def security_event(self, charge_point_id: str, event_type: str, timestamp: str, tech_info: str | None) -> None:
        """Log and announce a security event the charger reported (its type, its time as sent)."""
        event = SecurityEventReceived(charge_point_id, event_type, timestamp, tech_info)
        level = logging.WARNING if event.type in ALARMING_SECURITY_EVENTS else logging.INFO
        _LOGGER.log(
            level, "%s reported security event %s at %s%s", charge_point_id, event.type, event.timestamp,
            f": {event.tech_info}" if event.tech_info else "",
        )
        self._store.listener.security_event(event)

    def sign_certificate(self, charge_point_id: str, csr: str) -> str:
        """Announce a charger's CSR (signed outside, returned with CertificateSigned); answer Accepted."""
        _LOGGER.info("%s sent a certificate signing request", charge_point_id)
        self._store.listener.certificate_signing_requested(CertificateSigningRequested(charge_point_id, csr))
        return "Accepted"
