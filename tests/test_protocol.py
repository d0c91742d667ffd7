"""Chargers play the Core messages: boot policies, heartbeat, status, meter values, id tags, notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from ocpp.messages import CallError, CallResult
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import DOMAIN, EVENT_DATA_TRANSFER, EVENT_ID_TAG_PRESENTED
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import call_frame, find_device, full_state, has_entity, sampled, state, wait_for


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- BootNotification and the new-charger policy -------------------------------------------


async def test_boot_accepted_creates_device_with_configured_interval(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(new_chargers="accept", heartbeat_interval=120)
    async with charger(port_of(entry), "CP-A") as cp:
        boot = await cp.boot(charge_point_serial_number="SN-9", firmware_version="4.0", imsi="2620")
        assert boot.status == "Accepted"
        assert boot.interval == 120
        server_time = datetime.fromisoformat(boot.current_time.replace("Z", "+00:00"))
        assert abs((server_time - datetime.now(UTC)).total_seconds()) < 60
        await hass.async_block_till_done()

        device = find_device(hass, "CP-A")
        assert device is not None
        assert device.name == "CP-A"
        assert (device.manufacturer, device.model, device.serial_number, device.sw_version) == (
            "Sim", "Sim-22", "SN-9", "4.0",
        )
        assert hub_of(entry).central.chargers["CP-A"].boot.imsi == "2620"
        assert state(hass, "CP-A_0_connected", "binary_sensor") == "on"
        # The boot details are diagnostic sensors, disabled by default.
        assert has_entity(hass, "CP-A_0_imsi")
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        registry = er.async_get(hass)
        disabled = {
            entry.unique_id
            for entry in er.async_entries_for_config_entry(registry, entry.entry_id)
            if entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        }
        # Less used diagnostics are in the registry, disabled until the user enables them.
        assert disabled == {
            "CP-A_0_iccid", "CP-A_0_imsi", "CP-A_0_meter_serial_number", "CP-A_0_meter_type",
            "CP-A_0_info", "CP-A_0_vendor_error_code", "CP-A_0_last_heartbeat",
            "CP-A_0_firmware_status", "CP-A_0_diagnostics_status", "CP-A_0_hard_reset",
            "CP-A_0_clear_cache", "CP-A_1_info", "CP-A_1_vendor_error_code", "CP-A_1_transaction_id",
        }
        for registered in er.async_entries_for_config_entry(registry, entry.entry_id):
            assert (hass.states.get(registered.entity_id) is None) == (registered.unique_id in disabled)


async def test_boot_pending_asks_the_user_and_refuses_everything_else(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-P") as cp:
        boot = await cp.boot()
        assert boot.status == "Pending"
        assert boot.interval == 300
        await hass.async_block_till_done()

        assert find_device(hass, "CP-P") is None
        assert not has_entity(hass, "CP-P_0_connected", "binary_sensor")
        issue = ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-P")
        assert issue is not None
        assert issue.is_fixable

        for action, payload in (
            ("Heartbeat", {}),
            ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
            ("Authorize", {"idTag": "CARD"}),
        ):
            answer = await cp.raw(call_frame(action, payload))
            assert isinstance(answer, CallError), action
            assert answer.error_code == "SecurityError", action

        # Booting again keeps it pending (and the issue), it does not get accepted by retrying.
        again = await cp.boot()
        assert again.status == "Pending"
        assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-P") is not None


async def test_boot_rejected_creates_nothing(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(new_chargers="reject", heartbeat_interval=60)
    async with charger(port_of(entry), "CP-R") as cp:
        boot = await cp.boot()
        assert boot.status == "Rejected"
        assert boot.interval == 60
        answer = await cp.raw(call_frame("Heartbeat", {}))
        assert isinstance(answer, CallError)
        assert answer.error_code == "SecurityError"
        await hass.async_block_till_done()

    assert find_device(hass, "CP-R") is None
    assert "CP-R" not in hub_of(entry).central.chargers
    assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-R") is None
    assert not has_entity(hass, "CP-R_0_connected", "binary_sensor")


async def test_pending_charger_stays_pending_across_a_restart(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(new_chargers="pending")
    async with charger(port_of(entry), "CP-PR") as cp:
        assert (await cp.boot()).status == "Pending"
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert find_device(hass, "CP-PR") is None

    async with charger(port_of(entry), "CP-PR") as cp:
        answer = await cp.raw(call_frame("Heartbeat", {}))
        assert isinstance(answer, CallError)
        assert answer.error_code == "SecurityError"
        assert (await cp.boot()).status == "Pending"
        assert ir.async_get(hass).async_get_issue(DOMAIN, "pending_CP-PR") is not None


async def test_charger_that_skips_boot_is_served_under_accept(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-NB") as cp:
        # Some chargers reconnect without BootNotification; under `accept` they are known at once.
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        assert find_device(hass, "CP-NB") is not None
        assert state(hass, "CP-NB_1_status") == "available"
        assert state(hass, "CP-NB_0_connected", "binary_sensor") == "on"


async def test_rejected_charger_is_accepted_after_the_policy_changes(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(new_chargers="reject")
    async with charger(port_of(entry), "CP-RA") as cp:
        assert (await cp.boot()).status == "Rejected"
        assert (await cp.boot()).status == "Rejected"
        # The user switches the entry to accept new chargers; it applies without a reconnect.
        hass.config_entries.async_update_entry(entry, options={"new_chargers": "accept"})
        await hass.async_block_till_done()
        assert (await cp.boot()).status == "Accepted"
        await hass.async_block_till_done()
        assert find_device(hass, "CP-RA") is not None
        assert (await cp.raw(call_frame("Heartbeat", {}))).payload["currentTime"]


# --- Heartbeat ----------------------------------------------------------------------------


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_heartbeat_answers_time_and_updates_last_heartbeat(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-H") as cp:
        await cp.boot()
        before = datetime.now(UTC) - timedelta(seconds=1)
        answer = await cp.send(call.Heartbeat())
        current_time = datetime.fromisoformat(answer.current_time.replace("Z", "+00:00"))
        assert abs((current_time - datetime.now(UTC)).total_seconds()) < 5
        await hass.async_block_till_done()
        last = datetime.fromisoformat(state(hass, "CP-H_0_last_heartbeat"))
        assert last >= before


# --- StatusNotification ---------------------------------------------------------------------


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_status_notifications_for_charger_and_connectors(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    now = datetime.now(UTC) - timedelta(minutes=1)
    async with charger(port_of(entry), "CP-S") as cp:
        await cp.boot()
        await cp.status(0, "Available", timestamp=iso(now))
        await cp.status(
            1, "Faulted", "ConnectorLockFailure", info="lock jammed", vendor_id="Sim", vendor_error_code="E42",
            timestamp=iso(now),
        )
        await hass.async_block_till_done()
        assert state(hass, "CP-S_0_status") == "available"
        assert state(hass, "CP-S_0_error_code") == "no_error"
        assert state(hass, "CP-S_1_status") == "faulted"
        assert state(hass, "CP-S_1_error_code") == "connector_lock_failure"
        assert state(hass, "CP-S_1_info") == "lock jammed"
        assert state(hass, "CP-S_1_vendor_error_code") == "E42"
        options = full_state(hass, "CP-S_1_status").attributes["options"]
        assert {"suspended_ev", "suspended_evse", "charging", "reserved"} <= set(options)

        await cp.status(1, "SuspendedEVSE", "EVCommunicationError", timestamp=iso(now + timedelta(seconds=5)))
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "suspended_evse"
        assert state(hass, "CP-S_1_error_code") == "ev_communication_error"
        # The info of the previous notification does not linger.
        assert state(hass, "CP-S_1_info") == "unknown"

        # A queued notification delivered late is older than what is known: it changes nothing.
        await cp.status(1, "Available", timestamp=iso(now + timedelta(seconds=2)))
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "suspended_evse"

        # A timestamp without an offset is UTC.
        naive = (now + timedelta(seconds=20)).replace(tzinfo=None).isoformat()
        await cp.status(1, "Preparing", timestamp=naive)
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "preparing"

        # Without a timestamp the notification is taken as current.
        await cp.status(1, "Charging")
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "charging"
        assert state(hass, "CP-S_1_error_code") == "no_error"

    # What is known survives a restart, and so does the rule about older notifications.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port_of(entry), "CP-S") as cp:
        await cp.status(1, "Available", timestamp=iso(now + timedelta(seconds=30)))
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "charging"
        assert state(hass, "CP-S_0_status") == "available"
        await cp.status(1, "Finishing")
        await hass.async_block_till_done()
        assert state(hass, "CP-S_1_status") == "finishing"


# --- MeterValues ----------------------------------------------------------------------------


async def test_meter_values_become_sensors_per_measurand_phase_and_location(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-M") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        await cp.meter(
            1,
            [
                sampled("12.5", "Energy.Active.Import.Register", "kWh"),
                sampled("7.36", "Power.Active.Import", "kW"),
                sampled("16.1", "Current.Import", "A", phase="L1"),
                sampled("15.9", "Current.Import", "A", phase="L2"),
                sampled("230.4", "Voltage", "V", phase="L1-N"),
                sampled("400.2", "Voltage", "V", phase="L1-L2"),
                sampled("41.5", "Temperature", "Celsius", location="Body"),
                sampled("20", "Temperature", "Celcius", location="Cable"),
                sampled("63", "SoC", "Percent", location="EV"),
                sampled("32", "Current.Offered", "A"),
                sampled("50.01", "Frequency", "Hertz"),
                sampled("0.98", "Power.Factor"),
            ],
        )
        # A charger-wide meter on connector 0, without a transaction.
        await cp.meter(0, [sampled("99000", "Energy.Active.Import.Register", "Wh")])
        await hass.async_block_till_done()

        assert float(state(hass, "CP-M_1_energy_active_import_register")) == 12.5
        register = full_state(hass, "CP-M_1_energy_active_import_register")
        assert register.attributes["unit_of_measurement"] == "kWh"
        assert register.attributes["state_class"] == "total_increasing"
        assert register.attributes["device_class"] == "energy"

        power = full_state(hass, "CP-M_1_power_active_import")
        assert float(power.state) == 7.36
        assert power.attributes["unit_of_measurement"] == "kW"
        assert power.attributes["device_class"] == "power"
        assert power.attributes["state_class"] == "measurement"

        assert float(state(hass, "CP-M_1_current_import_l1")) == 16.1
        assert float(state(hass, "CP-M_1_current_import_l2")) == 15.9
        assert full_state(hass, "CP-M_1_current_import_l1").attributes["device_class"] == "current"
        assert float(state(hass, "CP-M_1_voltage_l1_n")) == 230.4
        assert float(state(hass, "CP-M_1_voltage_l1_l2")) == 400.2

        body = full_state(hass, "CP-M_1_temperature_body")
        assert float(body.state) == 41.5
        assert body.attributes["unit_of_measurement"] == "°C"
        assert body.attributes["device_class"] == "temperature"
        # OCPP 1.6's JSON schema spells it "Celcius"; it is the same unit.
        cable = full_state(hass, "CP-M_1_temperature_cable")
        assert float(cable.state) == 20
        assert cable.attributes["unit_of_measurement"] == "°C"
        assert cable.attributes["device_class"] == "temperature"

        soc = full_state(hass, "CP-M_1_soc")
        assert float(soc.state) == 63
        assert soc.attributes["device_class"] == "battery"
        assert soc.attributes["unit_of_measurement"] == "%"

        assert float(state(hass, "CP-M_1_current_offered")) == 32
        frequency = full_state(hass, "CP-M_1_frequency")
        assert float(frequency.state) == 50.01
        assert frequency.attributes["unit_of_measurement"] == "Hz"
        assert frequency.attributes["device_class"] == "frequency"
        assert float(state(hass, "CP-M_1_power_factor")) == 0.98

        charger_register = full_state(hass, "CP-M_0_energy_active_import_register")
        assert float(charger_register.state) == 99.0  # Wh shown in kWh
        assert charger_register.attributes["unit_of_measurement"] == "kWh"

        # A later reading in another scale of the same unit keeps the sensor's unit.
        await cp.meter(1, [sampled("6900", "Power.Active.Import", "W")])
        await hass.async_block_till_done()
        assert float(state(hass, "CP-M_1_power_active_import")) == 6.9

        # An older reading delivered late does not overwrite a newer one.
        old = iso(datetime.now(UTC) - timedelta(minutes=10))
        await cp.meter(1, [sampled("1.0", "Power.Active.Import", "kW")], timestamp=old)
        await hass.async_block_till_done()
        assert float(state(hass, "CP-M_1_power_active_import")) == 6.9


async def test_meter_values_without_measurand_are_the_energy_register_in_wh(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-D") as cp:
        await cp.boot()
        await cp.meter(1, [{"value": "2500", "context": "Sample.Clock"}])
        await hass.async_block_till_done()
        register = full_state(hass, "CP-D_1_energy_active_import_register")
        assert float(register.state) == 2.5
        assert register.attributes["context"] == "sample_clock"


async def test_values_without_unit_take_the_measurands_unit(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-NU") as cp:
        await cp.boot()
        await cp.meter(
            1,
            [
                sampled("11", "Current.Import"),
                sampled("229", "Voltage"),
                sampled("2500", "Power.Active.Import"),
                sampled("120", "Power.Reactive.Import"),
                sampled("800", "Energy.Reactive.Import.Register"),
                sampled("300", "Energy.Active.Import.Interval"),
                sampled("35", "Temperature"),
                sampled("80", "SoC"),
                sampled("50", "Frequency"),
                sampled("1200", "RPM"),
            ],
        )
        await hass.async_block_till_done()
    expected = {
        "current_import": ("A", "current"),
        "voltage": ("V", "voltage"),
        "power_active_import": ("kW", "power"),  # W, shown in kW
        "power_reactive_import": ("kvar", "reactive_power"),
        "energy_reactive_import_register": ("kvarh", "reactive_energy"),
        "energy_active_import_interval": ("kWh", "energy"),
        "temperature": ("°C", "temperature"),
        "soc": ("%", "battery"),
        "frequency": ("Hz", "frequency"),
        "rpm": ("rpm", None),
    }
    for key, (unit, device_class) in expected.items():
        attributes = full_state(hass, f"CP-NU_1_{key}").attributes
        assert attributes.get("unit_of_measurement") == unit, key
        assert attributes.get("device_class") == device_class, key
    # An interval is not a register: it is not a meter that only goes up.
    assert "state_class" not in full_state(hass, "CP-NU_1_energy_active_import_interval").attributes
    assert float(state(hass, "CP-NU_1_energy_active_import_interval")) == 0.3


async def test_unit_spellings_outside_the_schema_are_understood(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-US") as cp:
        await cp.boot()
        # The spec's own table says "kw"; chargers send that, "KWH", "celsius", "Hz".
        answer = await cp.raw(
            call_frame(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {
                            "timestamp": iso(datetime.now(UTC)),
                            "sampledValue": [
                                {"value": "3.7", "measurand": "Power.Active.Import", "unit": "kw"},
                                {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "KWH"},
                                {"value": "28", "measurand": "Temperature", "unit": "celsius"},
                                {"value": "49.9", "measurand": "Frequency", "unit": "Hz"},
                            ],
                        }
                    ],
                },
            )
        )
        assert isinstance(answer, CallResult)
        await hass.async_block_till_done()
        power = full_state(hass, "CP-US_1_power_active_import")
        assert (float(power.state), power.attributes["unit_of_measurement"]) == (3.7, "kW")
        register = full_state(hass, "CP-US_1_energy_active_import_register")
        assert (float(register.state), register.attributes["unit_of_measurement"]) == (12.5, "kWh")
        temperature = full_state(hass, "CP-US_1_temperature")
        assert (float(temperature.state), temperature.attributes["unit_of_measurement"]) == (28, "°C")
        assert float(state(hass, "CP-US_1_frequency")) == 49.9

        # Other values outside the schema are still refused.
        answer = await cp.raw(
            call_frame(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {"timestamp": iso(datetime.now(UTC)),
                         "sampledValue": [{"value": "1", "measurand": "Power.Bogus", "unit": "kw"}]}
                    ],
                },
            )
        )
        assert isinstance(answer, CallError)
        assert answer.error_code == "PropertyConstraintViolation"


async def test_unreadable_sampled_values_are_skipped_and_answered(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-X") as cp:
        await cp.boot()
        answer = await cp.raw(
            call_frame(
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [
                        {
                            "timestamp": iso(datetime.now(UTC)),
                            "sampledValue": [
                                {"value": "3f9a8b7c", "format": "SignedData"},
                                {"value": "n/a", "measurand": "Voltage", "unit": "V"},
                                {"value": "NaN", "measurand": "Current.Import", "unit": "A"},
                                {"value": "11.2", "measurand": "Current.Offered", "unit": "A"},
                            ],
                        }
                    ],
                },
            )
        )
        assert isinstance(answer, CallResult)
        assert answer.payload == {}
        await hass.async_block_till_done()
        assert float(state(hass, "CP-X_1_current_offered")) == 11.2
        assert not has_entity(hass, "CP-X_1_energy_active_import_register")
        assert not has_entity(hass, "CP-X_1_voltage")
        assert not has_entity(hass, "CP-X_1_current_import")

        # Only unreadable values: still answered, nothing created.
        answer = await cp.raw(
            call_frame(
                "MeterValues",
                {"connectorId": 1, "meterValue": [{"timestamp": iso(datetime.now(UTC)),
                                                   "sampledValue": [{"value": "", "format": "SignedData"}]}]},
            )
        )
        assert isinstance(answer, CallResult)


# --- Authorize and id tags ------------------------------------------------------------------


async def test_authorize_with_the_entry_id_tags_and_unknown_tag_policy(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    central = hub_of(entry).central
    central.set_id_tag(IdTag("GOOD", parent_id_tag="FLEET"))
    central.set_id_tag(IdTag("STOLEN", status="Blocked"))
    central.set_id_tag(IdTag("OLD", expiry_date=datetime.now(UTC) - timedelta(days=1)))
    future = datetime.now(UTC) + timedelta(days=30)
    central.set_id_tag(IdTag("TEMP", expiry_date=future))
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)

    async with charger(port_of(entry), "CP-T") as cp:
        await cp.boot()
        good = await cp.raw(call_frame("Authorize", {"idTag": "GOOD"}))
        assert isinstance(good, CallResult)
        assert good.payload == {"idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}}
        # Id tags are compared without regard to case, as the spec's IdToken is.
        assert (await cp.authorize("good")).id_tag_info["status"] == "Accepted"
        assert (await cp.authorize("STOLEN")).id_tag_info["status"] == "Blocked"
        assert (await cp.authorize("OLD")).id_tag_info["status"] == "Expired"
        temp = await cp.authorize("TEMP")
        assert temp.id_tag_info["status"] == "Accepted"
        assert datetime.fromisoformat(temp.id_tag_info["expiry_date"].replace("Z", "+00:00")) == future.replace(
            microsecond=future.microsecond // 1000 * 1000
        )
        assert (await cp.authorize("NOBODY")).id_tag_info == {"status": "Invalid"}

        start = await cp.start_transaction(1, "NOBODY", 0)
        assert start.id_tag_info["status"] == "Invalid"
        # The charger decides what to do with an Invalid start; the session is still recorded.
        assert start.transaction_id in central.open_transactions
        start_blocked = await cp.start_transaction(2, "STOLEN", 0)
        assert start_blocked.id_tag_info["status"] == "Blocked"
        await hass.async_block_till_done()

    statuses = [(e.data["id_tag"], e.data["status"], e.data.get("connector_id")) for e in presented]
    assert statuses == [
        ("GOOD", "accepted", None),
        ("good", "accepted", None),
        ("STOLEN", "blocked", None),
        ("OLD", "expired", None),
        ("TEMP", "accepted", None),
        ("NOBODY", "invalid", None),
        ("NOBODY", "invalid", 1),
        ("STOLEN", "blocked", 2),
    ]
    assert all(e.data["charge_point_id"] == "CP-T" for e in presented)


async def test_unknown_id_tags_accepted_by_default(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-U") as cp:
        await cp.boot()
        assert (await cp.authorize("ANYONE")).id_tag_info == {"status": "Accepted"}
        # A listed tag answers its own status even when unknown tags are accepted.
        hub_of(entry).central.set_id_tag(IdTag("BAD", status="Invalid"))
        assert (await cp.authorize("BAD")).id_tag_info == {"status": "Invalid"}
        assert hub_of(entry).central.remove_id_tag("BAD")
        assert not hub_of(entry).central.remove_id_tag("BAD")
        assert (await cp.authorize("BAD")).id_tag_info == {"status": "Accepted"}


# --- DataTransfer and firmware / diagnostics notifications -----------------------------------


async def test_data_transfer_is_announced_and_answered_unknown_vendor(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    events = async_capture_events(hass, EVENT_DATA_TRANSFER)
    async with charger(port_of(entry), "CP-V") as cp:
        await cp.boot()
        answer = await cp.send(call.DataTransfer(vendor_id="com.example", message_id="Plug", data='{"x": 1}'))
        assert answer.status == "UnknownVendorId"
        answer = await cp.send(call.DataTransfer(vendor_id="org.other"))
        assert answer.status == "UnknownVendorId"
        await hass.async_block_till_done()
    assert [e.data for e in events] == [
        {"charge_point_id": "CP-V", "vendor_id": "com.example", "message_id": "Plug", "data": '{"x": 1}'},
        {"charge_point_id": "CP-V", "vendor_id": "org.other", "message_id": None, "data": None},
    ]


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_firmware_and_diagnostics_status_sensors(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-F") as cp:
        await cp.boot()
        await hass.async_block_till_done()
        assert state(hass, "CP-F_0_firmware_status") == "unknown"
        await cp.send(call.FirmwareStatusNotification(status="Downloading"))
        await cp.send(call.DiagnosticsStatusNotification(status="Uploading"))
        await hass.async_block_till_done()
        assert state(hass, "CP-F_0_firmware_status") == "downloading"
        assert state(hass, "CP-F_0_diagnostics_status") == "uploading"

        await cp.send(call.FirmwareStatusNotification(status="InstallationFailed"))
        await cp.send(call.DiagnosticsStatusNotification(status="UploadFailed"))
        await hass.async_block_till_done()
        assert state(hass, "CP-F_0_firmware_status") == "installation_failed"
        assert state(hass, "CP-F_0_diagnostics_status") == "upload_failed"
        firmware = full_state(hass, "CP-F_0_firmware_status")
        assert "download_failed" in firmware.attributes["options"]


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_last_heartbeat_follows_any_message_and_survives_disconnect(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-L") as cp:
        await cp.boot()
        await hass.async_block_till_done()
        first = state(hass, "CP-L_0_last_heartbeat")
        assert first not in ("unknown", "unavailable")
    await wait_for(lambda: state(hass, "CP-L_0_connected", "binary_sensor") == "off", what="disconnect")
    # Diagnostic timestamps stay readable while the charger is away.
    assert state(hass, "CP-L_0_last_heartbeat") == first
