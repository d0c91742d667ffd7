"""OCPP 2.0.1 in the core's terms, without sockets or Home Assistant: translation and station transactions."""

from __future__ import annotations

from typing import Any

from custom_components.ocpp_cs.engine.central import CentralSystem
from custom_components.ocpp_cs.engine.history import HistoryRecord, TransactionHistory
from custom_components.ocpp_cs.engine.reports import TransactionEvent
from custom_components.ocpp_cs.engine.station_transactions import register_wh, stop_reason
from custom_components.ocpp_cs.engine.v201.checks import request_error
from custom_components.ocpp_cs.engine.v201.notifications import report_values, variable_name
from custom_components.ocpp_cs.engine.v201.translate import (
    boot_info,
    connector_status,
    id_token_info,
    parse_meter_values,
    problem_error_code,
    transaction_event,
)

from .core import CP, at, central


def meter_value(minute: int, *sampled: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": at(minute).isoformat(), "sampledValue": list(sampled)}


def register201(kwh: float, minute: int, context: str = "Sample.Periodic") -> Any:
    return parse_meter_values(
        [meter_value(minute, {"value": kwh, "unitOfMeasure": {"unit": "kWh"}, "context": context})], at(59)
    )


def event(event_type: str, seq_no: int, minute: int, **fields: Any) -> TransactionEvent:
    return TransactionEvent(event_type, "TX-1", seq_no, "Trigger", at(minute), **fields)


def test_boot_status_and_problems() -> None:
    boot = boot_info({"chargingStation": {"vendorName": "V", "model": "M", "serialNumber": "S",
                                          "firmwareVersion": "F", "modem": {"iccid": "I", "imsi": "X"}},
                      "reason": "PowerUp"})
    assert (boot.vendor, boot.model, boot.charge_point_serial_number, boot.firmware_version) == ("V", "M", "S", "F")
    assert (boot.iccid, boot.imsi) == ("I", "X")
    assert connector_status("Available", "Charging", transaction_ended=False) == "Available"
    for charging_state, shown in (("Charging", "Charging"), ("SuspendedEV", "SuspendedEV"),
                                  ("SuspendedEVSE", "SuspendedEVSE"), ("EVConnected", "Preparing"),
                                  ("Idle", "Finishing"), ("Unheard", "Preparing")):
        assert connector_status("Occupied", charging_state, transaction_ended=False) == shown
    assert connector_status("Occupied", None, transaction_ended=True) == "Finishing"
    assert connector_status("Occupied", None, transaction_ended=False) == "Preparing"

    def problem(component: str, variable: str = "Problem", **fields: Any) -> dict[str, Any]:
        return {"component": {"name": component}, "variable": {"name": variable}, "actualValue": "true", **fields}

    assert problem_error_code(problem("PowerContactor")) == "PowerSwitchFailure"
    assert problem_error_code(problem("SomethingNew")) == "OtherError"
    assert problem_error_code(problem("PowerContactor", cleared=True)) == "NoError"
    assert problem_error_code(problem("PowerContactor", actualValue="false")) == "NoError"
    assert problem_error_code(problem("ElectricalFeed", "Overvoltage", trigger="Alerting")) == "OverVoltage"
    assert problem_error_code(problem("ElectricalFeed", "Overvoltage", trigger="Periodic")) is None
    assert problem_error_code(problem("Controller", "Temperature")) is None


def test_sampled_values_units_multipliers_and_garbage() -> None:
    readings = parse_meter_values(
        [
            meter_value(5, {"value": 7.4, "measurand": "Power.Active.Import",
                            "unitOfMeasure": {"unit": "W", "multiplier": 3}},
                        {"value": 16, "measurand": "Current.Import", "phase": "L2", "unitOfMeasure": {"unit": "A"}},
                        {"value": 1500},
                        {"value": float("nan")},
                        {"measurand": "Voltage"}),
            meter_value(1, {"value": 2.5, "unitOfMeasure": {"unit": "kWh"}, "location": "Outlet"}),
        ],
        at(59),
    )
    keys = [(key, reading.value, reading.unit) for key, reading in readings]
    assert keys == [
        ("energy_active_import_register", 2.5, "kWh"),
        ("power_active_import", 7400.0, "W"),
        ("current_import_l2", 16.0, "A"),
        ("energy_active_import_register", 1500.0, "Wh"),
    ]
    assert register_wh(readings) == 1500.0
    assert register_wh(()) is None


def test_transaction_event_id_tokens_and_reasons() -> None:
    parsed = transaction_event({
        "eventType": "Started", "timestamp": at(3).isoformat(), "triggerReason": "Authorized", "seqNo": 4,
        "offline": True, "transactionInfo": {"transactionId": "abc", "chargingState": "Charging"},
        "evse": {"id": 2, "connectorId": 1}, "idToken": {"idToken": "CARD", "type": "eMAID"},
        "meterValue": [meter_value(3, {"value": 1.0, "unitOfMeasure": {"unit": "kWh"}})],
    })
    assert (parsed.transaction_id, parsed.seq_no, parsed.connector_id, parsed.id_tag) == ("abc", 4, 2, "CARD")
    assert (parsed.offline, parsed.charging_state, parsed.timestamp) == (True, "Charging", at(3))
    assert register_wh(parsed.readings) == 1000.0
    assert id_token_info({"status": "Accepted"}) == {"status": "Accepted"}
    assert id_token_info({"status": "Blocked", "expiry_date": "2030-01-01T00:00:00Z", "parent_id_tag": "P"}) == {
        "status": "Blocked",
        "cache_expiry_date_time": "2030-01-01T00:00:00Z",
        "group_id_token": {"id_token": "P", "type": "Central"},
    }
    assert (stop_reason("ImmediateReset"), stop_reason("GroundFault"), stop_reason(None)) == (
        "HardReset", "GroundFault", None,
    )
    assert request_error("Heartbeat", {}) is None
    error = request_error("StatusNotification", {"evseId": 1})
    assert error is not None and error.code == "OccurrenceConstraintViolation"


def test_device_model_names() -> None:
    name = variable_name({"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"})
    assert name == "OCPPCommCtrlr/HeartbeatInterval"
    assert variable_name({"name": "EVSE", "evse": {"id": 1}}, {"name": "Power"}) == "EVSE@1/Power"
    values = report_values([{"component": {"name": "C"}, "variable": {"name": "V"},
                             "variableAttribute": [{"value": "1", "mutability": "ReadOnly"}, {"type": "Target"}]}])
    assert list(values) == ["C/V"]
    assert values["C/V"].readonly


async def station_session(system: CentralSystem) -> None:
    """A station's session in the core: started unauthorized, authorized later, readings, ended."""
    info, transaction = await system.transaction_event(CP, event("Started", 0, 0, connector_id=1,
                                                                readings=register201(10.0, 0, "Transaction.Begin")))
    assert info is None and transaction is not None
    assert (transaction.transaction_id, transaction.meter_start, transaction.id_tag) == ("TX-1", 10000, None)
    info, _ = await system.transaction_event(CP, event("Updated", 1, 1, id_tag="TAG"))
    assert info == {"status": "Accepted"}
    assert transaction.id_tag == "TAG"
    await system.transaction_event(CP, event("Updated", 2, 20, readings=register201(12.0, 20)))
    assert transaction.energy_wh() == 2000.0


async def test_a_station_session_survives_replays_and_a_restart() -> None:
    system, recorder = central()
    await station_session(system)
    # A replay (same seqNo) records nothing again, whatever it carries.
    await system.transaction_event(CP, event("Updated", 2, 20, readings=register201(99.0, 20)))
    assert system.observed_transactions[(CP, "TX-1")].energy_wh() == 2000.0
    # The running session and its string id survive a restart.
    restored, _ = central()
    restored.restore(system.snapshot())
    again = restored.observed_transactions[(CP, "TX-1")]
    assert again.transaction_id == "TX-1"
    assert restored.chargers[CP].connectors[1].transaction is again

    await system.transaction_event(CP, event("Ended", 3, 30, stopped_reason="Local",
                                             readings=register201(13.0, 30, "Transaction.End")))
    (stopped,) = recorder.stopped
    assert (stopped.transaction_id, stopped.energy_wh(), stopped.reason) == ("TX-1", 3000.0, "Local")
    assert system.observed_transactions == {}
    # The Ended sent again, and a late Updated: recorded once.
    await system.transaction_event(CP, event("Ended", 3, 30, readings=register201(13.0, 30, "Transaction.End")))
    _, late = await system.transaction_event(CP, event("Updated", 4, 31))
    assert (len(recorder.stopped), len(recorder.started), late) == (1, 1, None)
    assert system.chargers[CP].connectors[1].energy_wh == 3000.0
    assert [record.transaction_id for record in system.history] == ["TX-1"]


async def test_an_unknown_transaction_ending_and_a_new_one_on_a_busy_evse() -> None:
    system, recorder = central()
    await system.transaction_event(CP, TransactionEvent("Ended", "GHOST", 0, "Trigger", at(1)))
    assert [t.transaction_id for t in recorder.stopped] == ["GHOST"]
    await system.transaction_event(CP, TransactionEvent("Started", "A", 0, "Trigger", at(2), connector_id=1))
    await system.transaction_event(CP, TransactionEvent("Started", "B", 0, "Trigger", at(3), connector_id=1))
    assert system.chargers[CP].connectors[1].transaction is system.observed_transactions[(CP, "B")]
    # A is superseded: in the history with a reconstructed stop, not stopped by the station.
    assert [record.transaction_id for record in system.history] == ["GHOST", "A"]
    assert [t.transaction_id for t in recorder.stopped] == ["GHOST"]


def test_history_records_keep_a_station_s_string_id() -> None:
    history = TransactionHistory()
    record = {"charge_point_id": "CS", "transaction_id": "TX-9", "start": at(0).isoformat(),
              "stop": at(30).isoformat(), "meter_start": 0, "meter_stop": 500, "energy_wh": 500}
    history.restore({"records": [{**record, "ocpp_version": "2.0.1"}, {**record, "transaction_id": "damaged"}]})
    (kept,) = list(history)
    assert kept.transaction_id == "TX-9"
    assert kept.to_dict()["ocpp_version"] == "2.0.1"
    again = HistoryRecord.from_dict(kept.to_dict())
    assert again is not None and again.transaction_id == "TX-9"
