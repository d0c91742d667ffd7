"""The Home Assistant side of scripts/bench: the integration in a test instance, driven from outside.

Not part of the suite (the file name does not start with `test_`): scripts/bench runs it with
pytest, connects its simulated chargers to the port it announces and asks for figures over
a control socket (see scripts/benchmark.py). Event loop debug mode (which the test harness
turns on) is off, the recorder writes to a SQLite file, and the integration's Store writes to
disk as in a real installation.
"""

from __future__ import annotations

import _sqlite3
import asyncio
from collections.abc import Callable, Generator
import ctypes
import logging
import os
from pathlib import Path
import sys
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, MATCH_ALL
from homeassistant.core import Event, HomeAssistant, StateMachine, callback
from homeassistant.helpers import entity_registry as er, storage
from homeassistant.helpers.json import json_bytes
from homeassistant.helpers.recorder import DATA_INSTANCE
import pytest

from .conftest import EntryFactory, hub_of, port_of

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import benchmark

# Captured at import, before the harness's storage mock replaces it.
_REAL_WRITE = storage.Store._async_write_data
# Home Assistant logs at WARNING by default; the harness logs every SQL statement at INFO.
logging.getLogger().setLevel(logging.WARNING)
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Override the harness: debug mode makes asyncio several times slower."""
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture(autouse=True)
def no_deprecated_api_reports() -> None:
    """Override conftest's check: it reads caplog, and the benchmark runs with `-p no:logging`."""


@pytest.fixture
def recorder_db_url(tmp_path_factory: pytest.TempPathFactory) -> Generator[str]:
    """A SQLite file, as a default installation has."""
    yield "sqlite:///" + str(tmp_path_factory.mktemp("recorder") / "home-assistant_v2.db")


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """The recorder's defaults (the harness commits after every event otherwise)."""
    return {"commit_interval": 5}


def sqlite_memory_used() -> int:
    """Return the bytes SQLite holds (its page caches: the recorder's database), outside Python's heap."""
    function = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    function.restype = ctypes.c_int64
    return int(function())


def count_state_writes(hass: HomeAssistant) -> Callable[[], dict[str, int]]:
    """Count every state write (changed or not) and every state change."""
    counts = {"state_writes": 0, "state_changes": 0}
    original = StateMachine.async_set_internal

    def counting(self: StateMachine, *args: Any, **kwargs: Any) -> None:
        counts["state_writes"] += 1
        original(self, *args, **kwargs)

    StateMachine.async_set_internal = counting  # type: ignore[method-assign]

    @callback
    def changed(_event: Event) -> None:
        counts["state_changes"] += 1

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, changed)
    if os.environ.get("BENCH_EVENT_TYPES"):  # which events fire (costs a listener for every event)

        @callback
        def any_event(event: Event) -> None:
            key = f"event:{event.event_type}"
            counts[key] = counts.get(key, 0) + 1

        hass.bus.async_listen(MATCH_ALL, any_event)

    def restore() -> None:
        StateMachine.async_set_internal = original  # type: ignore[method-assign]
        unsubscribe()

    counts_fn: Callable[[], dict[str, int]] = lambda: dict(counts)  # noqa: E731
    counts_fn.restore = restore  # type: ignore[attr-defined]
    return counts_fn


async def serve(hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Path) -> None:
    # `ha-proxied`: local controller mode, relayed to the bare upstream the benchmark started.
    upstream = os.environ.get("BENCH_UPSTREAM_URL")
    entry = await setup_entry(**({"upstream_url": upstream} if upstream else {}))
    hub = hub_of(entry)
    # The harness keeps every Store's data in memory. Here the integration's own Store goes to
    # disk; the others (registries) are serialised in the executor and dropped, which is what a
    # real write costs the process (their files live in the harness's package directory).
    mocked_write = storage.Store._async_write_data
    hub._store.path = str(tmp_path / "ocpp_cs.storage")

    async def write(store: storage.Store[Any], data: dict[str, Any]) -> None:
        if store is hub._store:
            await _REAL_WRITE(store, data)
            return
        if "data_func" in data:
            data["data"] = data.pop("data_func")()
        await hass.async_add_executor_job(json_bytes, data)

    storage.Store._async_write_data = write  # type: ignore[method-assign]
    counts = count_state_writes(hass)

    async def settle() -> None:
        await hass.async_block_till_done()
        # What the recorder holds until its next commit (every 5 s) is not the chargers' to keep.
        if (instance := hass.data.get(DATA_INSTANCE)) is not None:
            await instance.async_block_till_done()

    def stats() -> dict[str, Any]:
        registry = er.async_get(hass)
        return {
            **counts(),
            "states": len(hass.states.async_all()),
            "registry_entries": len(registry.entities),
            "sqlite_bytes": sqlite_memory_used(),
        }

    control = benchmark.ControlServer(stats=stats, settle=settle)
    control_port = await control.start()
    benchmark.announce_ready(port_of(entry), control_port)
    try:
        await control.stopped.wait()
    finally:
        counts.restore()  # type: ignore[attr-defined]
        await control.close()
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        storage.Store._async_write_data = mocked_write  # type: ignore[method-assign]


async def test_serve_with_recorder(
    recorder_mock: Any, hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Path
) -> None:
    await serve(hass, setup_entry, tmp_path)


async def test_serve_without_recorder(hass: HomeAssistant, setup_entry: EntryFactory, tmp_path: Path) -> None:
    await serve(hass, setup_entry, tmp_path)
