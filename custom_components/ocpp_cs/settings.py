"""An entry's settings as the engine and the server need them (data overlaid with options)."""

from __future__ import annotations

from collections.abc import Mapping
import ssl
from typing import Any

from homeassistant.config_entries import ConfigEntry

from .const import (
    CONF_HEARTBEAT_INTERVAL,
    CONF_NEW_CHARGERS,
    CONF_REMOTE_ID_TAG,
    CONF_SECURITY_PROFILE,
    CONF_SSL_CAFILE,
    CONF_SSL_CERTFILE,
    CONF_UNKNOWN_ID_TAGS,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_NEW_CHARGERS,
    DEFAULT_REMOTE_ID_TAG,
    DEFAULT_UNKNOWN_ID_TAGS,
)
from .engine.central import CentralSettings
from .engine.server import PROFILE_BASIC, PROFILE_TLS_BASIC, PROFILE_TLS_CLIENT_CERTIFICATE


def entry_config(entry: ConfigEntry) -> dict[str, Any]:
    """Return the entry's settings: data overlaid with options."""
    return {**entry.data, **entry.options}


def central_settings(config: Mapping[str, Any]) -> CentralSettings:
    """Build the engine's policy settings from an entry's settings."""
    return CentralSettings(
        new_chargers=config.get(CONF_NEW_CHARGERS, DEFAULT_NEW_CHARGERS),
        unknown_id_tags=config.get(CONF_UNKNOWN_ID_TAGS, DEFAULT_UNKNOWN_ID_TAGS),
        heartbeat_interval=int(config.get(CONF_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_INTERVAL)),
        remote_id_tag=config.get(CONF_REMOTE_ID_TAG, DEFAULT_REMOTE_ID_TAG),
    )


def build_ssl_context(certfile: str, keyfile: str | None, cafile: str | None = None) -> ssl.SSLContext:
    """Load the certificate for wss:// (blocking: run in the executor).

    With `cafile` (security profile 3) a charger may present a client certificate, which must be
    signed by that CA (one that is not fails the TLS handshake). Whether a charger must present
    one is its security profile's business, checked at the HTTP handshake (engine/server.py):
    that is how chargers of profile 2 and of profile 3 share one port.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile or None)
    if cafile:
        # Only the CAs of this file are trusted for client certificates: a server context loads
        # no default (public) CAs, so a certificate from a public CA with a charger's id as its
        # CN is refused. It must stay that way.
        context.load_verify_locations(cafile)
        context.verify_mode = ssl.CERT_OPTIONAL
        # Python 3.13+ sets VERIFY_X509_STRICT, OpenSSL's extra RFC 5280 profile checks: it
        # refuses CA certificates without a keyUsage extension, with a non-critical
        # basicConstraints, or without subject/authority key identifiers, as chargers' vendors
        # and small private CAs issue them. Chargers cannot be re-issued certificates easily, so
        # client certificates are verified the way OpenSSL verifies by default: chain, signatures,
        # validity dates, CA:TRUE on issuers, keyUsage (keyCertSign on a CA, digitalSignature on
        # the charger's) and extendedKeyUsage (clientAuth) wherever the extensions are present.
        # VERIFY_X509_PARTIAL_CHAIN stays as Python sets it: the file may hold the issuing
        # intermediate CA alone, and whatever it holds is what the user chose to trust.
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def entry_security_profile(config: Mapping[str, Any]) -> int:
    """Return the security profile of the entry's chargers that have none of their own.

    With a client CA: the `security_profile` option, else 3 (certificates); with a server
    certificate: 2 (the password, when one is set, over TLS); else 1 (the password, when set).
    """
    if config.get(CONF_SSL_CERTFILE) and config.get(CONF_SSL_CAFILE):
        return int(config.get(CONF_SECURITY_PROFILE) or PROFILE_TLS_CLIENT_CERTIFICATE)
    return PROFILE_TLS_BASIC if config.get(CONF_SSL_CERTFILE) else PROFILE_BASIC


def pending_issue_id(charge_point_id: str) -> str:
    """Return the repair issue id for a pending charger."""
    return f"pending_{charge_point_id}"
