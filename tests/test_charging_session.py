"""A charger boots, a car plugs in, is authorized, charges, and stops."""

from __future__ import annotations

from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.ocpp_cs.const import (
    DOMAIN,
    EVENT_ID_TAG_PRESENTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import find_device


def entity_id(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, unique_id)
    assert found, f"no {platform} with unique id {unique_id}"
    return found


def state(hass: HomeAssistant, unique_id: str, platform: str = "sensor") -> str:
    current = hass.states.get(entity_id(hass, unique_id, platform))
    assert current is not None
    return current.state


def energy(value_wh: float) -> list[dict[str, str]]:
    return [
        {"value": str(value_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7360", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "10.6", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "231.2", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
    ]


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_full_session(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    events: dict[str, list[Event]] = {
        EVENT_TRANSACTION_STARTED: [],
        EVENT_TRANSACTION_STOPPED: [],
        EVENT_ID_TAG_PRESENTED: [],
    }
    for name, bucket in events.items():
        hass.bus.async_listen(name, bucket.append)

    async with charger(port_of(entry), "CP-1") as cp:
        boot = await cp.boot(charge_point_serial_number="SN-1", firmware_version="1.2.3", iccid="8931")
        assert boot.status == "Accepted"
        assert boot.interval == 300
        await cp.status(0, "Available")
        await cp.status(1, "Available")
        await hass.async_block_till_done()

        device = find_device(hass, "CP-1")
        assert device is not None
        assert (device.manufacturer, device.model, device.serial_number, device.sw_version) == (
            "Sim", "Sim-22", "SN-1", "1.2.3",
        )
        assert state(hass, "CP-1_0_connected", "binary_sensor") == "on"
        assert state(hass, "CP-1_1_status") == "available"
        assert state(hass, "CP-1_0_error_code") == "no_error"

        await cp.status(1, "Preparing")
        auth = await cp.authorize("CARD-1")
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.start_transaction(1, "CARD-1", 1000)
        tx = start.transaction_id
        assert start.id_tag_info["status"] == "Accepted"
        await cp.status(1, "Charging")
        await cp.meter(1, energy(1500), transaction_id=tx)
        await hass.async_block_till_done()

        assert state(hass, "CP-1_1_status") == "charging"
        assert state(hass, "CP-1_1_transaction_id") == str(tx)
        assert state(hass, "CP-1_1_id_tag") == "CARD-1"
        assert float(state(hass, "CP-1_1_session_energy")) == 0.5
        # Registers in Wh are shown in kWh (suggested unit), exactly.
        assert float(state(hass, "CP-1_1_energy_active_import_register")) == 1.5
        assert float(state(hass, "CP-1_1_current_import_l1")) == 10.6
        assert float(state(hass, "CP-1_1_voltage_l1_n")) == 231.2
        register = hass.states.get(entity_id(hass, "CP-1_1_energy_active_import_register"))
        assert register is not None
        assert register.attributes["state_class"] == "total_increasing"
        assert register.attributes["device_class"] == "energy"

        stop = await cp.stop_transaction(tx, 3500, id_tag="CARD-1")
        assert stop.id_tag_info["status"] == "Accepted"
        await cp.status(1, "Finishing")
        await hass.async_block_till_done()
        assert float(state(hass, "CP-1_1_session_energy")) == 2.5
        assert state(hass, "CP-1_1_stop_reason") == "local"

    await hass.async_block_till_done()
    assert state(hass, "CP-1_0_connected", "binary_sensor") == "off"
    assert state(hass, "CP-1_1_status") == "unavailable"

    started = events[EVENT_TRANSACTION_STARTED][0].data
    assert started["charge_point_id"] == "CP-1"
    assert started["connector_id"] == 1
    assert started["transaction_id"] == tx
    assert started["id_tag"] == "CARD-1"
    assert started["meter_start"] == 1000
    stopped = events[EVENT_TRANSACTION_STOPPED][0].data
    assert stopped["meter_stop"] == 3500
    assert stopped["energy"] == 2.5
    assert stopped["reason"] == "local"
    assert isinstance(stopped["duration"], int)
    presented = [e.data for e in events[EVENT_ID_TAG_PRESENTED]]
    assert presented[0] == {"charge_point_id": "CP-1", "id_tag": "CARD-1", "status": "accepted"}
    assert presented[1]["connector_id"] == 1
    assert hub_of(entry).central.open_transactions == {}


async def test_absurd_connector_ids_are_refused(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-BIG") as cp:
        await cp.boot()
        answer = await cp.raw(
            '[2,"big-1","StatusNotification",{"connectorId":100000,"errorCode":"NoError","status":"Available"}]'
        )
        assert (answer.unique_id, answer.error_code) == ("big-1", "PropertyConstraintViolation")
        await cp.status(32, "Available")  # up to 32 connectors are fine
        assert len(hub_of(entry).central.chargers["CP-BIG"].connectors) == 33
