"""The `plan` charging mode over a simulated night: a real charger, a price forecast, a 25 A fuse."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .helpers import entity_id, full_state, sampled, state
from .test_site import SITE, SiteCharger, grid, limits, plugged_in, set_mode, settle

PRICE = "sensor.electricity_price"
# Hourly prices from 18:00 local time: the cheapest two hours are 00:00-02:00.
PRICES = (0.40, 0.35, 0.30, 0.28, 0.25, 0.12, 0.10, 0.11, 0.30, 0.32, 0.33, 0.34)
VOLTAGE = 230.0


def forecast(start: datetime) -> list[dict[str, Any]]:
    """Return the price sensor's forecast attribute: one entry per hour from `start`."""
    return [
        {
            "start": (start + timedelta(hours=hour)).isoformat(),
            "end": (start + timedelta(hours=hour + 1)).isoformat(),
            "price": price,
        }
        for hour, price in enumerate(PRICES)
    ]


async def plan_settings(hass: HomeAssistant, departure: str, target_kwh: float) -> None:
    await hass.services.async_call(
        "time", "set_value", {"entity_id": entity_id(hass, "CP-P_1_departure_time", "time"), "time": departure},
        blocking=True,
    )
    await hass.services.async_call(
        "number", "set_value",
        {"entity_id": entity_id(hass, "CP-P_1_target_energy", "number"), "value": target_kwh}, blocking=True,
    )


class Car:
    """A car on the charger: it draws the limit it was given (at most 16 A), the meter counts it."""

    def __init__(self, cp: SiteCharger, transaction_id: int) -> None:
        self.cp = cp
        self.transaction_id = transaction_id
        self.wh = 0.0
        self.draw = 0.0

    async def report(self) -> None:
        values = [sampled(str(self.draw), "Current.Import", "A", phase=phase) for phase in ("L1", "L2", "L3")]
        values.append(sampled(str(round(self.wh)), "Energy.Active.Import.Register", "Wh"))
        await self.cp.meter(1, values, self.transaction_id)


async def run_night(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, car: Car, steps: int, sender: Any
) -> list[tuple[int, float]]:
    """
    Move the clock on in 10-minute steps; return (local hour, current drawn) of every step.

    The car reports 10 s before each step too: a charger's MeterValues come every minute or
    so, and a plan that re-plans at an interval's end takes the energy from the last one.
    """
    drawn = []
    for _ in range(steps):
        sent = limits(car.cp)
        car.draw = min(sent[-1], 16.0) if sent else 0.0
        drawn.append((dt_util.now().hour, car.draw))
        for seconds in (590, 10):
            freezer.tick(timedelta(seconds=seconds))
            car.wh += 3 * VOLTAGE * car.draw * seconds / 3600
            grid(hass, 5 + car.draw, 5 + car.draw, 5 + car.draw)
            await car.report()
            async_fire_time_changed(hass)
            for _ in range(200):
                await asyncio.sleep(0)
            await settle(lambda: sender.idle, "answers")
    return drawn


async def test_a_plan_charges_in_the_cheapest_hours_and_meets_the_target_by_departure(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    evening = datetime(2026, 12, 4, 18, 0, tzinfo=dt_util.get_default_time_zone())
    freezer.move_to(evening)
    hass.states.async_set(PRICE, "0.40", {"unit_of_measurement": "EUR/kWh", "forecast": forecast(evening)})
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE, price_entity=PRICE)
    async with charger(port_of(entry), "CP-P", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        hub_of(entry).central.set_charger_limits("CP-P", max_current=16, phases=3)
        started = await cp.start_transaction(1, "CARD", 0)
        await cp.status(1, "Charging")
        await plan_settings(hass, "06:00:00", 22)
        await set_mode(hass, "CP-P", "plan")
        sender = runtime_of(entry).site.sender
        await settle(lambda: bool(limits(cp)) and sender.idle, "the first site limit")
        assert limits(cp)[-1] == 0  # 18:00: expensive, the plan waits

        # 2 h at 16 A on three phases (11.04 kW) deliver 22 kWh: 00:00 to about 02:00.
        cost = full_state(hass, "CP-P_1_plan_cost")
        assert float(cost.state) == 2.31  # 11.04 kWh at 0.10 and 10.96 kWh at 0.11
        assert cost.attributes["unit_of_measurement"] == "EUR"
        assert cost.attributes["meets_target"] is True
        planned = cost.attributes["planned_intervals"]
        assert [dt_util.as_local(datetime.fromisoformat(i["start"])).hour for i in planned] == [0, 1]
        assert [i["price"] for i in planned] == [0.1, 0.11]

        car = Car(cp, started.transaction_id)
        drawn = await run_night(hass, freezer, car, 12 * 6, sender)
    charged_hours = sorted({hour for hour, amperes in drawn if amperes > 0})
    assert charged_hours == [0, 1]
    assert all(amperes == 16.0 for _hour, amperes in drawn if amperes > 0)
    # Met by departure (06:00), and not charged after.
    assert car.wh >= 22_000
    assert state(hass, "CP-P_1_charging_mode", "select") == "plan"


async def test_without_a_forecast_a_plan_charges_at_once(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    grid(hass, 5, 5, 5)
    entry = await setup_entry(**SITE, fixed_price=0.3)
    async with charger(port_of(entry), "CP-P", cls=SiteCharger) as cp:
        assert isinstance(cp, SiteCharger)
        await plugged_in(hass, entry, cp)
        await cp.start_transaction(1, "CARD", 0)
        await plan_settings(hass, "06:00:00", 10)
        await set_mode(hass, "CP-P", "plan")
        sender = runtime_of(entry).site.sender
        await settle(lambda: bool(limits(cp)) and sender.idle, "the first site limit")
        assert limits(cp)[-1] == 19.0  # as `fast`: what the fuse leaves
        cost = full_state(hass, "CP-P_1_plan_cost")
        assert cost.state == "unknown"
        assert cost.attributes["reason"] == "no_forecast"
        # Back to manual: the plan is dropped.
        await set_mode(hass, "CP-P", "manual")
        await hass.async_block_till_done()
        assert full_state(hass, "CP-P_1_plan_cost").attributes["planned_intervals"] == []
