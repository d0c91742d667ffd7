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


def parse_configuration_keys(entries: Iterable[Mapping[str, Any]]) -> dict[str, ConfigurationValue]:
    """Read GetConfiguration.conf's configurationKey leniently (no length limit, any value type)."""
    parsed: dict[str, ConfigurationValue] = {}
    for entry in entries:
        key = entry.get("key")
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
