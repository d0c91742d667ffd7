"""A crash loses no stopped session: the history file is never far behind, and the state fills the gap.

Home Assistant killed at any moment keeps two files of ours: the state (written before every
StartTransaction and StopTransaction is answered) and the history (written soon after, in the
background). These scenarios play a crash as "the files as they were on disk at that moment"
and check that what the chargers were told is on record, once, after the restart.
scripts/crash_test does the same with a real Home Assistant process, SIGKILL and 20 chargers.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ocpp_cs import history as history_glue, hub as hub_module
from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.central import RECENT_TRANSACTIONS
from custom_components.ocpp_cs.engine.persist import DelayedSave

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .helpers import wait_for
from .test_history import get_transactions


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Played:
    """A session as the charger saw it: what it sent and the id it was answered."""

    charge_point_id: str
    connector_id: int
    meter_start: int
    meter_stop: int
    start: datetime
    stop: datetime
    transaction_id: int = 0


async def send_stop(cp: SimCharger, session: Played) -> None:
    await cp.send(
        call.StopTransaction(
            transaction_id=session.transaction_id, meter_stop=session.meter_stop, timestamp=iso(session.stop)
        )
    )


async def play_sessions(cp: SimCharger, charge_point_id: str, count: int, base: datetime) -> list[Played]:
    """Play `count` short sessions back to back, each answered before the next."""
    played = []
    register = 10_000
    for number in range(count):
        start = base + timedelta(minutes=10 * number)
        session = Played(charge_point_id, 1, register, register + 100 + number, start, start + timedelta(minutes=5))
        answer = await cp.start_transaction(1, "CARD", session.meter_start, timestamp=iso(session.start))
        session.transaction_id = answer.transaction_id
        await send_stop(cp, session)
        register = session.meter_stop
        played.append(session)
    return played


def keys(entry: MockConfigEntry) -> tuple[str, str]:
    """Return the Store keys of an entry: its state and its history."""
    return f"{DOMAIN}.{entry.entry_id}", f"{DOMAIN}.{entry.entry_id}.history"


def on_disk(hass_storage: dict[str, Any], entry: MockConfigEntry) -> dict[str, Any]:
    """Return the entry's files as they are on disk now (what a SIGKILL leaves)."""
    return {key: copy.deepcopy(hass_storage[key]) for key in keys(entry) if key in hass_storage}


