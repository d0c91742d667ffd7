"""The quirk profiles: what known chargers do differently, and what this central system does.

Each behaviour names the test that plays it with a simulated charger and where it is reported
(V: the vendor's documentation, M: several reports or another central system's code, S: one
report). What a charger says about itself is read from it for every charger and is no flag:
ChargeProfileMaxStackLevel, ChargingScheduleAllowedChargingRateUnit, SupportedFeatureProfiles.
Vendor strings not seen in a real BootNotification are matched permissively.
The first profile that matches wins: firmware-specific ones come before their brand's.
"""

from __future__ import annotations

from .quirk_model import Behaviour, Boot, Match, QuirkProfile, Quirks

_STACK_LEVEL_ZERO = "Limits go out at stack level 0, whatever the `limit_stack_level` option says"
_WHOLE_AMPS = "Limits in A are rounded down to whole amperes"
_TX_DEFAULT_INSTEAD = (
    "The charger-wide limit goes out as a TxDefaultProfile on each connector (with the connector's own "
    "limit when that is lower) and as the running transactions' TxProfile"
)
_REJECTS_STACK_LEVEL = "rejects_nonzero_stack_level"
_GRIZZL_E_SOURCE = "evcc template ocpp-grizzl-e; evcc-io/evcc PR #32502 (M)"


def _minimum(amperes: int) -> str:
    return f"A limit between 0 and {amperes} A goes out as {amperes} A (0 still pauses)"


_GRIZZL_E = (
    Behaviour(
        quirk="Honours profiles only at stackLevel 0",
        handling=_STACK_LEVEL_ZERO,
        flag="stack_level_zero", test="test_stack_level_zero", source=_GRIZZL_E_SOURCE, plays=_REJECTS_STACK_LEVEL,
    ),
    Behaviour(
        quirk="Limits below 7 A are ignored",
        handling=_minimum(7),
        flag="min_current", test="test_limits_in_whole_amps_above_the_minimum", source=_GRIZZL_E_SOURCE,
        plays="ignores_below_minimum",
    ),
    Behaviour(
        quirk="Only whole amperes are accepted",
        handling=_WHOLE_AMPS,
        flag="whole_amps", test="test_limits_in_whole_amps_above_the_minimum", source=_GRIZZL_E_SOURCE,
        plays="ignores_fractional_amps",
    ),
)

