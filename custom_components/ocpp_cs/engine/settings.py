"""An entry's policies and the registration and state-key names the central system's parts share."""

from __future__ import annotations

from dataclasses import dataclass

NEW_CHARGERS_ACCEPT = "accept"
NEW_CHARGERS_PENDING = "pending"

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

