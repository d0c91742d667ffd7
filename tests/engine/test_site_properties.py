"""Properties of the site controller for any site: the fuse is never over-allocated."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from custom_components.ocpp_cs.engine.site import (
    ConnectorInput,
    GridReading,
    Mode,
    SentLimit,
    SiteConfig,
    SiteController,
)

MODES = [Mode.FAST, Mode.SOLAR, Mode.MIN_SOLAR, Mode.OFF, Mode.MANUAL]


@st.composite
def connectors(draw: st.DrawFn, index: int) -> ConnectorInput:
    wired = draw(st.sampled_from([(1, 2, 3), (1,), (2,), (3,), (2, 3, 1)]))
    low = draw(st.sampled_from([6.0, 8.0]))
    measured = draw(st.none() | st.tuples(*[st.floats(0, 32)] * len(wired)))
    sent = draw(st.none() | st.builds(SentLimit, limit=st.floats(0, 32), phases=st.just(len(wired)), at=st.just(0.0)))
    return ConnectorInput(
        charge_point_id=f"cp{index}",
        connector_id=1,
        mode=draw(st.sampled_from(MODES)),
        priority=draw(st.integers(0, 10)),
        min_current=low,
        max_current=draw(st.floats(low, 32)),
        wired_phases=wired,
        can_switch_phases=draw(st.booleans()),
        measured_current=measured,
        sent=sent,
        vehicle_connected=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None, database=None)
@given(
    fuse=st.floats(16, 63),
    grid=st.tuples(*[st.floats(-40, 70)] * 3),
    site=st.integers(1, 4).flatmap(lambda n: st.tuples(*[connectors(i) for i in range(n)])),
)
def test_targets_never_exceed_the_headroom_and_respect_min_and_max(
    fuse: float, grid: tuple[float, float, float], site: tuple[ConnectorInput, ...]
) -> None:
    config = SiteConfig(main_fuse_current=fuse, margin=1)
    controller = SiteController(config)
    result = controller.step(100.0, GridReading(at=100.0, currents=grid), list(site))
    steered = [c for c in site if c.steered]
    assert set(result.targets) == {c.key for c in steered}
    allocated = [0.0, 0.0, 0.0]
    draws = [0.0, 0.0, 0.0]
    for connector in steered:
        target = result.targets[connector.key]
        assert target.limit == 0 or connector.min_current - 1e-9 <= target.limit <= connector.max_current + 1e-9
        if connector.mode is Mode.OFF or not connector.vehicle_connected:
            assert target.limit == 0
        for index in controller.phase_indices(connector, target.phases):
            allocated[index] += target.limit
        if connector.measured_current is not None:
            for value, phase in zip(connector.measured_current, controller.wired(connector), strict=False):
                draws[phase - 1] += value
        elif connector.sent is not None:
            for index in controller.phase_indices(connector, connector.sent.phases):
                draws[index] += connector.sent.limit
    for phase in range(3):
        headroom = fuse - config.margin - (grid[phase] - draws[phase])
        assert allocated[phase] <= max(0.0, headroom) + 1e-6
    for decision in result.decisions:
        assert decision.key in result.targets
        assert decision.limit <= result.targets[decision.key].limit + 1e-9 or not decision.urgent
