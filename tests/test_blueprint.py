"""The solar-surplus blueprint drives a real charger's power limit."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest

from .charger import charger
from .conftest import EntryFactory, port_of, runtime_of
from .control_charger import ControlCharger
from .helpers import entity_id, state, wait_for
from .test_smart_charging import profiles_sent, ready, with_units

BLUEPRINT = Path(__file__).resolve().parent.parent / "blueprints" / "automation" / "ocpp_cs" / "solar_surplus.yaml"


# The blueprint's time_pattern trigger stays scheduled when the test ends; that is expected.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_solar_surplus_blueprint(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    target = Path(hass.config.path("blueprints/automation/ocpp_cs/solar_surplus.yaml"))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINT, target)
    entry = await setup_entry()
    runtime_of(entry).limits.min_interval = 0
    async with charger(port_of(entry), "CP-SUN", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        surplus = {"device_class": "power", "unit_of_measurement": "W"}
        hass.states.async_set("sensor.surplus", "0", surplus)
        limit = entity_id(hass, "CP-SUN_1_power_limit", "number")
        assert await async_setup_component(
            hass,
            "automation",
            {
                "automation": [
                    {
                        "id": "sun",
                        "use_blueprint": {
                            "path": "ocpp_cs/solar_surplus.yaml",
                            "input": {
                                "surplus_sensor": "sensor.surplus",
                                "power_limit": limit,
                                "minimum_power": 1380,
                                "maximum_power": 11000,
                                "hysteresis": 300,
                            },
                        },
                    }
                ]
            },
        )
        await hass.async_block_till_done()

        def power() -> float:
            return float(state(hass, "CP-SUN_1_power_limit", "number"))

        hass.states.async_set("sensor.surplus", "4140", surplus)
        await wait_for(lambda: power() == 4140, what="first limit")
        sent = profiles_sent(cp)[-1]["profile"]["charging_schedule"]
        assert (sent["charging_rate_unit"], float(sent["charging_schedule_period"][0]["limit"])) == ("A", 6.0)

        count = len(profiles_sent(cp))
        hass.states.async_set("sensor.surplus", "4300", surplus)  # within the hysteresis: nothing sent
        await hass.async_block_till_done()
        assert len(profiles_sent(cp)) == count

        hass.states.async_set("sensor.surplus", "800", surplus)  # below the minimum: pause
        await wait_for(lambda: power() == 0, what="pause")
        hass.states.async_set("sensor.surplus", "1500", surplus)  # not enough to resume (1380 + 300)
        await hass.async_block_till_done()
        assert power() == 0
        hass.states.async_set("sensor.surplus", "7000", surplus)
        await wait_for(lambda: power() == 7000, what="resume")