PROFILES: tuple[QuirkProfile, ...] = (
    QuirkProfile(
        name="abb_terra_ac",
        brand="ABB Terra AC",
        match=(Match(model="(Terra ?AC|TAC-?W\\d).*"),),
        vendor_verified=False,
        example=Boot(vendor="ABB", model="TAC-W11-G5-R0", firmware="1.8.0"),
        quirks=Quirks(stack_level_zero=True),
        behaviours=(
            Behaviour(
                quirk="SetChargingProfile is Rejected unless stackLevel is 0 (FW 1.8.0)",
                handling=_STACK_LEVEL_ZERO,
                flag="stack_level_zero", test="test_stack_level_zero", plays=_REJECTS_STACK_LEVEL,
                source="lbbrhzn/ocpp#1737; evcc-io/evcc#15493; evcc template ocpp-abb (stacklevelzero) (M)",
            ),
            Behaviour(
                quirk="Reading MeterValuesSampledData back after changing it reboots the charger (FW up to 1.8.21)",
                handling="Measurands are never probed: MeterValuesSampledData is written only when the "
                "`meter_values_sampled_data` option sets a list, and never read back",
                flag=None, test="test_measurands_are_not_read_back", plays="reboots_on_measurand_read_back",
                source="lbbrhzn/ocpp docs/supported-devices.md (ABB); lbbrhzn/ocpp#1275 (V/M)",
            ),
        ),
    ),
    QuirkProfile(
        name="wallbox",
        brand="Wallbox Pulsar / Commander / Copper",
        match=(Match(vendor="Wall ?Box.*"),),
        vendor_verified=True,
        example=Boot(vendor="Wall Box Chargers", model="PLP1-0-2-4", firmware="5.17.87"),
        quirks=Quirks(stack_level_zero=True, min_current=6.0, whole_amps=True),
        behaviours=(
            Behaviour(
                quirk="SetChargingProfile is Rejected except at stackLevel 0 (Pulsar Plus FW 5.17.87)",
                handling=_STACK_LEVEL_ZERO,
                flag="stack_level_zero", test="test_stack_level_zero", plays=_REJECTS_STACK_LEVEL,
                source="evcc-io/evcc#15581 (M)",
            ),
            Behaviour(
                quirk="Limits below 6 A are ignored (the previous limit stays)",
                handling=_minimum(6),
                flag="min_current", test="test_limits_in_whole_amps_above_the_minimum", plays="ignores_below_minimum",
                source="lbbrhzn/ocpp#400; evcc-io/evcc#22087 (M)",
            ),
            Behaviour(
                quirk="Fractional limits are ignored (8.8 A is not applied)",
                handling=_WHOLE_AMPS,
                flag="whole_amps", test="test_limits_in_whole_amps_above_the_minimum", plays="ignores_fractional_amps",
                source="lbbrhzn/ocpp#400; evcc-io/evcc#22087 (M)",
            ),
            Behaviour(
                quirk="The energy register drops to 0 for a moment, then comes back",
                handling="A register that falls is not believed until readings confirm it; handled by the "
                "energy sensors",
                flag=None, test="test_register_glitch_to_zero_does_not_drop_energy",
                source="lbbrhzn/ocpp#1756 (S)",
            ),
        ),
    ),
    QuirkProfile(
        name="grizzl_e_03_09",
        brand="Grizzl-E (United Chargers), firmware 03.09 and 03.10",
        match=(Match(vendor="(United ?Chargers|Grizzl-?E).*", firmware="0?3\\.(09|10)([.:].*)?"),),
        vendor_verified=False,
        example=Boot(vendor="United Chargers", model="GRS-*", firmware="03.09.0"),
        quirks=Quirks(stack_level_zero=True, min_current=7.0, whole_amps=True, charge_point_max_ignored=True),
        behaviours=(
            Behaviour(
                quirk="ChargePointMaxProfile is Accepted but not applied (fixed in 03.11.0, says the vendor)",
                handling=_TX_DEFAULT_INSTEAD,
                flag="charge_point_max_ignored", test="test_charge_point_max_goes_out_as_tx_default",
                plays="ignores_charge_point_max",
                source="lbbrhzn/ocpp docs/supported-devices.md (Grizzl-E, the vendor's statement relayed) (V)",
            ),
            *_GRIZZL_E,
        ),
    ),
    QuirkProfile(
        name="grizzl_e",
        brand="Grizzl-E (United Chargers)",
        match=(Match(vendor="(United ?Chargers|Grizzl-?E).*"), Match(model="Grizzl-?E.*")),
        vendor_verified=False,
        example=Boot(vendor="United Chargers", model="GRS-*", firmware="05.653:GCW-10.17-05.3:7452:B29A"),
        quirks=Quirks(stack_level_zero=True, min_current=7.0, whole_amps=True),
        behaviours=_GRIZZL_E,
    ),
    QuirkProfile(
        name="evbox_elvi",
        brand="EVBox Elvi",
        match=(Match(model="Elvi.*"),),
        vendor_verified=False,
        example=Boot(vendor="EV-BOX", model="Elvi", firmware="P0424B0424v0.220706_W6.0.0-050"),
        quirks=Quirks(charge_point_max_ignored=True, remote_start_without_profile=True),
        behaviours=(
            Behaviour(
                quirk="ChargePointMaxProfile is Rejected (older firmware)",
                handling=_TX_DEFAULT_INSTEAD,
                flag="charge_point_max_ignored", test="test_charge_point_max_goes_out_as_tx_default",
                plays="rejects_charge_point_max",
                source="lbbrhzn/ocpp#221, PR #312; lbbrhzn/ocpp#1703 (M)",
            ),
            Behaviour(
                quirk="ChargeProfileMaxStackLevel is 0 (read-only)",
                handling="Limits never go above the charger's ChargeProfileMaxStackLevel",
                flag=None, test="test_stack_level_within_charge_profile_max_stack_level",
                plays="max_stack_level_zero",
                source="lbbrhzn/ocpp#221 (M)",
            ),
            Behaviour(
                quirk="RemoteStartTransaction with a chargingProfile gets a ProtocolError",
                handling="The remote start goes out without the profile; the profile follows as the "
                "transaction's TxProfile once the transaction has started",
                flag="remote_start_without_profile", test="test_remote_start_profile_follows_the_start",
                plays="remote_start_profile_protocol_error",
                source="evcc-io/evcc#12083, #9681; evcc charger/ocpp.go (M)",
            ),
            Behaviour(
                quirk="Sends proprietary DataTransfer messages (vendorId EV-BOX)",
                handling="Answered UnknownVendorId and fired as `ocpp_cs_data_transfer` events",
                flag=None, test="test_data_transfer_is_announced_and_answered_unknown_vendor",
                source="lbbrhzn/ocpp#221; evcc-io/evcc#12821 (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="autel_maxicharger",
        brand="Autel MaxiCharger",
        match=(Match(vendor="Autel.*"),),
        vendor_verified=True,
        example=Boot(vendor="Autel", model="MaxiChargerAC", firmware="PFA0102|V0.00.00|V1.38.00||2.4.3.0"),
        quirks=Quirks(absolute_profiles=True),
        behaviours=(
            Behaviour(
                quirk="Refuses Relative profiles (\"chargingProfileKind SHALL NOT be Relative\"); "
                "wants Absolute ones with a startSchedule",
                handling="The limits are always Absolute with a startSchedule in the past; with this profile "
                "the running transaction's TxProfile too (otherwise Relative)",
                flag="absolute_profiles", test="test_absolute_tx_profile", plays="rejects_relative_profiles",
                source="lbbrhzn/ocpp quirks/autel.py; lbbrhzn/ocpp#677, #1019 (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="huawei_scharger",
        brand="Huawei SCharger / FusionCharge",
        match=(Match(vendor="(Huawei.*)?", model="(ACChargePoint|SCharger|FusionCharge).*"), Match(vendor="Huawei.*")),
        vendor_verified=True,
        example=Boot(vendor="", model="ACChargePoint", firmware="SmartCharger-22KT-S0"),
        quirks=Quirks(rate_unit="W"),
        behaviours=(
            Behaviour(
                quirk="Takes limits in W only (ChargingScheduleAllowedChargingRateUnit Power)",
                handling="Limits are converted to W: as the key says when the charger reports it, as this "
                "profile says when it does not",
                flag="rate_unit", test="test_rate_unit_from_the_profile", plays="takes_watts_only_unreported",
                source="evcc-io/evcc#32170; lbbrhzn/ocpp ocppv16.py (M)",
            ),
            Behaviour(
                quirk="Sends an empty chargePointVendor",
                handling="Accepted; the profile is recognised by the model",
                flag=None, test="test_every_profile_is_detected_from_its_boot_notification",
                source="evcc-io/evcc#32170 (M)",
            ),
            Behaviour(
                quirk="meterStop is 1 Wh below meterStart",
                handling="Session energy is never negative (0 kWh)",
                flag=None, test="test_meter_stop_below_meter_start",
                source="lbbrhzn/ocpp#1810 (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="etrel_inch",
        brand="Etrel INCH",
        match=(Match(vendor="Etrel.*"),),
        vendor_verified=True,
        example=Boot(vendor="Etrel", model="G-HB1V5CY20-A14", firmware="5.4:5.0.5"),
        quirks=Quirks(own_transaction_ids=True),
        behaviours=(
            Behaviour(
                quirk="Uses its own transaction ids in MeterValues and StopTransaction unless its Charging "
                "Authorization is `Central system only` or `Charger whitelist and central system`",
                handling="MeterValues with an unknown transaction id count for the connector's running "
                "transaction; a StopTransaction with one stops the charger's only running transaction (when it "
                "fits: not before its start, not below its meterStart). Its id then stays that transaction's, "
                "and our ids and a replayed stop are recognised first",
                flag="own_transaction_ids", test="test_own_transaction_ids", plays="own_transaction_ids",
                source="lbbrhzn/ocpp#1000, #1216; lbbrhzn/ocpp docs/supported-devices.md (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="schneider_evlink",
        brand="Schneider Electric EVlink",
        match=(Match(vendor="Schneider.*"), Match(model="EVlink.*")),
        vendor_verified=True,
        example=Boot(vendor="Schneider Electric", model="EVlink Smart Wallbox", firmware="3.3.0.12"),
        quirks=Quirks(
            refusal_hint="EVlink chargers refuse limits while their load balancer (charger-wide limit) or "
            "'EM controlled by external system' (connector limits) is disabled in their settings."
        ),
        behaviours=(
            Behaviour(
                quirk="ChargePointMaxProfile is Rejected while its load balancer is disabled, TxDefaultProfile "
                "while 'EM controlled by external system' is disabled",
                handling="A refused limit's error and repair issue name the charger settings to enable",
                flag="refusal_hint", test="test_refusal_hint", plays="rejects_profiles_settings_disabled",
                source="lbbrhzn/ocpp#877, #263 (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="easee",
        brand="Easee Home / Charge / Charge Core",
        match=(Match(vendor="Easee.*"),),
        vendor_verified=False,
        example=Boot(vendor="Easee", model="Easee Home", firmware="328"),
        quirks=Quirks(min_meter_interval=30),
        behaviours=(
            Behaviour(
                quirk="MeterValueSampleInterval below 30 s is refused",
                handling="The `meter_value_sample_interval` option is raised to 30 s for it",
                flag="min_meter_interval", test="test_min_meter_interval", plays="rejects_short_meter_interval",
                source="evcc template ocpp-easee; evcc-io/evcc PR #29868 (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="alfen_eve",
        brand="Alfen Eve",
        match=(Match(vendor="Alfen.*"),),
        vendor_verified=False,
        example=Boot(vendor="Alfen BV", model="NG920-61001", firmware="4.14.0-3212"),
        quirks=Quirks(remote_id_tag_key="PlugAndChargeIdentifier"),
        behaviours=(
            Behaviour(
                quirk="In Plug & Charge mode RemoteStartTransaction is refused unless the idTag is the value "
                "of its PlugAndChargeIdentifier key",
                handling="A remote start without an id tag uses PlugAndChargeIdentifier (read with "
                "GetConfiguration) instead of the `remote_id_tag` option",
                flag="remote_id_tag_key", test="test_remote_id_tag_from_configuration_key",
                plays="remote_start_needs_key_id_tag",
                source="evcc-io/evcc PR #5021; evcc charger/ocpp/const.go (M)",
            ),
        ),
    ),
    QuirkProfile(
        name="zaptec",
        brand="Zaptec Go / Pro",
        match=(Match(vendor="Zaptec.*"),),
        vendor_verified=False,
        example=Boot(vendor="Zaptec", model="Go", firmware="2.3.1.2"),
        quirks=Quirks(connector_zero_register_ignored=True),
        behaviours=(
            Behaviour(
                quirk="Sends MeterValues on connector 0 as well as 1; its connector-0 energy register read "
                "4296944685 Wh (just above 2^32)",
                handling="The energy register of connector 0 is dropped (no lifetime energy sensor of the "
                "charger, no session energy from it); the connector's register counts",
                flag="connector_zero_register_ignored", test="test_connector_zero_register_ignored",
                plays="connector_zero_bogus_register",
                source="evcc-io/evcc#29190 (S)",
            ),
        ),
    ),
    QuirkProfile(
        name="bender_cc612",
        brand="Bender CC612 / CC613 / ICC (formerly ebee)",
        match=(Match(vendor="Bender.*"), Match(model="(I?CC6\\d\\d|ICC1\\d{3}).*")),
        vendor_verified=True,
        example=Boot(vendor="Bender GmbH Co. KG", model="CC612", firmware="4.12-2464"),
        quirks=Quirks(),
        behaviours=(
            Behaviour(
                quirk="Booleans as 0/1 in GetConfiguration (OcppGetConfBoolIsInt); values over 500 characters "
                "(AllowLongOcppGetConfKeys)",
                handling="Read as booleans, and whole: configuration answers are not held to the schema",
                flag=None, test="test_configuration_read_after_boot", plays="booleans_as_int",
                source="Bender charge controller OCPP documentation 5.32/5.33 (V)",
            ),
            Behaviour(
                quirk="Appends its charge point id to the backend URL itself",
                handling="The charge point id is the last path segment: give it `ws://host:9000/`",
                flag=None, test="test_charge_point_id_is_the_last_path_segment",
                source="Bender charge controller OCPP documentation 5.32/5.33 (V)",
            ),
        ),
    ),
    QuirkProfile(
        name="vestel_evc04",
        brand="Vestel EVC04",
        match=(Match(vendor="Vestel.*"), Match(model="EVC04.*")),
        vendor_verified=False,
        example=Boot(vendor="Vestel", model="EVC04-AC22SW", firmware="v3.187.0"),
        quirks=Quirks(),
        behaviours=(
            Behaviour(
                quirk="Booleans in mixed case (TRUE, FALSE and False in one answer)",
                handling="Booleans are read without regard to case",
                flag=None, test="test_mixed_case_booleans_are_read", plays="booleans_mixed_case",
                source="evcc-io/evcc#15726 (S)",
            ),
        ),
    ),
    QuirkProfile(
        name="wallbe",
        brand="wallbe (Weidmüller)",
        match=(Match(vendor="wallbe.*"),),
        vendor_verified=True,
        example=Boot(vendor="wallbe", model="Smart Charge Control", firmware="BE-03.01.29"),
        quirks=Quirks(),
        behaviours=(
            Behaviour(
                quirk="No smart charging: SupportedFeatureProfiles lacks SmartCharging",
                handling="The limit numbers are unavailable and a repair issue says why",
                flag=None, test="test_charger_without_smart_charging", plays="no_smart_charging",
                source="evcc-io/evcc#4008, #15474 (M)",
            ),
        ),
    ),
)