async def crash_and_restart(hass: HomeAssistant, hass_storage: dict[str, Any], entry: MockConfigEntry) -> None:
    """Restart the entry from the files as they were at this moment, not as a clean stop leaves them."""
    files = on_disk(hass_storage, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for key in keys(entry):
        hass_storage.pop(key, None)
    hass_storage.update(files)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


def recorded(records: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """Return the energy (Wh) of each recorded session, by charger and transaction id."""
    return {(r["charge_point_id"], r["transaction_id"]): round(r["energy"] * 1000) for r in records}


async def test_delayed_save_is_not_put_off_by_a_stream_of_changes() -> None:
    """A change every 10 ms, a delay of 50 ms: written every 50 ms or so, not once at the end."""
    loop = asyncio.get_running_loop()
    changes: list[float] = []
    writes: list[tuple[float, int]] = []

    async def save() -> None:
        writes.append((loop.time(), len(changes)))

    saver = DelayedSave(save, 0.05)
    began = loop.time()
    while loop.time() - began < 0.6:
        changes.append(loop.time())
        saver.schedule()
        await asyncio.sleep(0.01)
    # The first write came about `delay` after the first change, in the middle of the stream.
    assert writes
    assert writes[0][0] - changes[0] < 0.05 + 0.2
    assert 0 < writes[0][1] < len(changes)
    assert len(writes) >= 3
    # No change waited much longer than the delay (plus a loaded machine's slack) for its write.
    for index, change in enumerate(changes[: writes[-1][1]]):
        written_at = next(moment for moment, count in writes if count > index)
        assert written_at - change < 0.05 + 0.2
    # flush writes at once what is pending; the timer is gone.
    saver.schedule()
    assert saver.pending
    await saver.flush()
    assert not saver.pending
    assert writes[-1][1] == len(changes)
    written = len(writes)
    await asyncio.sleep(0.08)
    assert len(writes) == written


async def test_a_failed_delayed_write_is_logged_and_the_next_change_tries_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[int] = []

    async def save() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk full")

    saver = DelayedSave(save, 0.01)
    saver.schedule()
    await wait_for(lambda: len(attempts) == 1, timeout=2, what="the first write")
    await asyncio.sleep(0.02)
    assert "Delayed write failed" in caplog.text
    saver.schedule()
    await wait_for(lambda: len(attempts) == 2, timeout=2, what="the second write")


async def test_a_burst_of_stops_survives_a_crash_before_the_history_is_written(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """More stops than the state keeps for replays, then a crash: the state held on to every one."""
    # The history is never written before the crash (the kill came first, however busy the site).
    monkeypatch.setattr(history_glue, "STORAGE_SAVE_DELAY", 3600)
    entry = await setup_entry()
    state_key, history_key = keys(entry)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    per_charger = 55
    ids = [f"CP-B{number}" for number in range(5)]

    async def one(number: int, charge_point_id: str) -> list[Played]:
        async with charger(port_of(entry), charge_point_id) as cp:
            await cp.boot()
            return await play_sessions(cp, charge_point_id, per_charger, base + timedelta(seconds=number))

    played = [s for sessions in await asyncio.gather(*(one(n, c) for n, c in enumerate(ids))) for s in sessions]
    assert len(played) == 5 * per_charger > RECENT_TRANSACTIONS
    central = hub_of(entry).central
    # Every answered stop is in the state on disk, the 200 kept for replays and all the others.
    assert history_key not in hass_storage
    assert len(hass_storage[state_key]["data"]["recent_transactions"]) == len(played)
    assert len(central.recent_transactions) == len(played)

    await crash_and_restart(hass, hass_storage, entry)
    expected = {(s.charge_point_id, s.transaction_id): s.meter_stop - s.meter_start for s in played}
    records = await get_transactions(hass, config_entry_id=entry.entry_id)
    assert len(records) == len(played)
    assert recorded(records) == expected
    assert len({r["transaction_id"] for r in records}) == len(played)

    # Answers lost in the crash: the chargers send their last stops again; nothing is recorded twice.
    async with charger(port_of(entry), "CP-B0") as cp:
        await cp.boot()
        for session in [s for s in played if s.charge_point_id == "CP-B0"][:3]:
            await send_stop(cp, session)
    assert recorded(await get_transactions(hass, config_entry_id=entry.entry_id)) == expected

    # Once a history holding them is on disk, the state keeps only the last 200 again.
    central = hub_of(entry).central
    assert len(central.recent_transactions) == len(played)
    await runtime_of(entry).history.async_flush()
    assert len(hass_storage[history_key]["data"]["records"]) == len(played)
    assert len(central.recent_transactions) == RECENT_TRANSACTIONS

    # A second crash now (state written before the trim or after): still every session, once.
    await crash_and_restart(hass, hass_storage, entry)
    assert recorded(await get_transactions(hass, config_entry_id=entry.entry_id)) == expected


async def test_the_history_file_follows_a_stream_of_stops_within_the_delay(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stops keep coming faster than the delay: the history is written anyway, and the state trimmed."""
    monkeypatch.setattr(history_glue, "STORAGE_SAVE_DELAY", 0.25)
    entry = await setup_entry()
    state_key, history_key = keys(entry)
    central = hub_of(entry).central
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    written_during: list[int] = []
    total = RECENT_TRANSACTIONS + 60
    async with charger(port_of(entry), "CP-S") as cp:
        await cp.boot()
        register = 0
        for number in range(total):
            start = base + timedelta(minutes=10 * number)
            session = Played("CP-S", 1, register, register + 10, start, start + timedelta(minutes=1))
            answer = await cp.start_transaction(1, "CARD", register, timestamp=iso(start))
            session.transaction_id = answer.transaction_id
            await send_stop(cp, session)
            register = session.meter_stop
            if history_key in hass_storage:
                written_during.append(len(hass_storage[history_key]["data"]["records"]))
    assert any(0 < count < total for count in written_during), "the history was not written during the stream"
    await wait_for(lambda: len(hass_storage[history_key]["data"]["records"]) == total, timeout=5, what="final write")
    assert len(central.recent_transactions) == RECENT_TRANSACTIONS
    assert len(hass_storage[state_key]["data"]["recent_transactions"]) >= RECENT_TRANSACTIONS


async def test_home_assistant_stopping_writes_the_pending_history(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop Home Assistant did not write yet is in the history file after a normal shutdown."""
    monkeypatch.setattr(history_glue, "STORAGE_SAVE_DELAY", 3600)
    entry = await setup_entry()
    _, history_key = keys(entry)
    async with charger(port_of(entry), "CP-H") as cp:
        await cp.boot()
        (session,) = await play_sessions(cp, "CP-H", 1, datetime.now(UTC).replace(microsecond=0))
    assert history_key not in hass_storage
    await hass.async_stop()
    records = hass_storage[history_key]["data"]["records"]
    assert [(r["transaction_id"], r["meter_stop"]) for r in records] == [(session.transaction_id, session.meter_stop)]


async def test_the_state_file_follows_a_stream_of_changes_within_the_delay(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status changes keep coming faster than the delay: the state is written anyway, not put off."""
    monkeypatch.setattr(hub_module, "STORAGE_SAVE_DELAY", 0.3)
    entry = await setup_entry()
    state_key, _ = keys(entry)
    infos_on_disk: set[str | None] = set()
    async with charger(port_of(entry), "CP-ST") as cp:
        await cp.boot()
        for number in range(30):
            await cp.status(1, "Charging", info=f"step {number}")
            await asyncio.sleep(0.05)
            if state_key in hass_storage:
                (stored,) = (c for c in hass_storage[state_key]["data"]["chargers"] if c["charge_point_id"] == "CP-ST")
                infos_on_disk.update(c.get("info") for c in stored["connectors"] if c["connector_id"] == 1)
    # A debounce would have written nothing until the stream ended (1.5 s > 0.3 s).
    assert infos_on_disk - {None}, "the state was not written during the stream"
