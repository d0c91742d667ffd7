"""OCPP 2.0.1 notifications: problems as error codes, the device model, progress, security, reservations, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v201 import call
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import EVENT_DATA_TRANSFER, EVENT_SECURITY_EVENT, EVENT_SIGN_CERTIFICATE
from custom_components.ocpp_cs.engine.authorization import Reservation

from .charger import now_iso
from .charger201 import charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import state


def problem(component: str, *, evse: int | None = None, cleared: bool = False, **fields: Any) -> dict[str, Any]:
    """A NotifyEvent EventDataType: the component's Problem variable (true, or cleared)."""
    event: dict[str, Any] = {
        "event_id": 1,
        "timestamp": now_iso(),
        "trigger": "Delta",
        "actual_value": "false" if cleared else "true",
        "component": {"name": component, **({"evse": {"id": evse}} if evse is not None else {})},
        "variable": {"name": "Problem"},
        "event_notification_type": "HardWiredNotification",
        **fields,
    }
    if cleared:
        event["cleared"] = True
    return event


async def test_problems_are_error_codes_of_their_evse(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-EV") as cs:
        await cs.boot()
        await cs.status(1, "Occupied")
        await cs.send(call.NotifyEvent(generated_at=now_iso(), seq_no=0, event_data=[
            problem("ConnectorPlugRetentionLock", evse=1, tech_code="E42", tech_info="lock jammed"),
            problem("RCD"),
            # Not a problem: ignored.
            {**problem("Controller"), "variable": {"name": "Temperature"}, "actual_value": "41"},
        ]))
        await hass.async_block_till_done()
        assert state(hass, "CS-EV_1_error_code") == "connector_lock_failure"
        assert state(hass, "CS-EV_1_status") == "preparing"
        connector = hub_of(entry).central.chargers["CS-EV"].connectors[1]
        assert (connector.vendor_error_code, connector.info) == ("E42", "lock jammed")
        assert state(hass, "CS-EV_0_error_code") == "ground_failure"
        # The status keeps the error code it reported last.
        await cs.status(1, "Faulted")
        await hass.async_block_till_done()
        assert state(hass, "CS-EV_1_status") == "faulted"
        assert state(hass, "CS-EV_1_error_code") == "connector_lock_failure"
        await cs.send(call.NotifyEvent(generated_at=now_iso(), seq_no=1, event_data=[
            problem("ConnectorPlugRetentionLock", evse=1, cleared=True),
        ]))
        await hass.async_block_till_done()
        assert state(hass, "CS-EV_1_error_code") == "no_error"


async def test_notify_report_fills_the_device_model(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-DM") as cs:
        await cs.boot()
        report = [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedMeasurands"},
             "variable_attribute": [{"type": "Actual", "value": "Energy.Active.Import.Register,Power.Active.Import",
                                     "mutability": "ReadWrite"}]},
            {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "AvailabilityState"},
             "variable_attribute": [{"type": "Actual", "value": "Available", "mutability": "ReadOnly"},
                                    {"type": "MaxSet", "value": "x"}]},
            {"component": {"name": "Connector", "instance": "A", "evse": {"id": 1, "connector_id": 1}},
             "variable": {"name": "ConnectorType", "instance": "main"},
             "variable_attribute": [{"value": "cType2"}]},
        ]
        await cs.send(call.NotifyReport(request_id=1, generated_at=now_iso(), seq_no=0, report_data=report))
        configuration = hub_of(entry).central.chargers["CS-DM"].configuration
        assert configuration["SampledDataCtrlr/TxUpdatedMeasurands"].value == (
            "Energy.Active.Import.Register,Power.Active.Import"
        )
        assert not configuration["SampledDataCtrlr/TxUpdatedMeasurands"].readonly
        assert configuration["EVSE@2/AvailabilityState"].readonly
        assert configuration["Connector[A]@1.1/ConnectorType[main]"].value == "cType2"


async def test_progress_security_reservations_limits_and_data_transfer(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    security = async_capture_events(hass, EVENT_SECURITY_EVENT)
    signing = async_capture_events(hass, EVENT_SIGN_CERTIFICATE)
    transfers = async_capture_events(hass, EVENT_DATA_TRANSFER)
    async with charger201(port_of(entry), "CS-N") as cs:
        await cs.boot()
        await cs.status(1, "Available")
        await cs.send(call.FirmwareStatusNotification(status="Downloading", request_id=3))
        await cs.send(call.LogStatusNotification(status="Uploaded", request_id=4))
        assert (central.chargers["CS-N"].firmware_status, central.chargers["CS-N"].log_status) == (
            "Downloading", "Uploaded",
        )
        await cs.send(call.SecurityEventNotification(type="TamperDetectionActivated", timestamp=now_iso()))
        signed = await cs.send(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----"))
        assert signed.status == "Accepted"

        central.add_reservation(
            Reservation(7, "CS-N", 1, "CARD-1", datetime.now(UTC) + timedelta(hours=1))
        )
        assert 7 in central.auth.reservations
        await cs.send(call.ReservationStatusUpdate(reservation_id=7, reservation_update_status="Expired"))
        assert 7 not in central.auth.reservations
        # Another station's reservation is not this one's to end.
        central.add_reservation(Reservation(8, "CS-OTHER", 1, "CARD-1", datetime.now(UTC) + timedelta(hours=1)))
        await cs.send(call.ReservationStatusUpdate(reservation_id=8, reservation_update_status="Removed"))
        assert 8 in central.auth.reservations

        await cs.send(call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}, evse_id=1))
        needs = await cs.send(call.NotifyEVChargingNeeds(
            charging_needs={"requested_energy_transfer": "AC_three_phase"}, evse_id=1
        ))
        assert needs.status == "Rejected"
        schedule = {"id": 1, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16}]}
        await cs.send(call.ReportChargingProfiles(
            request_id=5, charging_limit_source="CSO", evse_id=1, charging_profile=[{
                "id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Absolute", "charging_schedule": [schedule],
            }],
        ))
        transfer = await cs.send(call.DataTransfer(vendor_id="com.example", message_id="hello", data="x"))
        assert transfer.status == "UnknownVendorId"
        await hass.async_block_till_done()
    assert security[0].data["type"] == "TamperDetectionActivated"
    assert signing[0].data["charge_point_id"] == "CS-N"
    assert (transfers[0].data["vendor_id"], transfers[0].data["message_id"]) == ("com.example", "hello")
