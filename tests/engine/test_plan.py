"""The `plan` mode: the cheapest intervals that deliver the target by departure, re-planned on change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from custom_components.ocpp_cs.engine.costs import (
    Plan,
    PlanInput,
    Planner,
    PriceInterval,
    make_plan,
    steer_plan,
)
from custom_components.ocpp_cs.engine.site import ConnectorInput, Mode, SiteConfig, SiteDecision

from .site_harness import Site, connector

NOON = datetime(2026, 12, 4, 12, tzinfo=UTC)
# A winter day-ahead curve from noon to noon: evening peak, cheap night, morning peak (EUR/kWh).
DAY = [0.21, 0.20, 0.22, 0.27, 0.31, 0.36, 0.38, 0.33, 0.28, 0.24, 0.19, 0.15,
       0.11, 0.09, 0.07, 0.06, 0.08, 0.12, 0.18, 0.29, 0.34, 0.30, 0.25, 0.22]  # fmt: skip


def hour(n: float) -> datetime:
    return NOON + timedelta(hours=n)


FORECAST = tuple(PriceInterval(hour(n), hour(n + 1), Decimal(str(price))) for n, price in enumerate(DAY))


def test_a_simulated_day_charges_in_the_cheapest_hours_and_meets_the_target_by_departure() -> None:
    """The car arrives at 17:30, leaves at 07:00, wants 30 kWh; 16 A on three phases is 11.04 kW."""
    departure = hour(19)
    planner = Planner()
    delivered = 0.0
    cost = Decimal(0)
    charged_hours: set[int] = set()
    now = hour(5.5)
    connector = ConnectorInput(charge_point_id="cp1", connector_id=1, mode=Mode.FAST)
    while now < departure:
        plan = planner.update(
            PlanInput(now=now, departure=departure, target_energy_kwh=30, delivered_kwh=delivered, forecast=FORECAST)
        )
        if steer_plan(connector, plan, now).mode is Mode.FAST:
            energy = 11.04 / 60  # one minute at the site's 16 A
            delivered += energy
            index = int((now - NOON).total_seconds() // 3600)
            cost += Decimal(str(energy)) * FORECAST[index].price
            charged_hours.add(index)
        now += timedelta(minutes=1)

    assert delivered == pytest.approx(30, abs=11.04 / 60)  # met, to within the last minute's energy
    assert delivered >= 30 - 1e-9
    # 03:00 (0.06), 02:00 (0.07) and part of 04:00 (0.08): the three cheapest hours of the night.
    assert charged_hours == {index for index, _ in sorted(enumerate(DAY), key=lambda item: item[1])[:3]}
    assert charged_hours == {14, 15, 16}
    first = make_plan(PlanInput(now=hour(5.5), departure=departure, target_energy_kwh=30, forecast=FORECAST))
    assert first.reason == "planned" and first.meets_target
    assert first.expected_cost is not None
    # The cheapest possible: 11.04 kWh at 0.07 and at 0.06, and 7.92 kWh at 0.08.
    assert first.expected_cost == Decimal("2.07")
    # What the simulated minutes cost: the plan's estimate, give or take the last minute's energy.
    assert abs(cost - first.expected_cost) <= Decimal("0.02")


def test_a_slower_car_gets_more_hours_and_still_meets_the_target() -> None:
    """The car takes 7.4 kW (it reports its rate only while charging); the site allows 11.04 kW."""
    departure = hour(19)
    planner = Planner()
    delivered = 0.0
    charged_hours: set[int] = set()
    now = hour(5.5)
    charging = False
    while now < departure:
        plan = planner.update(
            PlanInput(
                now=now,
                departure=departure,
                target_energy_kwh=30,
                delivered_kwh=delivered,
                forecast=FORECAST,
                measured_power_kw=7.4 if charging else None,
            )
        )
        charging = plan.charge_at(now)
        if charging:
            delivered += 7.4 / 60
            charged_hours.add(int((now - NOON).total_seconds() // 3600))
        now += timedelta(minutes=1)
    assert delivered >= 30 - 1e-9
    assert delivered == pytest.approx(30, abs=2 * 7.4 / 60)
    # Planned at 11.04 kW (02:00-04:43), the rate is learnt when the car first charges at 02:00:
    # re-planned then, it gets the cheapest hours left (00:00 and 01:00 are past by then).
    assert charged_hours == {14, 15, 16, 17, 18}  # 0.06, 0.07, 0.08, 0.12, 0.18; 05:00 costs 0.29


def test_the_plan_itself() -> None:
    plan = make_plan(PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=30, forecast=FORECAST))
    assert [(i.start, i.end) for i in plan.intervals] == [
        (hour(14), hour(15)),
        (hour(15), hour(16)),
        (hour(16), hour(16) + timedelta(hours=7.92 / 11.04)),  # the last one partial, from its start
    ]
    assert sum(i.energy_kwh for i in plan.intervals) == pytest.approx(30)
    assert not plan.charge_at(hour(5.5))
    assert plan.charge_at(hour(14.5))
    assert plan.intervals[0].as_attribute() == {
        "start": "2026-12-05T02:00:00+00:00",
        "end": "2026-12-05T03:00:00+00:00",
        "price": 0.07,
        "energy": 11.04,
    }


def test_the_cars_measured_rate_and_the_site_current_set_the_rate() -> None:
    slow = PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=30, forecast=FORECAST, measured_power_kw=7.4)
    assert slow.rate_kw == 7.4
    plan = make_plan(slow)
    assert len(plan.intervals) == 5  # four full hours at 7.4 kW and a partial one
    single = PlanInput(now=hour(0), departure=hour(1), target_energy_kwh=1, allowed_current=10, phases=1)
    assert single.rate_kw == pytest.approx(2.3)
    capped = PlanInput(now=hour(0), departure=hour(1), target_energy_kwh=1, allowed_current=6, measured_power_kw=11)
    assert capped.rate_kw == pytest.approx(4.14)  # the car could take more than the site allows


def test_no_forecast_charges_at_once() -> None:
    plan = make_plan(PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=11.04))
    assert plan.reason == "no_forecast"
    assert plan.charge_at(hour(5.5))
    assert plan.expected_cost is None
    assert plan.intervals[0].end == hour(6.5)
    assert plan.meets_target


def test_a_forecast_that_ends_before_departure() -> None:
    today = FORECAST[:12]  # until midnight: tomorrow's prices not published yet
    enough = make_plan(PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=10, forecast=today))
    assert enough.reason == "planned"
    assert enough.intervals[0].start == hour(11)  # 23:00 at 0.15, the cheapest before midnight
    short = make_plan(PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=80, forecast=today))
    assert short.reason == "short_forecast" and short.charge_at(hour(5.5))
    later = make_plan(PlanInput(now=hour(-2), departure=hour(3), target_energy_kwh=5, forecast=FORECAST))
    assert later.reason == "short_forecast"  # the forecast starts after now: the first hours are unknown


def test_too_little_time_charges_throughout_and_says_so() -> None:
    plan = make_plan(PlanInput(now=hour(0), departure=hour(2), target_energy_kwh=50, forecast=FORECAST))
    assert plan.reason == "too_late" and not plan.meets_target
    assert [(i.start, i.end) for i in plan.intervals] == [(hour(0), hour(1)), (hour(1), hour(2))]
    past = make_plan(PlanInput(now=hour(3), departure=hour(2), target_energy_kwh=5, forecast=FORECAST))
    assert past.reason == "too_late" and past.charge_at(hour(3))


def test_nothing_to_do() -> None:
    done = make_plan(PlanInput(now=hour(0), departure=hour(5), target_energy_kwh=10, delivered_kwh=10.5))
    assert done == Plan((), Decimal(0), True, "done")
    stuck = make_plan(PlanInput(now=hour(0), departure=hour(5), target_energy_kwh=10, allowed_current=0))
    assert stuck.reason == "no_rate" and not stuck.charge_at(hour(0))


def test_the_planner_re_plans_only_when_an_input_changes() -> None:
    planner = Planner()
    base = PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=30, forecast=FORECAST)
    plan = planner.update(base)
    same = PlanInput(now=hour(6), departure=hour(19), target_energy_kwh=30, delivered_kwh=0, forecast=FORECAST)
    assert planner.update(same) is plan
    jitter = PlanInput(now=hour(6), departure=hour(19), target_energy_kwh=30, forecast=FORECAST, measured_power_kw=10.6)
    assert planner.update(jitter) is plan  # within 10 % of the rate planned with
    slower = PlanInput(now=hour(6), departure=hour(19), target_energy_kwh=30, forecast=FORECAST, measured_power_kw=7)
    assert planner.update(slower) is not plan
    plan = planner.update(slower)
    cheaper = tuple(PriceInterval(i.start, i.end, i.price / 2 if i.start == hour(7) else i.price) for i in FORECAST)
    changed = PlanInput(now=hour(6), departure=hour(19), target_energy_kwh=30, forecast=cheaper, measured_power_kw=7)
    assert planner.update(changed) is not plan
    plan = planner.update(changed)
    earlier = PlanInput(now=hour(6), departure=hour(17), target_energy_kwh=30, forecast=cheaper, measured_power_kw=7)
    assert planner.update(earlier) is not plan


def test_steering_a_plan_connector() -> None:
    connector = ConnectorInput(charge_point_id="cp1", connector_id=1, mode=Mode.MANUAL, priority=7)
    plan = make_plan(PlanInput(now=hour(5.5), departure=hour(19), target_energy_kwh=30, forecast=FORECAST))
    assert steer_plan(connector, plan, hour(5.5)).mode is Mode.OFF
    steered = steer_plan(connector, plan, hour(14))
    assert steered.mode is Mode.FAST and steered.priority == 7


def test_the_site_controller_charges_a_plan_connector_in_its_intervals_and_the_fuse_still_wins() -> None:
    site = Site(SiteConfig(main_fuse_current=25, margin=1), connector("p", Mode.OFF, max_current=16))
    site.house = [12.0] * 3
    start = hour(13.5)  # 01:30; the controller's clock counts seconds from here

    def follow_plan(plan: Plan) -> SiteDecision:
        moment = start + timedelta(seconds=site.now + 1)
        site.set("p", mode=steer_plan(site.connectors[("p", 1)], plan, moment).mode)
        return site.step()

    plan = make_plan(PlanInput(now=start, departure=hour(19), target_energy_kwh=5, forecast=FORECAST))
    assert plan.intervals[0].start == hour(15)  # 03:00, the cheapest hour
    follow_plan(plan)
    assert site.limit("p") == 0.0  # not yet: paused until 03:00

    site.now = 1.5 * 3600 - 1  # 03:00
    result = follow_plan(plan)
    assert site.limit("p") == 12.0  # charging, but only what the fuse leaves: 25 - 1 - 12 A
    target = result.targets[("p", 1)]
    assert target.fuse_limited
    # Re-planned with the current the site allows: 12 A on three phases, 8.28 kW.
    replanned = Planner().update(
        PlanInput(now=start, departure=hour(19), target_energy_kwh=5, forecast=FORECAST, allowed_current=target.limit)
    )
    assert replanned.intervals[0].end == hour(15) + timedelta(hours=5 / 8.28)

    site.house = [20.0] * 3  # the oven: the fuse lowers the plan's connector like any other
    follow_plan(plan)
    assert site.limit("p") == 0.0  # 4 A left is below the 6 A minimum: paused

    site.house = [12.0] * 3
    site.run(400)  # the oven is off: back after the controller's fuse hold (300 s) and raise delay
    assert site.limit("p") == 12.0
    assert site.now < 1.5 * 3600 + 5 / 11.04 * 3600  # still in the planned interval

    site.now = 1.5 * 3600 + 5 / 11.04 * 3600  # the planned interval ends
    follow_plan(plan)
    assert site.limit("p") == 0.0
