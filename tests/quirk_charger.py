"""A simulated charger that plays a quirk profile: its BootNotification and its wire behaviours.

Each `plays` of the profile's behaviours (engine/quirk_table.py) is one thing done here the
way the real charger does it; scripts/demo_charger plays the same names. Limits the charger
ignores are answered Accepted but not applied: GetCompositeSchedule tells the truth.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.exceptions import NotSupportedError, ProtocolError
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from custom_components.ocpp_cs.engine.quirks import BY_NAME, QuirkProfile

from .charger import SimCharger
from .control_charger import SILENT, ControlCharger

PLUG_AND_CHARGE_ID = "PNC-0042"
# Every wire behaviour this charger can play (tests/test_quirks_table.py checks the table uses no other).
PLAYS = frozenset(
    {
        "rejects_nonzero_stack_level", "max_stack_level_zero", "ignores_below_minimum", "ignores_fractional_amps",
        "ignores_charge_point_max", "rejects_charge_point_max", "rejects_relative_profiles",
        "rejects_profiles_settings_disabled", "takes_watts_only_unreported", "no_smart_charging",
        "remote_start_profile_protocol_error", "remote_start_needs_key_id_tag", "own_transaction_ids",
        "connector_zero_bogus_register", "rejects_short_meter_interval", "reboots_on_measurand_read_back",
        "booleans_as_int", "booleans_mixed_case",
    }
)


def playing(name: str, *, connectors: int = 1) -> type[QuirkCharger]:
    """Return a charger class that plays the quirk profile `name`."""
    profile = BY_NAME[name]

    class Playing(QuirkCharger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(profile, connectors, *args, **kwargs)

    return Playing


class QuirkCharger(ControlCharger):
    """A ControlCharger with the BootNotification and the wire behaviours of a quirk profile."""

    def __init__(self, profile: QuirkProfile, connectors: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile
        self.plays = {b.plays for b in profile.behaviours if b.plays is not None}
        self.minimum = profile.quirks.min_current or 6.0
        self.units = ("W",) if "takes_watts_only_unreported" in self.plays else ("A",)
        self.measurands_changed = False
        # Where a remote start without a connector begins, and other starts that come first.
        self.remote_start_connector = 1
        self.starts_before_remote: list[tuple[int, str]] = []
        self.rebooted = asyncio.Event()
        true, false = ("1", "0") if "booleans_as_int" in self.plays else ("true", "false")
        if "booleans_mixed_case" in self.plays:
            true, false = "TRUE", "False"
        smart = "no_smart_charging" not in self.plays
        self.configuration = [
            {"key": "NumberOfConnectors", "readonly": True, "value": str(connectors)},
            {"key": "SupportedFeatureProfiles", "readonly": True,
             "value": "Core,RemoteTrigger" + (",SmartCharging" if smart else "")},
            {"key": "ChargeProfileMaxStackLevel", "readonly": True,
             "value": "0" if "max_stack_level_zero" in self.plays else "3"},
            {"key": "AuthorizeRemoteTxRequests", "readonly": False, "value": false},
            {"key": "LocalAuthorizeOffline", "readonly": False, "value": true},
            {"key": "MeterValuesSampledData", "readonly": False, "value": "Energy.Active.Import.Register"},
            {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        ]
        if "takes_watts_only_unreported" not in self.plays:
            self.configuration.append(
                {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"}
            )
        if "remote_start_needs_key_id_tag" in self.plays:
            self.configuration.append({"key": "PlugAndChargeIdentifier", "readonly": True, "value": PLUG_AND_CHARGE_ID})

    async def boot(self, **fields: Any) -> call_result.BootNotification:
        example = self.profile.example
        fields.setdefault("charge_point_vendor", example.vendor)
        fields.setdefault("charge_point_model", example.model)
        fields.setdefault("firmware_version", example.firmware)
        return await SimCharger.boot(self, **fields)

    # --- smart charging -------------------------------------------------------------------

    def _refuses(self, profile: dict[str, Any]) -> bool:
        purpose = profile["charging_profile_purpose"]
        plays = self.plays
        return (
            (profile["stack_level"] != 0 and plays & {"rejects_nonzero_stack_level", "max_stack_level_zero"} != set())
            or ("rejects_relative_profiles" in plays and profile.get("charging_profile_kind") == "Relative")
            or ("rejects_charge_point_max" in plays and purpose == "ChargePointMaxProfile")
            or (
                "rejects_profiles_settings_disabled" in plays
                and purpose in ("ChargePointMaxProfile", "TxDefaultProfile")
            )
        )

    def _ignores(self, profile: dict[str, Any]) -> bool:
        schedule = profile["charging_schedule"]
        limit = float(schedule["charging_schedule_period"][0]["limit"])
        in_amperes = schedule["charging_rate_unit"] == "A"
        station_wide = profile["charging_profile_purpose"] == "ChargePointMaxProfile"
        return (
            ("ignores_charge_point_max" in self.plays and station_wide)
            or ("ignores_below_minimum" in self.plays and in_amperes and 0 < limit < self.minimum)
            or ("ignores_fractional_amps" in self.plays and in_amperes and limit != int(limit))
        )

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        request = {"connector_id": connector_id, "profile": cs_charging_profiles}
        if "no_smart_charging" in self.plays:
            self.received.append(("SetChargingProfile", request))
            raise NotSupportedError(description="SmartCharging is not supported")
        if self._refuses(cs_charging_profiles):
            self.received.append(("SetChargingProfile", request))
            return call_result.SetChargingProfile(status="Rejected")
        if self._ignores(cs_charging_profiles):
            # Accepted, and not applied: what these chargers do.
            self.received.append(("SetChargingProfile", request))
            return call_result.SetChargingProfile(status="Accepted")
        return await super().on_set_charging_profile(connector_id, cs_charging_profiles)

    # --- remote start -----------------------------------------------------------------------

    def _remote_start_status(self, id_tag: str, charging_profile: dict[str, Any] | None) -> str:
        if "remote_start_profile_protocol_error" in self.plays and charging_profile is not None:
            raise ProtocolError(description="chargingProfile is not supported in RemoteStartTransaction")
        if "remote_start_needs_key_id_tag" in self.plays and id_tag != PLUG_AND_CHARGE_ID:
            return "Rejected"
        return str(self.answers.get("RemoteStartTransaction", "Accepted"))

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag: str, connector_id: int | None = None, **extra: Any) -> Any:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id, **extra}))
        status = self._remote_start_status(id_tag, extra.get("charging_profile"))
        if status == SILENT:
            await asyncio.sleep(3600)
        return call_result.RemoteStartTransaction(status=status)

    @after(Action.remote_start_transaction)
    async def after_remote_start(self, id_tag: str, connector_id: int | None = None, **extra: Any) -> None:
        try:
            accepted = self._remote_start_status(id_tag, extra.get("charging_profile")) == "Accepted"
        except ProtocolError:
            accepted = False
        if accepted:
            self._spawn(self._remote_started(connector_id or self.remote_start_connector, id_tag))

    async def _remote_started(self, connector_id: int, id_tag: str) -> None:
        for other_connector, other_id_tag in self.starts_before_remote:
            await self._start(other_connector, other_id_tag)
        await self._start(connector_id, id_tag)

    # --- configuration ------------------------------------------------------------------------

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        self.received.append(("ChangeConfiguration", {"key": key, "value": value}))
        status = "Accepted"
        if "rejects_short_meter_interval" in self.plays and key == "MeterValueSampleInterval":
            status = "Rejected" if 0 < int(value) < 30 else "Accepted"
        if key == "MeterValuesSampledData":
            self.measurands_changed = True
        for item in self.configuration:
            if item["key"] == key and status == "Accepted":
                item["value"] = value
        return call_result.ChangeConfiguration(status=status)

    @on(Action.get_configuration, skip_schema_validation=True)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        if (
            "reboots_on_measurand_read_back" in self.plays
            and self.measurands_changed
            and (not key or "MeterValuesSampledData" in key)
        ):
            self.rebooted.set()
            self._spawn(self.connection.close())  # the ABB Terra AC boot loop
        return await super().on_get_configuration(key)
