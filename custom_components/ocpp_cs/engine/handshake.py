"""The handshake's pieces: security profiles, credentials, client certificates, a plain HTTP answer."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
import ssl

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request

from .paths import charge_point_id_from_path

# Charge point ids whose failed logins are counted (the oldest are forgotten first).
AUTH_FAILURES_TRACKED = 1000

AUTH_MISSING = "missing"
AUTH_MALFORMED = "malformed"
AUTH_USER_MISMATCH = "user_mismatch"
AUTH_WRONG_PASSWORD = "wrong_password"
AUTH_CERTIFICATE_MISMATCH = "certificate_mismatch"
AUTH_CERTIFICATE_MISSING = "certificate_missing"
AUTH_NO_PASSWORD = "no_password"

# The OCPP 1.6 security whitepaper's security profiles (section 2.1). 1 stands for "no TLS"
# here: without a password it is the unsecured, unauthenticated connection of plain OCPP 1.6.
PROFILE_BASIC = 1
PROFILE_TLS_BASIC = 2
PROFILE_TLS_CLIENT_CERTIFICATE = 3


@dataclass(frozen=True, slots=True)
class SecurityRequirement:
    """The security profile a charger must connect with, and a lower one still accepted meanwhile.

    `fallback` is set after the charger's profile was raised, until its first connection with
    the new one (whitepaper A05.FR.08: a charger that cannot connect with the new profile falls
    back to its previous one; A05.FR.09: once it did connect, the lower one is refused).
    """

    profile: int
    fallback: int | None = None


def implied_profile(ssl_context: ssl.SSLContext | None) -> int:
    """Return the security profile the TLS settings imply: 3 with a client CA, 2 with TLS, else 1."""
    if ssl_context is None:
        return PROFILE_BASIC
    return PROFILE_TLS_CLIENT_CERTIFICATE if ssl_context.verify_mode != ssl.CERT_NONE else PROFILE_TLS_BASIC


def client_certificate_cn(connection: ServerConnection) -> str | None:
    """Return the subject common name of the client certificate of a TLS connection."""
    transport = getattr(connection, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    certificate = ssl_object.getpeercert() if ssl_object is not None else None
    for rdn in (certificate or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


@dataclass(slots=True)
class AuthFailures:
    """Refused HTTP Basic logins of one charge point id."""

    count: int
    last: datetime
    reason: str

    def to_dict(self) -> dict[str, str | int]:
        """Return the record for diagnostics."""
        return {"count": self.count, "last": self.last.isoformat(), "reason": self.reason}


def plain_http_answer(request: Request, *, tls: bool) -> str:
    """Return what a plain HTTP GET (a browser, curl) is told: what this port is, how to connect."""
    host = request.headers.get("Host") or "<host>:<port>"
    scheme = "wss" if tls else "ws"
    lines = [
        "This is an OCPP 1.6J central system (Home Assistant, ocpp_cs).",
        "It speaks OCPP over WebSocket (subprotocol ocpp1.6), not plain HTTP: a browser cannot use it.",
        "Point your charger's central system (backend, OCPP server) URL to",
        "",
        f"    {scheme}://{host}/<charge point id>",
        "",
        "The last path segment is the charge point id; chargers that append their id themselves",
        f"need the URL without it, with a trailing slash: {scheme}://{host}/",
    ]
    charge_point_id = charge_point_id_from_path(request.path)
    if charge_point_id is not None:
        lines += ["", f"This URL would connect the charger {charge_point_id!r}."]
    return "\n".join(lines) + "\n"


def basic_auth_credentials(headers: Headers) -> tuple[str, str] | None:
    """Return (user, password) from an HTTP Basic Authorization header."""
    value = headers.get("Authorization")
    if not value:
        return None
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    if not separator:
        return None
    return user, password
