"""Configuration keys (spec chapter 9): reading them leniently, as real chargers send them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The standard keys of OCPP 1.6 chapter 9 (read in chunks when a charger limits GetConfiguration).
STANDARD_KEYS = (
    "AllowOfflineTxForUnknownId", "AuthorizationCacheEnabled", "AuthorizeRemoteTxRequests",
    "BlinkRepeat", "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation",
    "ConnectorPhaseRotationMaxLength", "GetConfigurationMaxKeys", "HeartbeatInterval",
    "LightIntensity", "LocalAuthorizeOffline", "LocalPreAuthorize", "MaxEnergyOnInvalidId",
    "MeterValuesAlignedData", "MeterValuesAlignedDataMaxLength", "MeterValuesSampledData",
    "MeterValuesSampledDataMaxLength", "MeterValueSampleInterval", "MinimumStatusDuration",
    "NumberOfConnectors", "ResetRetries", "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId", "StopTxnAlignedData", "StopTxnAlignedDataMaxLength",
    "StopTxnSampledData", "StopTxnSampledDataMaxLength", "SupportedFeatureProfiles",
    "SupportedFeatureProfilesMaxLength", "TransactionMessageAttempts",
    "TransactionMessageRetryInterval", "UnlockConnectorOnEVSideDisconnect", "WebSocketPingInterval",
    "LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength",
    "ReserveConnectorZeroSupported", "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit", "ChargingScheduleMaxPeriods",
    "ConnectorSwitch3to1PhaseSupported", "MaxChargingProfilesInstalled", "AuthorizationKey",
)

# Feature profiles (spec 3.2); Core is mandatory.
PROFILE_CORE = "Core"
PROFILE_FIRMWARE = "FirmwareManagement"
PROFILE_LOCAL_AUTH = "LocalAuthListManagement"
PROFILE_RESERVATION = "Reservation"
PROFILE_SMART_CHARGING = "SmartCharging"
PROFILE_REMOTE_TRIGGER = "RemoteTrigger"


@dataclass(slots=True)
class ConfigurationValue:
    """A configuration key as the charger reported it."""

    value: str | None
    readonly: bool

    def to_dict(self) -> dict[str, Any]:
        """Serialise for persistence."""
        return {"value": self.value, "readonly": self.readonly}


def parse_bool(value: Any) -> bool | None:
    """Read a boolean the way chargers send it: true/false, 1/0, yes/no; None when not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on", "enabled"):
        return True
    if text in ("false", "0", "no", "off", "disabled"):
        return False
    return None


def parse_int(value: str | None) -> int | None:
    """Read an integer key (some chargers send "3.0" or padded values)."""
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def parse_list(value: str | None) -> list[str]:
    """Read a CSL (comma separated list) key."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_configuration_keys(entries: Iterable[Any]) -> dict[str, ConfigurationValue]:
    """Read GetConfiguration.conf's configurationKey leniently (no length limit, any value type).

    A relayed charger's answer is not checked against the schema: entries that are not an
    object with a key are skipped, and the others are read.
    """
    parsed: dict[str, ConfigurationValue] = {}
    for entry in entries:
        key = entry.get("key") if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or not key:
            continue
        raw = entry.get("value")
        if raw is None:
            value = None
        elif isinstance(raw, bool):
            value = "true" if raw else "false"
        else:
            value = str(raw)
        readonly = parse_bool(entry.get("readonly"))
        parsed[key] = ConfigurationValue(value=value, readonly=bool(readonly))
    return parsed


def configuration_from_dict(data: Mapping[str, Any]) -> dict[str, ConfigurationValue]:
    """Restore persisted configuration keys."""
    return {
        key: ConfigurationValue(value=raw.get("value"), readonly=bool(raw.get("readonly")))
        for key, raw in data.items()
        if isinstance(raw, Mapping)
    }


# --- AuthorizationKey: the HTTP Basic password of security profiles 1 and 2 ---------------------

AUTHORIZATION_KEY = "AuthorizationKey"
# OCPP 1.6 security whitepaper, configuration key AuthorizationKey: "The basic authentication
# password ... minimal length: 16 bytes ... Hexadecimal represented (20 bytes maximum,
# represented as a string of up to 40 hexadecimal digits)". The charger sends the bytes the
# key stands for (not their hexadecimal digits) as its password.
PASSWORD_MIN_BYTES = 16
PASSWORD_MAX_BYTES = 20
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class AuthorizationKeyError(ValueError):
    """A password or AuthorizationKey value the whitepaper's rules refuse; `key` names the rule."""

    def __init__(self, key: str, **placeholders: Any) -> None:
        """Name the rule and the values that broke it."""
        super().__init__(key)
        self.key = key
        self.placeholders = {k: str(v) for k, v in placeholders.items()}


def is_authorization_key(key: str) -> bool:
    """Return True for the AuthorizationKey configuration key (keys are case-insensitive: CiString50)."""
    return key.casefold() == AUTHORIZATION_KEY.casefold()


def _check_length(size: int, rule: str) -> None:
    if not PASSWORD_MIN_BYTES <= size <= PASSWORD_MAX_BYTES:
        raise AuthorizationKeyError(rule, length=size, minimum=PASSWORD_MIN_BYTES, maximum=PASSWORD_MAX_BYTES)


def authorization_key_value(password: str) -> str:
    """Return a password as the value of AuthorizationKey: its UTF-8 bytes in hexadecimal (16 to 20 bytes)."""
    raw = password.encode()
    _check_length(len(raw), "invalid_password_length")
    return raw.hex()


def password_of_authorization_key(value: str) -> str:
    """
    Return the password an AuthorizationKey value stands for.

    Refused: a value that is not 32 to 40 hexadecimal digits (16 to 20 bytes), and bytes that
    are not UTF-8 text, which this central system could not compare with what the charger sends.
    """
    if not value or len(value) % 2 or not _HEX_DIGITS.issuperset(value):
        raise AuthorizationKeyError("authorization_key_not_hex", length=len(value))
    raw = bytes.fromhex(value)
    _check_length(len(raw), "authorization_key_length")
    try:
        return raw.decode()
    except UnicodeDecodeError as err:
        raise AuthorizationKeyError("authorization_key_binary") from err
