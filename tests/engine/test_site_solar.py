"""Solar modes: start and stop delays, following the surplus, priorities, 1 <-> 3 phase switching."""

from __future__ import annotations

from custom_components.ocpp_cs.engine.site import Mode, SiteConfig

from .site_harness import Site, connector

CONFIG = SiteConfig(main_fuse_current=25, margin=1)  # start 60 s, stop 300 s, changes a minute apart


def sunny(*connectors: object, house: float = 1.0, sun: float = 6000.0) -> Site:
    site = Site(CONFIG, *connectors)  # type: ignore[arg-type]
    site.house = [house] * 3
    site.solar = sun
    return site


def test_solar_starts_after_the_start_delay_follows_the_surplus_and_pauses_after_the_stop_delay() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16))
    site.step()  # t=1: the surplus (5310 W) gives the 4140 W minimum on three phases
    assert site.limit("s") == 0.0
    site.run(59)
    assert site.limit("s") == 0.0
    site.step()  # t=61: a minute of surplus
    assert site.limit("s") == 7.6  # 5310 W / 690 V

    site.solar = 9000.0
    site.run(59)
    assert site.limit("s") == 7.6
    site.step()  # t=121: a minute after the last send
    assert site.limit("s") == 12.0

    site.solar = 2000.0  # clouds: 1310 W, below the minimum
    site.run(300)
    assert site.limit("s") == 6.0  # the minimum from the grid while the stop delay runs
    site.step()
    assert site.limit("s") == 0.0

    site.solar = 6000.0  # sun again: the start delay again
    site.run(60)
    assert site.limit("s") == 0.0
    site.step()
    assert site.limit("s") == 7.6


def test_a_short_dip_does_not_pause_and_a_short_peak_does_not_start() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16))
    site.run(61)
    site.solar = 1000.0
    site.run(200)
    site.solar = 6000.0
    site.run(300)
    assert all(d.limit > 0 for _, d in site.sent[1:])

    site = sunny(connector("s", Mode.SOLAR, max_current=16), sun=1000.0)
    site.run(10)
    site.solar = 6000.0
    site.run(30)
    site.solar = 1000.0
    site.run(100)
    assert site.limit("s") == 0.0


def test_fuse_first_even_in_the_middle_of_the_stop_delay() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16))
    site.run(61)
    site.solar = 0.0
    site.run(100)
    assert site.limit("s") == 6.0  # holding the minimum, 200 s of the stop delay left
    site.house = [19.5, 19.5, 19.5]  # 25 - 1 - 19.5 = 4.5 A: no room for the minimum
    result = site.step()
    assert [(d.limit, d.urgent, d.reason) for d in result.decisions] == [(0.0, True, "fuse")]


def test_min_solar_charges_the_minimum_at_all_times_plus_the_surplus() -> None:
    site = sunny(connector("m", Mode.MIN_SOLAR, max_current=16), sun=0.0)
    site.step()
    assert site.limit("m") == 6.0  # no sun, no delay
    site.solar = 9000.0
    site.run(60)
    assert site.limit("m") == 6.0  # a raise waits until the surplus has held for a minute
    site.step()
    assert site.limit("m") == 12.0  # (9000 - 690) W / 690 V
    site.solar = 0.0
    site.run(60)
    assert site.limit("m") == 6.0  # and never paused


def test_the_surplus_goes_to_the_higher_priority_first() -> None:
    site = sunny(
        connector("hi", Mode.SOLAR, max_current=16, priority=8),
        connector("lo", Mode.SOLAR, max_current=16, priority=2),
        sun=7000.0,
    )
    site.run(61)  # 6310 W: one minimum, not two
    assert (site.limit("hi"), site.limit("lo")) == (9.1, 0.0)
    site.solar = 20000.0
    site.run(120)
    # 19310 W: both minimums, then hi up to 16 A, lo the rest
    assert (site.limit("hi"), site.limit("lo")) == (16.0, 11.9)


