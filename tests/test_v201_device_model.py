"""Configuration and device model actions for OCPP 2.0.1 stations: GetVariables, SetVariables, GetBaseReport.

The 1.6 actions (get_configuration, change_configuration, set_charger_password, data_transfer,
call) do the 2.0.1 equivalent; get_variables, set_variables and get_base_report are 2.0.1's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from ocpp.v201 import call as call201
import pytest
import yaml

from custom_components.ocpp_cs import commands201
from custom_components.ocpp_cs.engine.configuration import ConfigurationValue

from .charger import charger
from .charger201 import Sim201Charger, charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action, device_id, wait_for
from .test_v201_after_boot import variable


async def booted(hass: HomeAssistant, cs: Sim201Charger, *, forget: bool = True) -> str:
    """Boot the station, let the after-boot read finish (and forget it); return the station's device id."""
    cs.device_model = [
        variable("OCPPCommCtrlr", "HeartbeatInterval", "120"),
        variable("SampledDataCtrlr", "TxUpdatedInterval", "60"),
        variable("SecurityCtrlr", "SecurityProfile", "1", mutability="ReadOnly"),
        {
            "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "Power"},
            "variable_attribute": [{"type": "Actual", "value": "0"}, {"type": "MaxSet", "value": "11000"}],
        },
    ]
    await cs.boot()
    await wait_for(lambda: any(name == "TriggerMessage" for name, _ in cs.received), what="the after-boot read")
    if forget:
        cs.received.clear()
    await hass.async_block_till_done()
    return device_id(hass, cs.id)


def only(cs: Sim201Charger, name: str) -> dict[str, Any]:
    """Return the one request `name` the station received."""
    (payload,) = [data for action_name, data in cs.received if action_name == name]
    return payload


def last_set(cs: Sim201Charger) -> dict[str, Any]:
    """Return the one variable of the last SetVariables the station received."""
    (item,) = [data for name, data in cs.received if name == "SetVariables"][-1]["set_variable_data"]
    return item


async def test_configuration_actions_read_and_write_the_device_model(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-C") as cs:
        dev = await booted(hass, cs)
        keys = ["HeartbeatInterval", "EVSE@1/Power", "SecurityCtrlr.SecurityProfile", "Nope/Var", "no such key"]
        answer = await action(hass, "get_configuration", device_id=dev, keys=keys)
        # 1.6's key is asked as the variable that replaced it; a name that is no variable is not sent.
        assert only(cs, "GetVariables") == {
            "get_variable_data": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                 "attribute_type": "Actual"},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "attribute_type": "Actual"},
                {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "SecurityProfile"},
                 "attribute_type": "Actual"},
                {"component": {"name": "Nope"}, "variable": {"name": "Var"}, "attribute_type": "Actual"},
            ]
        }
        assert answer == {
            "configuration_key": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "120"},
                {"key": "EVSE@1/Power", "readonly": False, "value": "0"},
                {"key": "SecurityCtrlr.SecurityProfile", "readonly": True, "value": "1"},
            ],
            "unknown_key": ["Nope/Var", "no such key"],
        }

        cs.received.clear()
        answer = await action(hass, "change_configuration", device_id=dev, key="MeterValueSampleInterval", value="30")
        assert only(cs, "SetVariables") == {
            "set_variable_data": [
                {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
                 "attribute_type": "Actual", "attribute_value": "30"}
            ]
        }
        assert answer == {"status": "Accepted", "attribute_status": "Accepted"}
        charger_state = hub_of(entry).central.chargers["CS-C"]
        assert charger_state.configuration["SampledDataCtrlr/TxUpdatedInterval"].value == "30"

        # Refusals are errors naming 1.6's status; RebootRequired too (as for 1.6).
        cs.answers["SetVariables"] = ("HeartbeatInterval",)
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "change_configuration", device_id=dev, key="HeartbeatInterval", value="10")
        assert raised.value.translation_key == "refused"
        assert raised.value.translation_placeholders["status"] == "Rejected"
        cs.answers["SetVariablesStatus"] = {"Interval": "RebootRequired", "Foo": "UnknownVariable"}
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "change_configuration", device_id=dev, key="ClockAlignedDataInterval", value="900")
        assert raised.value.translation_key == "reboot_required"
        assert ("AlignedDataCtrlr/Interval" in charger_state.configuration) is True
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "change_configuration", device_id=dev, key="OCPPCommCtrlr/Foo", value="1")
        assert raised.value.translation_placeholders["status"] == "NotSupported"
        # A component's instance, EVSE and connector, as the device model read names them.
        cs.answers["SetVariables"] = ("Enabled",)
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "change_configuration", device_id=dev, key="Connector[main]@1.1/Enabled", value="0")
        assert last_set(cs) == {
            "component": {"name": "Connector", "instance": "main", "evse": {"id": 1, "connector_id": 1}},
            "variable": {"name": "Enabled"}, "attribute_type": "Actual", "attribute_value": "0",
        }
        with pytest.raises(ServiceValidationError) as invalid:
            await action(hass, "change_configuration", device_id=dev, key="not a variable", value="1")
        assert invalid.value.translation_key == "invalid_variable_name"

        # All keys: the configuration report, as the after-boot read asks for it.
        cs.received.clear()
        answer = await action(hass, "get_configuration", device_id=dev)
        assert only(cs, "GetBaseReport")["report_base"] == "ConfigurationInventory"
        assert {"key": "SecurityCtrlr/SecurityProfile", "readonly": True, "value": "1"} in answer["configuration_key"]
        assert {"key": "EVSE@1/Power", "readonly": False, "value": "0"} in answer["configuration_key"]
        assert answer["unknown_key"] == []


