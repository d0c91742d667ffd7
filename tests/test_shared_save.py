"""SharedSave (engine/persist.py): one write for every caller that came before it started, and
what its callers are told when the write fails or is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.ocpp_cs.engine.persist import SharedSave


async def test_callers_share_writes_and_learn_of_failures_and_cancellation() -> None:
    running = asyncio.Event()
    release = asyncio.Event()
    outcome: list[BaseException | None] = [None]
    snapshots = 0

    async def save() -> None:
        nonlocal snapshots
        snapshots += 1
        running.set()
        await release.wait()
        if outcome[0] is not None:
            raise outcome[0]

    saver = SharedSave(save)

    # Three callers while a write runs: the first has it, the other two share the next one.
    first = asyncio.ensure_future(saver.save())
    await running.wait()
    running.clear()
    second, third = asyncio.ensure_future(saver.save()), asyncio.ensure_future(saver.save())
    release.set()
    await asyncio.gather(first, second, third)
    assert (saver.writes, snapshots) == (2, 2)

    # A failed write: its caller is told why.
    running.clear()
    release.clear()
    outcome[0] = OSError("disk full")
    failing = asyncio.ensure_future(saver.save())
    await running.wait()
    running.clear()
    release.set()
    with pytest.raises(OSError, match="disk full"):
        await failing

    # A write cancelled under way (Home Assistant going down): its callers, and those waiting
    # for the next write, are cancelled too rather than left waiting.
    running.clear()
    release.clear()
    outcome[0] = asyncio.CancelledError()
    cancelled = asyncio.ensure_future(saver.save())
    await running.wait()
    running.clear()
    queued = asyncio.ensure_future(saver.save())
    await asyncio.sleep(0)  # it waits for the next write
    release.set()
    for waiter in (cancelled, queued):
        with pytest.raises(asyncio.CancelledError):
            await waiter

    # ... with nobody waiting for a next one, likewise.
    running.clear()
    release.clear()
    alone = asyncio.ensure_future(saver.save())
    await running.wait()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await alone

    # Writing goes on afterwards; the queued caller's write never started.
    outcome[0] = None
    await saver.save()
    assert saver.writes == 6