def test_fast_takes_what_it_needs_before_solar_sees_a_surplus() -> None:
    site = sunny(connector("f", Mode.FAST, max_current=16), connector("s", Mode.SOLAR, max_current=16), sun=9000.0)
    site.run(120)
    # 9000 W of sun minus 690 W of house leaves 8310 W: the fast car's 11 040 W take it all
    assert (site.limit("f"), site.limit("s")) == (16.0, 0.0)


def test_a_car_charging_when_its_mode_becomes_solar_goes_on_until_the_stop_delay() -> None:
    site = sunny(connector("c", Mode.FAST, max_current=16), sun=0.0)
    site.step()
    assert site.limit("c") == 16.0
    site.set("c", mode=Mode.SOLAR)
    site.run(300)
    assert site.limit("c") == 6.0
    site.step()
    assert site.limit("c") == 0.0


def test_three_phase_charger_switches_to_one_phase_and_back_at_most_every_five_minutes() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16, can_switch_phases=True), house=0.5, sun=2500.0)
    result = site.step()  # t=1: 2155 W: the minimum fits one phase only; paused, so at once
    assert [(d.limit, d.phases, d.number_phases) for d in result.decisions] == [(0.0, 1, 1)]
    site.run(59)
    site.step()  # t=61
    assert (site.limit("s"), site.phases("s")) == (9.3, 1)  # 2155 W / 230 V

    site.run(38)
    site.solar = 7000.0  # t=100: enough for three phases
    site.run(201)  # the start delay is over at t=160, but the last switch was at t=1
    assert site.phases("s") == 1
    site.step()  # t=301
    assert site.phases("s") == 3
    assert site.sent[-1][1].number_phases == 3

    site.run(99)
    site.solar = 2500.0  # t=401: one phase's worth again
    site.run(300)
    assert site.now == 700
    assert (site.limit("s"), site.phases("s")) == (6.0, 3)  # the minimum on three phases meanwhile
    site.step()  # t=701: the stop delay is over: one phase, still charging
    assert site.phases("s") == 1
    assert site.limit("s") == 9.3

    phases = [(t, d.phases) for t, d in site.sent]
    assert [change for i, change in enumerate(phases) if i == 0 or change[1] != phases[i - 1][1]] == [
        (1, 1),
        (301, 3),
        (701, 1),
    ]


def test_a_charger_that_cannot_switch_waits_for_three_phases_worth() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16), house=0.5, sun=2500.0)
    site.run(400)
    assert (site.limit("s"), site.phases("s")) == (0.0, 3)
    assert all(d.number_phases is None for _, d in site.sent)


def test_back_to_manual_forgets_the_connector_and_a_restart_keeps_the_phases_it_sent() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16, can_switch_phases=True), house=0.5, sun=2500.0)
    site.run(61)
    assert (site.limit("s"), site.phases("s")) == (9.3, 1)
    assert site.controller.phases(site.connectors[("s", 1)]) == 1
    site.set("s", mode=Mode.MANUAL)
    assert site.step().targets == {}
    site.set("s", mode=Mode.SOLAR)
    site.run(59)  # steered again while charging: it goes on, nothing to send
    assert [d.reason for _, d in site.sent[2:]] == []
    # Home Assistant restarts: a new controller, fed the limit the charger last accepted
    restarted = Site(CONFIG, site.connectors[("s", 1)])
    restarted.house, restarted.solar, restarted.now = site.house, site.solar, site.now
    assert restarted.controller.phases(site.connectors[("s", 1)]) == 1
    restarted.step()
    assert restarted.phases("s") == 1


def test_fast_mode_goes_back_to_all_phases_once_the_switch_interval_allows() -> None:
    site = sunny(connector("s", Mode.SOLAR, max_current=16, can_switch_phases=True), house=0.5, sun=2500.0)
    site.run(61)
    assert site.phases("s") == 1  # switched at t=1
    site.set("s", mode=Mode.FAST)
    site.run(239)
    assert (site.now, site.phases("s")) == (300.0, 1)
    site.step()
    assert (site.phases("s"), site.limit("s")) == (3, 16.0)