async def test_variables_and_base_reports(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-V") as cs:
        dev = await booted(hass, cs)
        # The station takes two variables a message (its device model says so): three are two messages.
        limit = "DeviceDataCtrlr/ItemsPerMessage[GetVariables]"
        hub_of(entry).central.chargers["CS-V"].configuration[limit] = ConfigurationValue(value="2", readonly=True)
        answer = await action(
            hass,
            "get_variables",
            device_id=dev,
            variables=[
                {"component": "EVSE", "evse": 1, "variable": "Power", "attribute_type": "MaxSet"},
                {"component": "EVSE", "evse": 1, "variable": "Power", "attribute_type": "Target"},
                {"component": "OCPPCommCtrlr", "variable": "MessageAttempts", "instance": "TransactionEvent"},
            ],
        )
        first, second = [data["get_variable_data"] for name, data in cs.received if name == "GetVariables"]
        assert len(first) == 2
        assert {"get_variable_data": first + second} == {
            "get_variable_data": [
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "attribute_type": "MaxSet"},
                {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "Power"},
                 "attribute_type": "Target"},
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "MessageAttempts",
                 "instance": "TransactionEvent"}, "attribute_type": "Actual"},
            ]
        }
        assert answer == {
            "get_variable_result": [
                {"key": "EVSE@1/Power", "component": "EVSE", "variable": "Power", "evse": 1,
                 "attribute_type": "MaxSet", "attribute_status": "Accepted", "value": "11000"},
                {"key": "EVSE@1/Power", "component": "EVSE", "variable": "Power", "evse": 1,
                 "attribute_type": "Target", "attribute_status": "NotSupportedAttributeType"},
                {"key": "OCPPCommCtrlr/MessageAttempts[TransactionEvent]", "component": "OCPPCommCtrlr",
                 "variable": "MessageAttempts", "instance": "TransactionEvent", "attribute_type": "Actual",
                 "attribute_status": "UnknownVariable"},
            ]
        }

        cs.received.clear()
        cs.answers["SetVariables"] = ("TxUpdatedInterval",)
        answer = await action(
            hass,
            "set_variables",
            device_id=dev,
            variables=[
                {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": 300},
                {"component": "SampledDataCtrlr", "variable": "TxUpdatedInterval", "value": "15"},
            ],
        )
        assert only(cs, "SetVariables") == {
            "set_variable_data": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
                 "attribute_type": "Actual", "attribute_value": "300"},
                {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
                 "attribute_type": "Actual", "attribute_value": "15"},
            ]
        }
        assert [item["attribute_status"] for item in answer["set_variable_result"]] == ["Accepted", "Rejected"]
        assert answer["set_variable_result"][1]["status_info"] == {"reason_code": "ReadOnly"}
        configuration = hub_of(entry).central.chargers["CS-V"].configuration
        assert configuration["OCPPCommCtrlr/HeartbeatInterval"].value == "300"
        assert configuration["SampledDataCtrlr/TxUpdatedInterval"].value == "60"  # refused: unchanged
        # The password only through set_charger_password (it must be expected once taken).
        with pytest.raises(ServiceValidationError) as invalid:
            await action(
                hass, "set_variables", device_id=dev,
                variables=[{"component": "SecurityCtrlr", "variable": "BasicAuthPassword", "value": "x" * 20}],
            )
        assert invalid.value.translation_key == "use_set_charger_password"

        # A base report: every part (the simulated station sends two), in the report's order.
        cs.received.clear()
        answer = await action(hass, "get_base_report", device_id=dev, report_base="FullInventory")
        assert only(cs, "GetBaseReport")["report_base"] == "FullInventory"
        assert answer["status"] == "Accepted"
        assert answer["complete"] is True
        assert answer["report_data"] == cs.device_model
        cs.answers["GetBaseReport"] = "NotSupported"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "get_base_report", device_id=dev, report_base="SummaryInventory")
        assert raised.value.translation_placeholders["status"] == "NotSupported"


