"""Names a homeowner understands: plain meter names, entity ids from them, sensible precision."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, port_of
from .helpers import entity_id, full_state, sampled

READINGS = [
    sampled("12500", "Energy.Active.Import.Register", "Wh"),
    sampled("7360", "Power.Active.Import", "W"),
    sampled("16.04", "Current.Import", "A", phase="L1"),
    sampled("230.4", "Voltage", "V", phase="L1-N"),
    sampled("400.2", "Voltage", "V", phase="L1-L2"),
    sampled("41.5", "Temperature", "Celsius", location="Body"),
    sampled("63", "SoC", "Percent", location="EV"),
    sampled("32", "Current.Offered", "A"),
    sampled("50.01", "Frequency", "Hertz"),
    sampled("0.98", "Power.Factor"),
]

# key -> (entity id after the device name, friendly name after it, unit shown, decimals shown)
EXPECTED = {
    "energy_active_import_register": ("lifetime_energy", "Lifetime energy", "kWh", 2),
    "power_active_import": ("power", "Power", "kW", 1),
    "current_import_l1": ("current_phase_1", "Current phase 1", "A", 1),
    "voltage_l1_n": ("voltage_phase_1", "Voltage phase 1", "V", 0),
    "voltage_l1_l2": ("voltage_phase_1_2", "Voltage phase 1-2", "V", 0),
    "temperature_body": ("body_temperature", "Body temperature", "°C", 1),
    "soc": ("state_of_charge", "State of charge", "%", 0),
    "current_offered": ("offered_current", "Offered current", "A", 1),
    "frequency": ("frequency", "Frequency", "Hz", 1),
    "power_factor": ("power_factor", "Power factor", None, 2),
}


async def test_a_new_install_names_meters_in_plain_words(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    registry = er.async_get(hass)
    async with charger(port_of(entry), "Garage") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        await cp.meter(1, READINGS)
        await cp.meter(0, [sampled("99000", "Energy.Active.Import.Register", "Wh")])
        await hass.async_block_till_done()

        for key, (object_id, name, unit, precision) in EXPECTED.items():
            # A single-connector charger keeps its connector's entities, "Connector 1 ...", on its device.
            found = entity_id(hass, f"Garage_1_{key}")  # unique ids stay the spec's keys
            assert found == f"sensor.garage_connector_1_{object_id}", key
            current = full_state(hass, f"Garage_1_{key}")
            assert current.attributes["friendly_name"] == f"Garage Connector 1 {name}", key
            assert current.attributes.get("unit_of_measurement") == unit, key
            entity = registry.async_get(found)
            assert entity is not None
            assert entity.translation_key == key
            assert entity.original_name == f"Connector 1 {name}", key
            assert entity.options["sensor"]["suggested_display_precision"] == precision, key

        # Units stay the charger's; Home Assistant shows Wh in kWh and W in kW.
        register = registry.async_get(entity_id(hass, "Garage_1_energy_active_import_register"))
        assert register is not None
        assert register.options["sensor.private"]["suggested_unit_of_measurement"] == "kWh"
        assert float(full_state(hass, "Garage_1_energy_active_import_register").state) == 12.5
        assert float(full_state(hass, "Garage_1_power_active_import").state) == pytest.approx(7.36)

        # The charger's own meter (connector 0) has no prefix.
        assert entity_id(hass, "Garage_0_energy_active_import_register") == "sensor.garage_lifetime_energy"
        assert full_state(hass, "Garage_0_energy_active_import_register").attributes["friendly_name"] == (
            "Garage Lifetime energy"
        )
        session = registry.async_get(entity_id(hass, "Garage_1_session_energy"))
        assert session is not None
        assert session.options["sensor"]["suggested_display_precision"] == 2

        # A second connector gives each connector its own device: the names carry over unchanged.
        await cp.status(2, "Available")
        await cp.meter(2, [sampled("3.7", "Power.Active.Import", "kW")])
        await hass.async_block_till_done()
        assert entity_id(hass, "Garage_2_power_active_import") == "sensor.garage_connector_2_power"
        power = full_state(hass, "Garage_2_power_active_import")
        assert power.attributes["friendly_name"] == "Garage Connector 2 Power"
        assert (float(power.state), power.attributes["unit_of_measurement"]) == (3.7, "kW")


async def test_entities_of_an_earlier_version_keep_their_entity_ids_and_units(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    registry = er.async_get(hass)
    # As the previous version registered them: ids from the spec's words, power in W.
    old_register = registry.async_get_or_create(
        "sensor",
        DOMAIN,
        "OLD_1_energy_active_import_register",
        suggested_object_id="old_connector_1_energy_active_import_register",
        unit_of_measurement="kWh",
        original_name="Connector 1 Energy active import register",
    )
    registry.async_update_entity_options(
        old_register.entity_id, "sensor.private", {"suggested_unit_of_measurement": "kWh"}
    )
    old_power = registry.async_get_or_create(
        "sensor",
        DOMAIN,
        "OLD_1_power_active_import",
        suggested_object_id="old_connector_1_power_active_import",
        unit_of_measurement="W",
        original_name="Connector 1 Power active import",
    )
    entry = await setup_entry()
    async with charger(port_of(entry), "OLD") as cp:
        await cp.boot()
        await cp.meter(
            1, [sampled("12500", "Energy.Active.Import.Register", "Wh"), sampled("7360", "Power.Active.Import", "W")]
        )
        await hass.async_block_till_done()

        assert entity_id(hass, "OLD_1_energy_active_import_register") == old_register.entity_id
        assert entity_id(hass, "OLD_1_power_active_import") == old_power.entity_id
        register = full_state(hass, "OLD_1_energy_active_import_register")
        assert register.attributes["friendly_name"] == "OLD Connector 1 Lifetime energy"
        assert float(register.state) == 12.5
        # A sensor registered in W stays in W (its history and statistics are in W), now without decimals.
        power = full_state(hass, "OLD_1_power_active_import")
        assert power.attributes["friendly_name"] == "OLD Connector 1 Power"
        assert (float(power.state), power.attributes["unit_of_measurement"]) == (7360, "W")
        updated = registry.async_get(old_power.entity_id)
        assert updated is not None
        assert updated.original_name == "Connector 1 Power"
        assert updated.options["sensor"]["suggested_display_precision"] == 0
