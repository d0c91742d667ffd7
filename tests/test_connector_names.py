"""Connector 1's names when a second connector gives it a device of its own (no restart needed)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import ControlCharger
from .helpers import device_id, entity_id, full_state, sampled, wait_for

# Connector 1's entities by unique id: enabled ones (name shown after the device's name).
SHOWN = {
    "GROW_1_status": ("sensor", "Status"),
    "GROW_1_current_import": ("sensor", "Current"),
    "GROW_1_session_energy": ("sensor", "Session energy"),
    "GROW_1_charging": ("switch", "Charging"),
    "GROW_1_current_limit": ("number", "Current limit"),
    "GROW_1_unlock": ("button", "Unlock"),
}
# Disabled by default: only in the registry, never written, and renamed all the same.
HIDDEN = {"GROW_1_info": "Info", "GROW_1_transaction_id": "Transaction id"}


def connector_1_entries(hass: HomeAssistant, entry_id: str) -> list[er.RegistryEntry]:
    """Return the registry entries of connector 1's entities."""
    registry = er.async_get(hass)
    return [e for e in er.async_entries_for_config_entry(registry, entry_id) if e.unique_id.startswith("GROW_1_")]


async def test_connector_one_is_renamed_when_it_moves_to_its_own_device(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    registry = er.async_get(hass)
    async with charger(port_of(entry), "GROW") as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await cp.meter(1, [sampled("16", "Current.Import", "A")])
        await hass.async_block_till_done()

        # One connector: its entities sit on the charger's device and say which connector they are.
        for unique_id, (platform, name) in SHOWN.items():
            assert full_state(hass, unique_id, platform).attributes["friendly_name"] == f"GROW Connector 1 {name}"
            found = registry.async_get(entity_id(hass, unique_id, platform))
            assert found is not None
            assert (found.device_id, found.original_name) == (device_id(hass, "GROW"), f"Connector 1 {name}")
        for unique_id, name in HIDDEN.items():
            hidden = registry.async_get(entity_id(hass, unique_id))
            assert hidden is not None
            assert hidden.disabled_by is er.RegistryEntryDisabler.INTEGRATION
            assert hidden.original_name == f"Connector 1 {name}"
            assert hass.states.get(hidden.entity_id) is None
        # The homeowner named one of them.
        error_code = entity_id(hass, "GROW_1_error_code")
        registry.async_update_entity(error_code, name="Plug fault")
        await hass.async_block_till_done()
        assert full_state(hass, "GROW_1_error_code").name == "Plug fault"
        entity_count = len(registry.entities)

        await cp.status(2, "Available")
        await hass.async_block_till_done()

        # Connector 1 has a device named after it now; the entities drop "Connector 1" from their
        # own names at once (state and registry), so the device page lists "Status", not
        # "Connector 1 Status", and the full names stay what they were.
        connector_1 = device_id(hass, "GROW_1")
        assert connector_1 != device_id(hass, "GROW")
        for unique_id, (platform, name) in SHOWN.items():
            current = full_state(hass, unique_id, platform)
            assert current.attributes["friendly_name"] == f"GROW Connector 1 {name}", unique_id
            found = registry.async_get(current.entity_id)
            assert found is not None
            assert (found.device_id, found.original_name, found.name) == (connector_1, name, None), unique_id
        for unique_id, name in HIDDEN.items():
            hidden = registry.async_get(entity_id(hass, unique_id))
            assert hidden is not None
            assert (hidden.device_id, hidden.original_name) == (connector_1, name), unique_id
        # The homeowner's name stays theirs; only the name it replaces moved on.
        named = registry.async_get(error_code)
        assert named is not None
        assert (named.name, named.original_name, named.device_id) == ("Plug fault", "Error code", connector_1)
        assert full_state(hass, "GROW_1_error_code").name == "Plug fault"
        # Nothing was added or re-registered: same entity ids, one registry entry each.
        assert len(registry.entities) > entity_count  # connector 2's entities
        for moved in connector_1_entries(hass, entry.entry_id):
            assert moved.entity_id.split(".")[1].startswith("grow_connector_1_"), moved.entity_id
            assert moved.device_id == connector_1, moved.entity_id
            assert not (moved.original_name or "").startswith("Connector"), moved.entity_id
        assert full_state(hass, "GROW_2_status").attributes["friendly_name"] == "GROW Connector 2 Status"

    # The connector does not go back: not after a restart, nor when the charger then says it has
    # one connector (the highest connector id seen counts too).
    before = {e.entity_id: (e.device_id, e.original_name, e.name) for e in connector_1_entries(hass, entry.entry_id)}
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port_of(entry), "GROW", cls=ControlCharger) as again:
        assert isinstance(again, ControlCharger)
        again.configuration = [{"key": "NumberOfConnectors", "readonly": True, "value": "1"}]
        await again.boot()
        await again.status(1, "Available")
        charger_state = hub_of(entry).central.chargers["GROW"]
        await wait_for(lambda: "NumberOfConnectors" in charger_state.configuration, what="configuration read")
        await hass.async_block_till_done()
        after = {e.entity_id: (e.device_id, e.original_name, e.name) for e in connector_1_entries(hass, entry.entry_id)}
        assert after == before
        assert full_state(hass, "GROW_1_status").attributes["friendly_name"] == "GROW Connector 1 Status"
        assert full_state(hass, "GROW_1_status").state == "available"
