"""The measured figure of scripts/site_bench: fuse lowerings from the grid sensor update to the charger.

Not part of the suite (the file name does not start with `test_`). Home Assistant with one
ocpp_cs entry (a 25 A fuse for two chargers, more for more; three grid current sensors) and N
simulated chargers connected over real WebSockets on 127.0.0.1, all in fast mode. Each round
the house load jumps so far above the fuse that no charger's minimum fits: every charger must
get a pause at that sensor update. The time from the state write to each charger's receipt of
its SetChargingProfile is one sample (the chargers run in the same process and loop: their own
handling counts too). Then the load falls back, the Site options are touched (a new
controller, without the fuse hold) and the chargers resume before the next round.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from typing import Any

from homeassistant.core import HomeAssistant
import pytest

from .charger import charger
from .conftest import EntryFactory, port_of, runtime_of
from .test_site import GRID, STEERING, SiteCharger, grid, limits, plugged_in, set_mode


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Override the harness: debug mode makes asyncio several times slower."""
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture(autouse=True)
def no_deprecated_api_reports() -> None:
    """Override conftest's check: it reads caplog, and the benchmark runs with `-p no:logging`."""


class TimedCharger(SiteCharger):
    """Notes when each SetChargingProfile arrives (perf_counter, the same clock as the writer's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, float]] = []  # (when, limit) of each steering profile

    async def _answer(self, action: str, default: str, **request: Any) -> str:
        if action == "SetChargingProfile" and request["profile"]["charging_profile_id"] == STEERING:
            limit = float(request["profile"]["charging_schedule"]["charging_schedule_period"][0]["limit"])
            self.arrivals.append((time.perf_counter(), limit))
        return await super()._answer(action, default, **request)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def wait(predicate: Any, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_fuse_lowering_latency(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    chargers = int(os.environ.get("SITE_BENCH_CHARGERS", "2"))
    rounds = int(os.environ.get("SITE_BENCH_ROUNDS", "100"))
    # Room for every charger's minimum and more above a 5 A house load (25 A for two).
    fuse = max(25, 7 * chargers + 6)
    grid(hass, 5, 5, 5)
    entry = await setup_entry(main_fuse_current=fuse, grid_current_entities=list(GRID), solar_start_delay=60)
    site = runtime_of(entry).site
    port = port_of(entry)
    sims: list[TimedCharger] = []
    contexts = [charger(port, f"CP-{n}", cls=TimedCharger) for n in range(1, chargers + 1)]
    for context in contexts:
        sim = await context.__aenter__()
        assert isinstance(sim, TimedCharger)
        sims.append(sim)
    try:
        for sim in sims:
            await plugged_in(hass, entry, sim)
            await set_mode(hass, sim.id, "fast")
        await wait(lambda: all(limits(sim) and limits(sim)[-1] > 0 for sim in sims) and site.sender.idle)
        samples: list[float] = []
        for round_ in range(rounds):
            drawn = sum(limits(sim)[-1] for sim in sims)
            before = [len(sim.arrivals) for sim in sims]
            # The house takes more than the fuse on every phase: nothing is left for any minimum.
            house = fuse + 5
            started = time.perf_counter()
            grid(hass, house + drawn, house + drawn, house + drawn)
            await wait(lambda before=before: all(len(s.arrivals) > b for s, b in zip(sims, before, strict=True)))
            for sim, count in zip(sims, before, strict=True):
                when, limit = sim.arrivals[count]
                assert limit == 0.0, limit
                samples.append(when - started)
            await wait(lambda: site.sender.idle)
            # Back to 5 A of house load, and a new controller (no fuse hold): all resume.
            grid(hass, house, house, house)
            hass.config_entries.async_update_entry(
                entry, options={**entry.options, "solar_start_delay": 60 + (round_ % 2) + 1}
            )
            grid(hass, 5, 5, 5)
            await wait(lambda: all(limits(sim)[-1] > 0 for sim in sims) and site.sender.idle)
    finally:
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)
    report = {
        "chargers": chargers,
        "rounds": rounds,
        "samples": len(samples),
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
        "over_1s": sum(1 for s in samples if s > 1.0),
    }
    print("\nSITE_BENCH " + json.dumps(report))
