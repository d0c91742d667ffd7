"""Security: the `wss://` certificate's repair issue, a charger's own security profile, diagnostics.

The security extension's actions are in services/security.py. Charger-initiated security
messages (SecurityEventNotification, SignCertificate, ...) are answered by the engine's session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
from typing import Any

from cryptography import x509
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from ocpp.v16 import call

from . import commands, transfers
from .const import CONF_SSL_CERTFILE, CONF_SSL_KEYFILE, DOMAIN
from .ports import Hub
from .settings import entry_config

_LOGGER = logging.getLogger(__name__)

# A certificate that expires within this time gets a (warning) repair issue.
EXPIRY_WARNING = timedelta(days=14)
CHECK_INTERVAL = timedelta(days=1)

def certificate_issue_id(entry_id: str) -> str:
    """Return the repair issue id of an entry's certificate."""
    return f"certificate_{entry_id}"


def certificate_problem(
    certfile: str, keyfile: str | None, now: datetime | None = None
) -> tuple[str, dict[str, str]] | None:
    """
    Return (issue translation key, placeholders) of what is wrong with the certificate files, or None.

    Blocking (reads files): run in the executor.
    """
    for path in (certfile, keyfile):
        if path and not Path(path).is_file():
            return "certificate_missing", {"path": path}
    try:
        certificates = x509.load_pem_x509_certificates(Path(certfile).read_bytes())
    except (OSError, ValueError) as err:
        return "certificate_invalid", {"path": certfile, "error": str(err)}
    expires = certificates[0].not_valid_after_utc
    now = now or datetime.now(UTC)
    if expires <= now:
        return "certificate_expired", {"path": certfile, "date": expires.isoformat()}
    if expires <= now + EXPIRY_WARNING:
        return "certificate_expiring", {"path": certfile, "date": expires.isoformat()}
    return None


async def async_check_certificate(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Create, update or remove the entry's certificate repair issue."""
    config = entry_config(entry)
    certfile = config.get(CONF_SSL_CERTFILE)
    issue_id = certificate_issue_id(entry.entry_id)
    problem = None
    if certfile:
        problem = await hass.async_add_executor_job(certificate_problem, certfile, config.get(CONF_SSL_KEYFILE))
    if problem is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    key, placeholders = problem
    _LOGGER.warning("%s: the wss:// certificate has a problem: %s %s", entry.title, key, placeholders)
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING if key == "certificate_expiring" else ir.IssueSeverity.ERROR,
        translation_key=key,
        translation_placeholders={**placeholders, "entry": entry.title},
        data={"entry_id": entry.entry_id},
    )


async def async_setup_certificate_checks(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Check the certificate now (before the server loads it) and every day while the entry runs."""
    await async_check_certificate(hass, entry)

    @callback
    def _daily(_now: datetime) -> None:
        hass.async_create_task(async_check_certificate(hass, entry), f"{DOMAIN} certificate check {entry.entry_id}")

    cancel: Callable[[], None] = async_track_time_interval(hass, _daily, CHECK_INTERVAL)
    entry.async_on_unload(cancel)


# --- a charger's own security profile ------------------------------------------------------

# What became of a change of a charger's security profile (the options flow says so).
PROFILE_SAVED = "saved"
PROFILE_SENT = "security_profile_sent"  # the charger accepted SecurityProfile: it reconnects with it
PROFILE_REBOOT_REQUIRED = "security_profile_reboot_required"
PROFILE_BY_HAND = "security_profile_by_hand"  # not connected, or not over OCPP: set it on the charger
PROFILE_LOWERED = "security_profile_lowered"
PROFILE_REJECTED = "security_profile_rejected"  # the charger refused: nothing changed


async def async_set_security_profile(hub: Hub, charge_point_id: str, profile: int | None) -> str:
    """Set a charger's own security profile (None: the entry's); return what became of it (PROFILE_*).

    Raising it follows the whitepaper's A05: a charger connected with a lower profile is sent
    ChangeConfiguration SecurityProfile. `Rejected` means it lacks a prerequisite (A05.FR.03/04:
    our CA installed as CentralSystemRootCertificate, a ChargePointCertificate of its own), and
    nothing changes. Otherwise the lower profile stays accepted until the charger first connects
    with the new one (A05.FR.08/09): one that cannot use the new profile yet is not locked out.
    Lowering is never sent over OCPP (A00.FR.005): the charger is set by hand.
    """
    charger = hub.central.chargers[charge_point_id]
    default = hub.default_security_profile
    before = charger.security_profile or default
    after = profile or default
    fallback = charger.security_profile_fallback
    outcome = PROFILE_SAVED
    if after > before:
        fallback = min(before, fallback or before)
        outcome = PROFILE_BY_HAND
    elif after < before:
        fallback = None
        outcome = PROFILE_LOWERED
    in_use = hub.server.security_profile_in_use(charge_point_id) if hub.server is not None else None
    if in_use is not None and in_use < after:
        payload = call.ChangeConfiguration(key="SecurityProfile", value=str(after))
        try:
            result = await commands.async_call(hub, charge_point_id, payload)
        except HomeAssistantError as err:
            _LOGGER.warning("%s: SecurityProfile %s could not be sent: %s", charge_point_id, after, err)
            outcome = PROFILE_BY_HAND
        else:
            status = str(result.status)
            _LOGGER.info("%s answered %s to SecurityProfile %s", charge_point_id, status, after)
            if status == "Rejected" and after > before:
                return PROFILE_REJECTED
            # Unchanged (sent again while the charger still connects with a lower one): a refusal
            # changes nothing and must not block the charger's other settings.
            outcome = {"Accepted": PROFILE_SENT, "RebootRequired": PROFILE_REBOOT_REQUIRED}.get(status, PROFILE_BY_HAND)
    hub.central.set_security_profile(charge_point_id, profile, fallback=fallback)
    return outcome


# --- diagnostics ----------------------------------------------------------------------------


def server_diagnostics(hub: Hub) -> dict[str, Any]:
    """Return the server's connection limits and refused logins (per charge point id)."""
    server = hub.server
    if server is None:
        return {}
    return {
        "connections": server.connection_count,
        "max_connections": server.max_connections,
        "refused_over_limit": server.refused_over_limit,
        "auth_failures": {cp_id: failures.to_dict() for cp_id, failures in server.auth_failures.items()},
    }


async def async_charger_diagnostics(hass: HomeAssistant, hub: Hub, charge_point_id: str) -> dict[str, Any]:
    """Return a charger's refused logins and the diagnostics and log files it uploaded."""
    failures = hub.server.auth_failures.get(charge_point_id) if hub.server else None
    requirement = hub.security_requirement(charge_point_id)
    return {
        "auth_failures": failures.to_dict() if failures else None,
        "security_profile": {
            "required": requirement.profile,
            "fallback": requirement.fallback,
            "in_use": hub.server.security_profile_in_use(charge_point_id) if hub.server else None,
        },
        "uploaded_files": await hass.async_add_executor_job(transfers.list_uploads, hass, charge_point_id),
    }