async def test_password_call_and_data_transfer(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger201(port_of(entry), "CS-P") as cs:
        dev = await booted(hass, cs)
        with pytest.raises(ServiceValidationError) as invalid:
            await action(hass, "set_charger_password", device_id=dev, password="short")
        assert invalid.value.translation_key == "basic_auth_password_length"
        assert cs.received == []
        password = "a-new-password-for-CS-P"
        answer = await action(hass, "set_charger_password", device_id=dev, password=password)
        assert answer == {"status": "Accepted", "pushed": True, "attribute_status": "Accepted"}
        assert only(cs, "SetVariables") == {
            "set_variable_data": [
                {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
                 "attribute_type": "Actual", "attribute_value": password}
            ]
        }
        assert hub.central.password_of("CS-P") == password
        # 1.6's AuthorizationKey is 2.0.1's BasicAuthPassword (the password itself); refused: not expected.
        cs.received.clear()
        cs.answers["SetVariables"] = ("BasicAuthPassword",)
        with pytest.raises(HomeAssistantError):
            await action(hass, "change_configuration", device_id=dev, key="AuthorizationKey", value="x" * 16)
        assert only(cs, "SetVariables")["set_variable_data"][0]["variable"] == {"name": "BasicAuthPassword"}
        assert hub.central.password_of("CS-P") == password
        assert "SecurityCtrlr/BasicAuthPassword" not in hub.central.chargers["CS-P"].configuration

        answer = await action(hass, "data_transfer", device_id=dev, vendor_id="acme", message_id="m", data="hi")
        assert answer == {"status": "Accepted", "data": "echo:hi"}
        assert ("DataTransfer", {"vendor_id": "acme", "message_id": "m", "data": "hi"}) in cs.received
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "data_transfer", device_id=dev, vendor_id="other")
        assert raised.value.translation_placeholders["status"] == "UnknownVendorId"

        # call: any 2.0.1 CSMS action, checked against the 2.0.1 schema before it is sent.
        cs.received.clear()
        heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        payload = {"get_variable_data": [heartbeat]}
        answer = await action(hass, "call", device_id=dev, action="get_variables", payload=payload)
        assert answer["get_variable_result"][0]["attribute_value"] == "120"
        assert only(cs, "GetVariables") == {"get_variable_data": [heartbeat]}
        cases = [
            ("RemoteStartTransaction", {"id_tag": "x"}, "unknown_action_v201"),
            ("GetVariables", {"get_variable_data": [{"component": {}}]}, "invalid_payload_v201"),
            ("SetVariables", {"set_variable_data": [{"component": {"name": "SecurityCtrlr"},
              "variable": {"name": "BasicAuthPassword"}, "attribute_value": "y" * 20}]}, "use_set_charger_password"),
        ]
        for name, data, key in cases:
            with pytest.raises(ServiceValidationError) as invalid:
                await action(hass, "call", device_id=dev, action=name, payload=data)
            assert invalid.value.translation_key == key, name
        assert cs.received == [("GetVariables", only(cs, "GetVariables"))]


async def test_device_model_actions_refused_for_a_16_charger(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-16") as cp:
        await cp.boot()
        await hass.async_block_till_done()
        dev = device_id(hass, "CP-16")
        fields: dict[str, dict[str, Any]] = {
            "get_variables": {"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}]},
            "set_variables": {"variables": [{"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval",
                                             "value": "1"}]},
            "get_base_report": {},
        }
        for name, data in fields.items():
            with pytest.raises(ServiceValidationError) as invalid:
                await action(hass, name, device_id=dev, **data)
            assert invalid.value.translation_key == "only_for_v201", name
            assert invalid.value.translation_placeholders == {"charge_point_id": "CP-16", "action": name}


def test_call_offers_every_201_csms_action() -> None:
    """The `call` form lists every 2.0.1 CSMS action, and each is a request of the ocpp library."""
    services = yaml.safe_load((Path(commands201.__file__).parent / "services.yaml").read_text(encoding="utf-8"))
    options = set(services["call"]["fields"]["action"]["selector"]["select"]["options"])
    assert options >= commands201.CSMS_ACTIONS
    assert all(hasattr(call201, name) for name in commands201.CSMS_ACTIONS)
