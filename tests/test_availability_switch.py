"""The availability switch of a connector (ChangeAvailability) and the charging switch without a session."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
import pytest

from .charger import charger
from .conftest import EntryFactory, port_of
from .control_charger import ControlCharger
from .helpers import entity_id, full_state, state, wait_for
from .test_control import booted


async def switch(hass: HomeAssistant, service: str, unique_id: str) -> None:
    await hass.services.async_call(
        "switch", service, {"entity_id": entity_id(hass, unique_id, "switch")}, blocking=True
    )


async def test_a_connector_taken_out_of_service_and_back(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        assert state(hass, "CP-1_1_available", "switch") == "on"

        await switch(hass, "turn_off", "CP-1_1_available")
        assert ("ChangeAvailability", {"connector_id": 1, "type": "Inoperative"}) in cp.received
        # The charger reports the connector Unavailable: the switch follows.
        await wait_for(lambda: state(hass, "CP-1_1_available", "switch") == "off", what="switch off")

        await switch(hass, "turn_on", "CP-1_1_available")
        assert ("ChangeAvailability", {"connector_id": 1, "type": "Operative"}) in cp.received
        await wait_for(lambda: state(hass, "CP-1_1_available", "switch") == "on", what="switch on")

        # Scheduled (a transaction runs): the switch says what waits.
        cp.answers["ChangeAvailability"] = "Scheduled"
        await switch(hass, "turn_off", "CP-1_1_available")
        current = full_state(hass, "CP-1_1_available", "switch")
        assert current.state == "on"
        assert current.attributes["scheduled"] is True
        assert current.attributes["requested"] == "inoperative"

        # Refused: an error, and the switch shows what the charger reports, not what was asked.
        cp.answers["ChangeAvailability"] = "Rejected"
        with pytest.raises(HomeAssistantError) as raised:
            await switch(hass, "turn_off", "CP-1_2_available")
        assert raised.value.translation_key == "refused"
        assert state(hass, "CP-1_2_available", "switch") == "on"


async def test_turning_off_charging_without_a_session_asks_nothing(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        await switch(hass, "turn_off", "CP-1_1_charging")
        assert not [name for name, _ in cp.received if name == "RemoteStopTransaction"]
        assert state(hass, "CP-1_1_charging", "switch") == "off"
