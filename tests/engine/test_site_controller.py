"""The site controller against the main fuse: two chargers on a 25 A fuse, house load changing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custom_components.ocpp_cs.engine.site import GridReading, Mode, SiteConfig

from .site_harness import Site, connector

FUSE = SiteConfig(main_fuse_current=25, margin=1)


def two_fast(**changes: object) -> Site:
    return Site(
        FUSE,
        connector("a", Mode.FAST, max_current=16, **changes),
        connector("b", Mode.FAST, max_current=16, **changes),
    )


def test_two_chargers_share_the_fuse_as_the_house_load_changes() -> None:
    site = two_fast()
    site.house = [5.0, 5.0, 5.0]
    site.step()
    # 25 - 1 margin - 5 house = 19 A per phase, shared equally
    assert (site.limit("a"), site.limit("b")) == (9.5, 9.5)
    assert max(site.grid_currents()) <= 24

    site.house = [10.0, 10.0, 10.0]  # the oven: 29 A on the grid until the chargers follow
    result = site.step()
    assert [(d.key[0], d.limit, d.urgent, d.reason) for d in result.decisions] == [
        ("a", 7.0, True, "fuse"),
        ("b", 7.0, True, "fuse"),
    ]
    assert max(site.grid_currents()) <= 24

    site.house = [2.0, 2.0, 2.0]
    site.run(299)
    # After a lowering for the fuse, raises wait five minutes (fuse_hold): a cycling oven
    # costs one message per cycle, not two
    assert (site.now, site.limit("a")) == (301.0, 7.0)
    site.step()
    assert (site.limit("a"), site.limit("b")) == (11.0, 11.0)


def test_lower_priority_pauses_first_when_minimums_do_not_fit() -> None:
    site = two_fast()
    site.set("a", priority=3)
    site.set("b", priority=7)
    site.house = [2.0, 2.0, 2.0]
    site.step()
    assert (site.limit("a"), site.limit("b")) == (6.0, 16.0)  # b first up to its maximum

    site.house = [12.0, 12.0, 12.0]  # 12 A left: two minimums of 6 A fit, nothing more
    site.step()
    assert (site.limit("a"), site.limit("b")) == (6.0, 6.0)

    site.house = [14.0, 14.0, 14.0]  # 10 A left: one minimum
    result = site.step()
    assert (site.limit("a"), site.limit("b")) == (0.0, 6.0)
    assert {d.key[0]: d.urgent for d in result.decisions} == {"a": True}
    assert result.targets[("a", 1)].fuse_limited
    assert result.targets[("b", 1)].limit == 10.0  # b's raise waits out the fuse hold
    site.run(300)
    assert (site.limit("a"), site.limit("b")) == (0.0, 10.0)


def test_equal_priorities_pause_the_later_one_and_keep_the_charging_one() -> None:
    site = two_fast()
    site.house = [15.0, 15.0, 15.0]  # 9 A: one minimum
    site.step()
    assert (site.limit("a"), site.limit("b")) == (9.0, 0.0)
    site.set("b", priority=6)
    site.step()
    assert (site.limit("a"), site.limit("b")) == (0.0, 9.0)


def test_small_changes_wait_for_the_threshold_and_refresh_before_expiry() -> None:
    site = Site(SiteConfig(main_fuse_current=25, margin=1, fuse_hold=0), connector("a", Mode.FAST, max_current=32))
    site.house = [5.0, 5.0, 5.0]
    site.step()
    assert site.limit("a") == 19.0
    site.house = [5.3, 5.3, 5.3]  # 0.3 A less headroom: the margin covers it
    assert site.step().decisions == ()
    site.house = [5.6, 5.6, 5.6]  # 0.6 A less: lowered at once, to whole amperes
    result = site.step()
    assert [(d.limit, d.urgent) for d in result.decisions] == [(18.0, True)]
    fuse_at = site.now
    site.house = [5.3, 5.3, 5.3]  # 18.7 A: 0.7 A more, held for a minute and a minute after the send
    site.run(60)
    assert site.limit("a") == 18.0
    site.step()
    assert (site.now - fuse_at, site.limit("a")) == (61.0, 18.7)
    site.house = [5.0, 5.0, 5.0]  # 0.3 A more: not worth a message
    site.run(int(FUSE.refresh_interval) - 1)
    assert site.limit("a") == 18.7
    site.step()  # the profile is refreshed before it expires, with the limit in force
    assert site.sent[-1][1].reason == "refresh"
    assert site.limit("a") == 18.7
    site.house = [5.4, 5.4, 5.4]  # 0.1 A less than in force: a refresh carries a small lowering
    site.run(int(FUSE.refresh_interval))
    assert site.sent[-1][1].reason == "refresh"
    assert site.limit("a") == 18.6


def test_a_raise_must_hold_for_the_raise_delay() -> None:
    site = Site(SiteConfig(main_fuse_current=25, margin=1), connector("a", Mode.FAST, max_current=32))
    site.house = [10.0, 10.0, 10.0]
    site.step()
    site.run(100)
    assert site.limit("a") == 14.0
    for _ in range(5):  # a load that switches off for 40 s at a time raises nothing
        site.house = [5.0, 5.0, 5.0]
        site.run(40)
        site.house = [10.0, 10.0, 10.0]
        site.run(40)
    assert [d.limit for _, d in site.sent] == [14.0, 14.0]  # the start and a refresh
    site.house = [5.0, 5.0, 5.0]
    site.run(60)
    assert site.limit("a") == 14.0
    site.step()  # held for a full minute
    assert site.limit("a") == 19.0


def test_over_the_fuse_even_small_lowerings_go_out() -> None:
    site = Site(SiteConfig(main_fuse_current=25, margin=0), connector("a", Mode.FAST, max_current=32))
    site.house = [5.0, 5.0, 5.0]
    site.step()
    assert site.limit("a") == 20.0
    # Without a margin, 0.3 A more on L1 puts it over the fuse: lowered at once, however little
    result = site.step(grid=GridReading(at=site.now + 1, currents=(25.3, 25.0, 25.0)))
    assert [(d.limit, d.urgent, d.reason) for d in result.decisions] == [(19.0, True, "fuse")]


def test_manual_connectors_are_never_in_the_output_and_count_as_house_load() -> None:
    manual = connector("m", Mode.MANUAL)
    site = Site(FUSE, connector("a", Mode.FAST, max_current=32), manual)
    site.house = [16.0, 16.0, 16.0]  # the manual charger's 16 A included
    for _ in range(400):
        result = site.step()
        assert all(d.key[0] != "m" for d in result.decisions)
        assert ("m", 1) not in result.targets
    assert site.limit("a") == 8.0
    assert site.connectors[("m", 1)].sent is None


def test_off_pauses_and_unplugged_connectors_leave_the_room_to_others() -> None:
    site = two_fast()
    site.house = [5.0, 5.0, 5.0]
    site.step()
    site.set("a", mode=Mode.OFF)
    result = site.step()
    assert site.limit("a") == 0.0
    assert ("a", 1) in {d.key for d in result.decisions}
    site.run(60)
    assert site.limit("b") == 16.0
    site.set("a", mode=Mode.FAST, vehicle_connected=False)
    site.run(120)
    assert (site.limit("a"), site.limit("b")) == (0.0, 16.0)


@pytest.mark.parametrize("reports", [True, False])
def test_chargers_that_report_nothing_count_at_their_last_limit(reports: bool) -> None:
    site = two_fast()
    site.reports = reports
    site.house = [5.0, 5.0, 5.0]
    site.step()
    site.house = [10.0, 10.0, 10.0]
    result = site.step()
    assert (site.limit("a"), site.limit("b")) == (7.0, 7.0)
    assert result.charging_power == pytest.approx(2 * 9.5 * 3 * 230)


def test_a_charger_that_has_not_followed_yet_is_neither_lowered_again_nor_raised() -> None:
    site = Site(SiteConfig(main_fuse_current=25, margin=1, fuse_hold=0), connector("a", Mode.FAST, max_current=32))
    site.house = [10.0, 10.0, 10.0]
    site.step()
    assert site.limit("a") == 14.0
    lowered = site.connectors[("a", 1)]
    # Still drawing 19 A (the car is slow to follow): the grid shows 29 A, the meter 19 A
    for _ in range(5):
        site.now += 1
        reading = GridReading(at=site.now, currents=(29.0, 29.0, 29.0))
        result = site.controller.step(site.now, reading, [replace(lowered, measured_current=(19.0, 19.0, 19.0))])
        assert result.decisions == ()
        assert result.targets[("a", 1)].limit == 14.0
    # It follows, but its last MeterValues still say 19 A: the headroom looks 5 A larger than it is
    for _ in range(30):
        site.now += 1
        reading = GridReading(at=site.now, currents=(24.0, 24.0, 24.0))
        result = site.controller.step(site.now, reading, [replace(lowered, measured_current=(19.0, 19.0, 19.0))])
        assert result.decisions == ()
    site.now += 1
    reading = GridReading(at=site.now, currents=(24.0, 24.0, 24.0))
    result = site.controller.step(site.now, reading, [replace(lowered, measured_current=(14.0, 14.0, 14.0))])
    assert result.decisions == ()
    assert result.targets[("a", 1)].limit == 14.0


def test_stale_or_unavailable_grid_sensor_falls_back_and_recovers() -> None:
    site = Site(
        SiteConfig(main_fuse_current=25, margin=1, fallback_current=6),
        connector("a", Mode.FAST, max_current=16),
        connector("b", Mode.OFF),
        connector("c", Mode.SOLAR, vehicle_connected=False),
    )
    site.house = [5.0, 5.0, 5.0]
    site.step()
    assert (site.limit("a"), site.limit("b"), site.limit("c")) == (16.0, 0.0, 0.0)
    site.grid_at = site.now  # the sensor stops updating
    results = site.run(60)
    assert not any(r.grid_stale for r in results)
    result = site.step()
    assert result.grid_stale
    assert result.headroom_current is None and result.surplus_power is None
    assert {d.key[0]: (d.limit, d.urgent, d.reason) for d in result.decisions} == {
        "a": (6.0, True, "fallback"),
        "c": (6.0, False, "fallback"),
    }
    assert site.limit("b") == 0.0  # off stays off
    assert site.step(grid=False).grid_stale  # unavailable: the same
    assert site.step(grid=GridReading(at=site.now + 1)).grid_stale  # a reading without values
    site.grid_at = None
    result = site.step()
    assert not result.grid_stale
    assert site.limit("c") == 0.0  # solar without a car: paused again


def test_power_only_grid_sensor() -> None:
    site = two_fast()
    site.power_only = True
    site.house = [5.0, 5.0, 5.0]
    site.step()
    assert (site.limit("a"), site.limit("b")) == (9.5, 9.5)
    assert site.step().headroom_current == pytest.approx(1.0)
    site.house = [10.0, 10.0, 10.0]
    site.step()
    assert (site.limit("a"), site.limit("b")) == (7.0, 7.0)


def test_site_sensors() -> None:
    site = Site(FUSE, connector("a", Mode.FAST, max_current=16), connector("s", Mode.SOLAR))
    site.house = [3.0, 3.0, 3.0]
    site.solar = 14000.0
    site.step()
    assert site.limit("s") == 0.0  # solar waits for its start delay
    result = site.step()
    assert result.headroom_current == pytest.approx(25 - (3 + 16 - 14000 / 690), abs=0.01)
    assert result.surplus_power == pytest.approx(14000 - 3 * 230 * 19, abs=1)  # export, below 6 A on 3 phases
    assert result.decisions == ()
    assert result.charging_power == pytest.approx(16 * 690)


def test_single_phase_site_and_single_phase_chargers() -> None:
    site = Site(
        SiteConfig(main_fuse_current=40, site_phases=1, margin=1),
        connector("a", Mode.FAST, max_current=32),
        connector("b", Mode.FAST, max_current=32, wired_phases=(1,)),
    )
    site.house = [9.0]
    site.step()
    assert (site.limit("a"), site.limit("b")) == (15.0, 15.0)
    assert site.phases("a") == 1


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="site_phases"):
        SiteConfig(main_fuse_current=25, site_phases=2)
    with pytest.raises(ValueError, match="main_fuse_current"):
        SiteConfig(main_fuse_current=0)
    with pytest.raises(ValueError, match="refresh_before"):
        SiteConfig(main_fuse_current=25, profile_ttl=60, refresh_before=60)
