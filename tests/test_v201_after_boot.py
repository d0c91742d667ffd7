"""After a 2.0.1 station's accepted boot: the device model read, the options set, statuses and boots asked for."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from .charger201 import charger201
from .conftest import EntryFactory, hub_of, port_of
from .helpers import find_device, has_entity, wait_for


def variable(component: str, name: str, value: str, evse: int | None = None, **attribute: Any) -> dict[str, Any]:
    return {
        "component": {"name": component, **({"evse": {"id": evse}} if evse is not None else {})},
        "variable": {"name": name},
        "variable_attribute": [{"type": "Actual", "value": value, **attribute}],
    }


async def test_device_model_read_and_options_set(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(
        heartbeat_interval=120,
        meter_value_sample_interval=30,
        meter_values_sampled_data="Energy.Active.Import.Register,Power.Active.Import",
    )
    async with charger201(port_of(entry), "CS-B") as cs:
        cs.device_model = [
            variable("OCPPCommCtrlr", "HeartbeatInterval", "120"),
            variable("SampledDataCtrlr", "TxUpdatedInterval", "60"),
            variable("SampledDataCtrlr", "TxUpdatedMeasurands", "Energy.Active.Import.Register"),
            variable("SmartChargingCtrlr", "Enabled", "true", mutability="ReadOnly"),
            variable("EVSE", "AvailabilityState", "Available", evse=1),
            variable("EVSE", "AvailabilityState", "Available", evse=2),
        ]
        cs.answers["SetVariables"] = ("TxUpdatedMeasurands",)
        await cs.boot()
        await wait_for(lambda: any(action == "SetVariables" for action, _ in cs.received), what="SetVariables")
        await wait_for(lambda: any(action == "TriggerMessage" for action, _ in cs.received), what="TriggerMessage")
        assert cs.received[0] == ("GetBaseReport", {"request_id": cs.received[0][1]["request_id"],
                                                    "report_base": "ConfigurationInventory"})
        configuration = hub_of(entry).central.chargers["CS-B"].configuration
        assert configuration["SmartChargingCtrlr/Enabled"].readonly
        # Two EVSEs reported: two connectors, each a device, before any status.
        assert configuration["NumberOfConnectors"].value == "2"
        await hass.async_block_till_done()
        assert find_device(hass, "CS-B_2") is not None
        assert has_entity(hass, "CS-B_2_status")
        # Only what differs from the device model is set; the heartbeat is already 120.
        (sent,) = [data for action, data in cs.received if action == "SetVariables"]
        assert {(d["variable"]["name"], d["attribute_value"]) for d in sent["set_variable_data"]} == {
            ("TxUpdatedInterval", "30"),
            ("TxUpdatedMeasurands", "Energy.Active.Import.Register,Power.Active.Import"),
        }
        assert configuration["SampledDataCtrlr/TxUpdatedInterval"].value == "30"
        # Refused by the station: what it reported stays.
        assert configuration["SampledDataCtrlr/TxUpdatedMeasurands"].value == "Energy.Active.Import.Register"
        # No status since the boot: asked for.
        assert ("TriggerMessage", {"requested_message": "StatusNotification", "evse": None}) in cs.received


async def test_a_station_that_does_not_boot_is_asked_to(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub_of(entry).boot_grace_seconds = 0
    async with charger201(port_of(entry), "CS-Q") as cs:
        await wait_for(lambda: bool(cs.received), what="TriggerMessage")
        assert cs.received[0] == ("TriggerMessage", {"requested_message": "BootNotification", "evse": None})
        # The user accepts a pending station: it is asked to boot again, in 2.0.1.
        hub_of(entry).accept_pending("CS-Q")
        await wait_for(lambda: len(cs.received) > 1, what="second TriggerMessage")
        assert cs.received[1] == ("TriggerMessage", {"requested_message": "BootNotification", "evse": None})
