"""Chargers that misbehave, flood, vanish, come back all at once or replay the past; and a stopping Home Assistant.

In every scenario: the right CALLERROR or nothing, no exception reaches the event loop (the
harness fails the test on one), the other chargers keep working and no transaction is lost.
Bad frames that tests/test_server.py covers (invalid JSON, unknown actions, wrong field
types, oversized frames, ...) are not repeated here.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
import contextlib
from datetime import UTC, datetime, timedelta
from functools import partial
import gc
import json
import logging
import tracemalloc
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er, storage
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events, flush_store

from custom_components.ocpp_cs.const import DOMAIN, EVENT_TRANSACTION_STARTED, EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.state_writes import CHUNK

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import SILENT, ControlCharger
from .helpers import call_frame, device_id, entity_id, has_entity, state, wait_for
from .raw_charger import RawCharger, raw_charger


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def heartbeat_works(cp: SimCharger) -> None:
    assert (await cp.send(call.Heartbeat())).current_time



# --- frames -------------------------------------------------------------------------------------


async def test_empty_binary_and_odd_message_type_frames(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub_of(entry).boot_grace_seconds = 3600
    async with raw_charger(port_of(entry), "CP-ODD") as odd, charger(port_of(entry), "CP-OK") as good:
        await good.boot()
        cases: list[tuple[str | bytes, str, str]] = [
            ("", "FormationViolation", "-1"),
            ("   ", "FormationViolation", "-1"),
            (b"", "FormationViolation", "-1"),
            (b"\xff\xfe\x00garbage", "FormationViolation", "-1"),
            ("null", "ProtocolError", "-1"),
            ("[]", "ProtocolError", "-1"),
            ("{}", "ProtocolError", "-1"),
            (json.dumps([0, "m-0", "Heartbeat", {}]), "ProtocolError", "m-0"),
            (json.dumps([5, "m-5", "Heartbeat", {}]), "ProtocolError", "m-5"),
            (json.dumps(["2", "m-s", "Heartbeat", {}]), "ProtocolError", "m-s"),
            (json.dumps([None, "m-n", "Heartbeat", {}]), "ProtocolError", "m-n"),
            (json.dumps([True, "m-t", "Heartbeat", {}]), "ProtocolError", "m-t"),
            (json.dumps([[2], "m-l", "Heartbeat", {}]), "ProtocolError", "m-l"),
            (json.dumps([2, "m-a", 17, {}]), "ProtocolError", "m-a"),
            (json.dumps([2, "m-x", "Heartbeat", {}, "extra"]), "ProtocolError", "m-x"),
            (json.dumps([2, "m-p", "StatusNotification", None]), "FormationViolation", "m-p"),
            (json.dumps([2, "m-u", "Heartbeat\u0000", {}]), "NotImplemented", "m-u"),
        ]
        for number, (frame, code, unique_id) in enumerate(cases, start=1):
            await odd.send(frame)
            answers = await odd.wait_answers(number)
            answer = answers[-1]
            assert answer[0] == 4, (frame, answer)
            assert (answer[1], answer[2]) == (unique_id, code), (frame, answer)
        # A call in a binary frame is still a call (UTF-8 JSON), answered like any other.
        await odd.send(json.dumps([2, "bin-1", "Heartbeat", {}]).encode())
        answer = (await odd.wait_answers(len(cases) + 1))[-1]
        assert answer[:2] == [3, "bin-1"]
        assert "currentTime" in answer[2]
        # Nothing more was sent than one answer per frame.
        await heartbeat_works(good)
        await asyncio.sleep(0.1)
        assert len(odd.answers) == len(cases) + 1
        assert odd.unparsable == []


class StrayAnswers(ControlCharger):
    """Before answering ClearCache it sends answers to calls nobody made (more than Python's recursion limit)."""

    strays = 1500

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> Any:
        for number in range(self.strays):
            await self._connection.send(json.dumps([3, f"stray-{number}", {"status": "Rejected"}]))
        await self._connection.send(json.dumps([4, "stray-error", "GenericError", "nobody asked", {}]))
        return call_result.ClearCache(status="Accepted")


async def test_answers_to_calls_nobody_made_are_dropped(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-STRAY", cls=StrayAnswers) as cp:
        await cp.boot()
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        session = hub.central.sessions["CP-STRAY"]
        # Between calls: nothing waits for them, nothing keeps them.
        for number in range(3000):
            await cp.connection.send(json.dumps([3, f"idle-{number}", {}]))
        await cp.connection.send(json.dumps([4, "idle-error", "GenericError", "", {}]))
        await heartbeat_works(cp)
        assert session.answers_kept == 0
        # During a call: the strays do not answer it (nor exhaust the recursion of the wait).
        answer = await hass.services.async_call(
            DOMAIN, "clear_cache", {"device_id": device_id(hass, "CP-STRAY")}, blocking=True, return_response=True
        )
        assert answer == {"status": "Accepted"}
        assert session.answers_kept == 0
        await heartbeat_works(cp)


async def test_a_charger_that_sends_faster_than_we_answer(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub_of(entry).boot_grace_seconds = 3600
    async with raw_charger(port_of(entry), "CP-FLOOD") as flood, charger(port_of(entry), "CP-CALM") as calm:
        await flood.call("boot", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Flood"})
        await calm.boot()
        now = datetime.now(UTC)
        frames = []
        for number in range(300):
            unique_id = f"f-{number}"
            kind = number % 5
            if kind == 0:
                frames.append(call_frame("Heartbeat", {}, unique_id))
            elif kind == 1:
                frames.append(call_frame("StatusNotification", {
                    "connectorId": 1, "errorCode": "NoError", "status": "Charging",
                    "timestamp": iso(now + timedelta(milliseconds=number)),
                }, unique_id))
            elif kind == 2:
                frames.append(call_frame("MeterValues", {"connectorId": 1, "meterValue": [{
                    "timestamp": iso(now + timedelta(milliseconds=number)),
                    "sampledValue": [{"value": str(1000 + number), "measurand": "Energy.Active.Import.Register"}],
                }]}, unique_id))
            elif kind == 3:
                frames.append(call_frame("Authorize", {"idTag": "X" * 30}, unique_id))  # too long
            else:
                frames.append(call_frame("NoSuchAction", {}, unique_id))
        # All of them at once, without waiting for a single answer.
        await asyncio.gather(*(flood.send(frame) for frame in frames))
        # Meanwhile, the other charger is served.
        await heartbeat_works(calm)
        answers = await flood.wait_answers(301, timeout=30)
        assert [answer[1] for answer in answers[1:]] == [f"f-{number}" for number in range(300)]
        for number, answer in enumerate(answers[1:]):
            assert answer[0] == (3 if number % 5 in (0, 1, 2) else 4), answer
        await hass.async_block_till_done()
        assert state(hass, "CP-FLOOD_1_status") == "charging"
        reading = hub_of(entry).central.chargers["CP-FLOOD"].connectors[1].meters["energy_active_import_register"]
        assert reading.value == 1000 + 297  # the last one (number 297) is kept exactly
        assert float(state(hass, "CP-FLOOD_1_energy_active_import_register")) == pytest.approx(1.297)
        await asyncio.sleep(0.2)
        assert len(flood.answers) == 301
        # Invented action names, hundreds of them: each answered, the session's memory of them bounded.
        await asyncio.gather(*(flood.send(call_frame(f"Made-Up-{number}", {}, f"u-{number}")) for number in range(500)))
        answers = await flood.wait_answers(801, timeout=30)
        assert {answer[2] for answer in answers[301:]} == {"NotImplemented"}
        assert len(hub_of(entry).central.sessions["CP-FLOOD"]._logged_errors) <= 64


# --- connections that end at the wrong moment ----------------------------------------------------


async def test_charger_disconnects_in_the_middle_of_its_own_call(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    timestamp = iso(datetime.now(UTC) - timedelta(seconds=5))
    start = {"connectorId": 1, "idTag": "CARD", "meterStart": 100, "timestamp": timestamp}
    async with raw_charger(port_of(entry), "CP-GONE") as gone:
        await gone.call("boot", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Gone"})
        # Sent, and the connection closed before the answer could come back.
        await gone.send(call_frame("StartTransaction", start, "start-1"))
        await gone.connection.close()
    await wait_for(lambda: "CP-GONE" not in hub.central.sessions, what="session closed")
    await hass.async_block_till_done()
    # The transaction was recorded all the same, and it is on disk.
    opened = [t for t in hub.central.open_transactions.values() if t.charge_point_id == "CP-GONE"]
    assert len(opened) == 1
    assert len(started) == 1
    # The charger never saw the answer: it sends the StartTransaction again after reconnecting.
    async with raw_charger(port_of(entry), "CP-GONE") as back:
        answer = await back.call("start-1", "StartTransaction", start)
        assert answer[0] == 3
        assert answer[2]["transactionId"] == opened[0].transaction_id
    await hass.async_block_till_done()
    assert len(started) == 1
    assert len([t for t in hub.central.open_transactions.values() if t.charge_point_id == "CP-GONE"]) == 1


async def test_charger_disconnects_while_we_wait_for_its_answer(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-OTHER", cls=ControlCharger) as other:
        await other.boot()
        async with charger(port_of(entry), "CP-MUTE", cls=ControlCharger) as mute:
            assert isinstance(mute, ControlCharger)
            await mute.boot()
            await mute.status(1, "Available")
            await hass.async_block_till_done()
            mute.answers["ClearCache"] = SILENT
            pending = hass.async_create_task(
                hass.services.async_call(
                    DOMAIN, "clear_cache", {"device_id": device_id(hass, "CP-MUTE")}, blocking=True
                )
            )
            await wait_for(lambda: any(action == "ClearCache" for action, _ in mute.received), what="ClearCache")
            began = asyncio.get_running_loop().time()
            await mute.connection.close()
            # The action ends at once (not after the 30 s response timeout): the charger is gone,
            # and the error says that it went with the request unanswered, not that it was unsent.
            with pytest.raises(HomeAssistantError) as raised:
                await asyncio.wait_for(pending, 5)
            assert raised.value.translation_key == "disconnected_before_answer"
            assert raised.value.translation_placeholders == {"charge_point_id": "CP-MUTE", "action": "ClearCache"}
            assert str(raised.value) == (
                "Charger CP-MUTE disconnected before answering ClearCache: it was sent, whether the charger"
                " carried it out is unknown"  # (Home Assistant drops the final period)
            )
            assert asyncio.get_running_loop().time() - began < 5
        assert "CP-MUTE" not in hub.central.sessions
        # The other charger was not disturbed.
        answer = await hass.services.async_call(
            DOMAIN, "clear_cache", {"device_id": device_id(hass, "CP-OTHER")}, blocking=True, return_response=True
        )
        assert answer == {"status": "Accepted"}


async def test_a_hundred_chargers_reconnect_at_the_same_moment(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    port = port_of(entry)
    ids = [f"CP-{number:03d}" for number in range(100)]

    async def connect_and_boot(charge_point_id: str) -> RawCharger:
        cm = raw_charger(port, charge_point_id)
        cp = await cm.__aenter__()
        cp.__dict__["cm"] = cm
        answer = await cp.call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Storm"})
        assert answer[2]["status"] == "Accepted"
        return cp

    first = await asyncio.gather(*(connect_and_boot(charge_point_id) for charge_point_id in ids))
    await hass.async_block_till_done()
    assert len(hub.central.sessions) == 100
    # Every charger comes back at the same moment (its old connection still open): all replaced.
    second = await asyncio.gather(*(connect_and_boot(charge_point_id) for charge_point_id in ids))
    for old in first:
        await asyncio.wait_for(old.connection.wait_closed(), 10)
        assert old.connection.close_code == 1000
    await hass.async_block_till_done()
    assert len(hub.central.sessions) == 100
    for number, cp in enumerate(second):
        answer = await cp.call(f"h{number}", "Heartbeat", {})
        assert answer[0] == 3
    assert state(hass, "CP-042_0_connected", "binary_sensor") == "on"
    # And all of them drop at the same moment.
    await asyncio.gather(*(cp.__dict__["cm"].__aexit__(None, None, None) for cp in second))
    for cp in first:
        await cp.__dict__["cm"].__aexit__(None, None, None)
    await wait_for(lambda: not hub.central.sessions, timeout=15, what="all sessions closed")
    await hass.async_block_till_done()
    assert state(hass, "CP-042_0_connected", "binary_sensor") == "off"
    assert all(not hub.central.chargers[charge_point_id].connected for charge_point_id in ids)


# --- the past, replayed --------------------------------------------------------------------------


async def test_charger_replays_two_hundred_queued_messages_after_being_offline(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    now = datetime.now(UTC)
    went_offline = now - timedelta(minutes=40)
    first_start = {"connectorId": 1, "idTag": "CARD", "meterStart": 1000, "timestamp": iso(went_offline)}
    async with raw_charger(port_of(entry), "CP-Q") as cp:
        await cp.call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Queue"})
        await cp.call("s0", "StatusNotification", {
            "connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": iso(went_offline),
        })
        answer = await cp.call("t0", "StartTransaction", first_start)
        first_id = answer[2]["transactionId"]
    await wait_for(lambda: "CP-Q" not in hub.central.sessions, what="offline")

    # While offline the charger queued: readings, the end of that session, a new session with
    # its own readings and end, and statuses; it sends them oldest first when it is back, and
    # (having lost answers) some twice.
    queued: list[tuple[str, dict[str, Any]]] = [("StartTransaction", first_start)]  # its answer was lost
    for minute in range(0, 180):
        moment = went_offline + timedelta(seconds=10 * minute)
        queued.append(("MeterValues", {"connectorId": 1, "transactionId": first_id, "meterValue": [{
            "timestamp": iso(moment),
            "sampledValue": [
                {"value": str(1000 + 10 * minute), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": str(7000 + minute), "measurand": "Power.Active.Import", "unit": "W"},
            ],
        }]}))
    stop_time = went_offline + timedelta(minutes=31)
    queued.append(("StopTransaction", {
        "transactionId": first_id, "meterStop": 2800, "timestamp": iso(stop_time), "reason": "EVDisconnected",
    }))
    queued.append(("StatusNotification", {
        "connectorId": 1, "errorCode": "NoError", "status": "Finishing", "timestamp": iso(stop_time),
    }))
    queued.append(("StatusNotification", {
        "connectorId": 1, "errorCode": "NoError", "status": "Available",
        "timestamp": iso(stop_time + timedelta(seconds=30)),
    }))
    second_start = {
        "connectorId": 1, "idTag": "CARD-2", "meterStart": 2800,
        "timestamp": iso(stop_time + timedelta(minutes=2)),
    }
    queued.append(("StartTransaction", second_start))
    queued.append(("StartTransaction", second_start))  # the same, again: its answer was lost too
    # A late copy of an old status: older than what is known by then.
    queued.append(("StatusNotification", {
        "connectorId": 1, "errorCode": "NoError", "status": "Charging",
        "timestamp": iso(went_offline + timedelta(minutes=5)),
    }))
    while len(queued) < 200:
        queued.append(("Heartbeat", {}))
    assert len(queued) == 200

    async with raw_charger(port_of(entry), "CP-Q") as cp, charger(port_of(entry), "CP-BYSTANDER") as bystander:
        await bystander.boot()
        answers = []
        for number, (action, payload) in enumerate(queued):
            answers.append(await cp.call(f"q{number}", action, payload))
        assert all(answer[0] == 3 for answer in answers), [a for a in answers if a[0] != 3][:3]
        await heartbeat_works(bystander)
        await hass.async_block_till_done()
        # Statuses did not go back in time; the newest reading is shown (Wh in kWh), and the power
        # read during the first session ended with it (issue 19: no stale power).
        assert state(hass, "CP-Q_1_status") == "available"
        assert float(state(hass, "CP-Q_1_energy_active_import_register")) == pytest.approx((1000 + 1790) / 1000)
        assert float(state(hass, "CP-Q_1_power_active_import")) == 0

    # The first session: one transaction, the replayed start got its id, stopped once.
    assert answers[0][2]["transactionId"] == first_id
    second_ids = {answer[2]["transactionId"] for answer in answers if answer[2].get("transactionId") != first_id
                  and "transactionId" in answer[2]}
    assert len(second_ids) == 1, "the replayed StartTransaction must not open a second transaction"
    second_id = second_ids.pop()
    assert [event.data["transaction_id"] for event in started] == [first_id, second_id]
    assert [event.data["transaction_id"] for event in stopped] == [first_id]
    assert stopped[0].data["energy"] == pytest.approx(1.8)
    open_ids = [t.transaction_id for t in hub.central.open_transactions.values() if t.charge_point_id == "CP-Q"]
    assert open_ids == [second_id]
    connector = hub.central.chargers["CP-Q"].connectors[1]
    assert connector.status == "Available"
    # The readings: each kept exactly, the newest stays.
    assert connector.meters["energy_active_import_register"].value == 1000 + 10 * 179


# --- durability and shutdown ----------------------------------------------------------------------


async def test_concurrent_transaction_starts_share_writes_and_none_is_lost(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    count = 30
    chargers = []
    for number in range(count):
        cm = raw_charger(port_of(entry), f"CP-T{number:02d}")
        cp = await cm.__aenter__()
        chargers.append((cm, cp))
    try:
        await asyncio.gather(*(
            cp.call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "T"})
            for _, cp in chargers
        ))
        writes_before = hub.central._shared_save.writes
        answers = await asyncio.gather(*(
            cp.call("start", "StartTransaction", {
                "connectorId": 1, "idTag": f"TAG{number}", "meterStart": number, "timestamp": iso(datetime.now(UTC)),
            })
            for number, (_, cp) in enumerate(chargers)
        ))
    finally:
        for cm, _ in chargers:
            await cm.__aexit__(None, None, None)
    ids = [answer[2]["transactionId"] for answer in answers]
    assert len(set(ids)) == count
    # Each answer went out after a write that holds its transaction; writes were shared.
    writes = hub.central._shared_save.writes - writes_before
    assert 1 <= writes < count
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert {t["transaction_id"] for t in stored["open_transactions"]} >= set(ids)


async def test_home_assistant_stops_while_chargers_are_connected(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-S1") as one, charger(port_of(entry), "CP-S2") as two:
        await one.boot()
        await two.boot()
        started = await one.start_transaction(1, "CARD", 500)
        await two.status(1, "Charging")
        await hass.async_stop()
        for cp in (one, two):
            await asyncio.wait_for(cp.connection.wait_closed(), 10)
            assert cp.connection.close_code == 1001
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]
    assert started.transaction_id in {t["transaction_id"] for t in stored["open_transactions"]}


@callback
def count_entity(counter: Counter[str], event: Event[Any]) -> None:
    counter[event.data["entity_id"]] += 1


@pytest.mark.parametrize("how", ["home_assistant_stops", "entry_unloads"])
async def test_two_hundred_connected_chargers_go_away_quietly(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    """Every charger disconnects at once, and all their entities go away: nothing is written for them.

    200 chargers that booted and sent a voltage have 4,000 entities. Their disconnects used to
    write every one of them, and update the registry entries of the power limits (whose maximum
    follows the voltage), in the middle of Home Assistant's shutdown.
    """
    # Debug mode (the harness's) makes 200 connections and 4,000 entities several times slower.
    asyncio.get_running_loop().set_debug(False)
    entry = await setup_entry()
    hub_of(entry).boot_grace_seconds = 3600
    port = port_of(entry)
    voltage = {"connectorId": 0, "meterValue": [{
        "timestamp": iso(datetime.now(UTC)), "sampledValue": [{"value": "228", "measurand": "Voltage", "unit": "V"}],
    }]}
    async with contextlib.AsyncExitStack() as stack:

        async def connect_and_boot(number: int) -> RawCharger:
            cp = await stack.enter_async_context(raw_charger(port, f"CP-{number:03d}"))
            answer = await cp.call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "Crowd"})
            assert answer[2]["status"] == "Accepted"
            await cp.call("m", "MeterValues", voltage)
            return cp

        chargers = await asyncio.gather(*(connect_and_boot(number) for number in range(200)))
        await hass.async_block_till_done()
        registry = er.async_get(hass)
        ours = {registered.entity_id for registered in er.async_entries_for_config_entry(registry, entry.entry_id)}
        assert len(ours) >= 200 * 20
        assert state(hass, "CP-199_0_connected", "binary_sensor") == "on"
        written: Counter[str] = Counter()
        registry_updates: Counter[str] = Counter()

        @callback
        def is_ours(data: Mapping[str, Any]) -> bool:
            return data["entity_id"] in ours

        for event_type, counter in (
            (EVENT_STATE_CHANGED, written),
            (EVENT_STATE_REPORTED, written),
            (er.EVENT_ENTITY_REGISTRY_UPDATED, registry_updates),
        ):
            hass.bus.async_listen(event_type, partial(count_entity, counter), event_filter=is_ours)
        caplog.clear()
        if how == "home_assistant_stops":
            await hass.async_stop()
        else:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
        for cp in chargers:
            await asyncio.wait_for(cp.connection.wait_closed(), 10)
            assert cp.connection.close_code == 1001
    assert not registry_updates
    if how == "home_assistant_stops":
        assert not written
        # The test harness unloads the entry after the stop (Home Assistant itself does not).
        assert await hass.config_entries.async_unload(entry.entry_id)
    else:
        # Home Assistant's own write as each platform unloads: unavailable, once.
        assert set(written.values()) == {1}
        assert {hass.states.get(entity).state for entity in written} == {STATE_UNAVAILABLE}  # type: ignore[union-attr]
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_memory_returns_to_its_baseline_after_connect_disconnect_cycles(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    # Debug mode (the harness's) keeps the creation traceback of every callback: not ours to count.
    asyncio.get_running_loop().set_debug(False)
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    # Message logs are bounded (500 frames each); a small bound is reached in the first rounds.
    hub.central.message_logs.max_frames = 20
    port = port_of(entry)

    async def cycle(round_number: int) -> None:
        async def one(number: int) -> None:
            async with raw_charger(port, f"CP-M{number}") as cp:
                await cp.call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "M"})
                status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
                await cp.call("s", "StatusNotification", status)
                await cp.call("m", "MeterValues", {"connectorId": 1, "meterValue": [{
                    "timestamp": iso(datetime.now(UTC)),
                    "sampledValue": [{"value": str(round_number), "measurand": "Power.Active.Import", "unit": "W"}],
                }]})
                await cp.send("not json")
                await cp.wait_answers(4)

        await asyncio.gather(*(one(number) for number in range(5)))
        await wait_for(lambda: not hub.central.sessions, what="sessions closed")
        await hass.async_block_till_done()

    async def traced() -> int:
        # Stores write after a delay (registries cache what they wrote): write them now.
        await flush_store(er.async_get(hass)._store)
        await flush_store(dr.async_get(hass)._store)
        await hub._state_writes.flush()
        # A real Store writes the file and keeps nothing; the harness's mocked write keeps the
        # arguments of every call (each a snapshot of the state): forget them.
        storage.Store._async_write_data.reset_mock()  # type: ignore[attr-defined]
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces([
            # Not the process's own: the test harness keeps the data written to stores.
            tracemalloc.Filter(False, "*/pytest_homeassistant_custom_component/*"),
            tracemalloc.Filter(False, "*/homeassistant/util/json.py"),
            tracemalloc.Filter(False, tracemalloc.__file__),
        ])
        return sum(stat.size for stat in snapshot.statistics("filename"))

    # The harness keeps every log record (and what they refer to): no records while measuring.
    logging.disable(logging.CRITICAL)
    tracemalloc.start()
    try:
        for round_number in range(3):  # entities, caches, full message logs: made once
            await cycle(round_number)
        baseline = await traced()
        for round_number in range(3, 15):
            await cycle(round_number)
        grown = await traced() - baseline
    finally:
        tracemalloc.stop()
        logging.disable(logging.NOTSET)
    # 12 rounds of 5 connections: nothing stays per connection (a session, its connection and
    # buffers are tens of KiB; what is left is the newest values and timestamps, below 1 KiB).
    assert grown < 60 * 1024, f"{grown / 1024:.0f} KiB left after 60 connections"


# --- state writes ---------------------------------------------------------------------------------


async def test_state_writes_are_coalesced_and_unchanged_values_not_rewritten(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-W") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        await cp.meter(1, [{"value": "1000", "measurand": "Power.Active.Import", "unit": "W"}])
        await hass.async_block_till_done()
        power = entity_id(hass, "CP-W_1_power_active_import")
        status = entity_id(hass, "CP-W_1_status")
        writes: dict[str, int] = {}

        @callback
        def count(event: Event) -> None:
            writes[event.data["entity_id"]] = writes.get(event.data["entity_id"], 0) + 1

        hass.bus.async_listen(EVENT_STATE_CHANGED, count)
        # A burst of 50 readings within a moment: the engine keeps each, Home Assistant gets
        # at most the first and the last.
        began = hass.loop.time()
        for value in range(1001, 1051):
            await cp.meter(1, [{"value": str(value), "measurand": "Power.Active.Import", "unit": "W"}])
            assert hub.central.chargers["CP-W"].connectors[1].meters["power_active_import"].value == value
        burst = hass.loop.time() - began
        await hass.async_block_till_done()
        # One write per spacing (0.5 s here) at most, and the last one.
        assert writes.get(power, 0) <= 2 + int(burst / hub.state_writes.spacing)
        assert writes.get(power, 0) < 10
        assert float(state(hass, "CP-W_1_power_active_import")) == pytest.approx(1.05)  # W, shown in kW
        # The same status again changes nothing and writes nothing.
        reported: list[str] = []

        @callback
        def any_report(_data: Any) -> bool:
            return True

        hass.bus.async_listen("state_reported", lambda event: reported.append(event.data["entity_id"]), any_report)
        await cp.status(1, "Charging")
        await cp.meter(1, [{"value": "1050", "measurand": "Power.Active.Import", "unit": "W"}])
        await hass.async_block_till_done()
        assert status not in writes
        assert status not in reported
        assert power not in reported
        assert hub.state_writes.pending == 0


async def test_many_writes_falling_due_together_let_the_loop_run_between_chunks(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    # Long enough for the second readings to wait whatever the machine's speed (the test waits it out).
    hub.state_writes.interval = 10.0
    measurands = [("Current.Import", "A", phase) for phase in ("L1", "L2", "L3")] + [
        ("Voltage", "V", phase) for phase in ("L1-N", "L2-N", "L3-N")
    ]

    def readings(value: int) -> list[dict[str, Any]]:
        return [
            {"value": str(value), "measurand": measurand, "unit": unit, "phase": phase}
            for measurand, unit, phase in measurands
        ]

    async with charger(port_of(entry), "CP-C1") as one, charger(port_of(entry), "CP-C2") as two, charger(
        port_of(entry), "CP-C3"
    ) as three, charger(port_of(entry), "CP-C4") as four:
        cps = [one, two, three, four]
        for cp in cps:
            await cp.boot()
        await hass.async_block_till_done()
        for cp in cps:
            await cp.meter(1, readings(1))
        # (Not async_block_till_done: it would wait for the pending writes' flush.)
        keys = [f"current_import_{phase}" for phase in ("l1", "l2", "l3")]
        keys += [f"voltage_{phase}_n" for phase in ("l1", "l2", "l3")]
        unique_ids = [f"{cp.id}_1_{key}" for cp in cps for key in keys]
        await wait_for(
            lambda: all(has_entity(hass, u) and hass.states.get(entity_id(hass, u)) for u in unique_ids),
            what="24 meter sensors",
        )
        # Loop turns are counted from the first write on: writes in one turn share a number.
        turn = [0]
        turns: list[int] = []

        def tick() -> None:
            turn[0] += 1
            if len(turns) < 24:
                hass.loop.call_soon(tick)

        @callback
        def written(event: Event) -> None:
            if not turns:
                hass.loop.call_soon(tick)
            turns.append(turn[0])

        hass.bus.async_listen(EVENT_STATE_CHANGED, written)
        # Every sensor wrote just now: the second readings of all 24 wait ...
        for cp in cps:
            await cp.meter(1, readings(2))
        assert hub.state_writes.pending == 24
        # ... and fall due at the same moment (whatever the machine's speed was between them).
        due = min(hub.state_writes._due.values())
        for waiting in hub.state_writes._due:
            hub.state_writes._due[waiting] = due
        await hass.async_block_till_done()
        assert len(turns) == 24
        # Never more than CHUNK writes in one turn of the loop: the chargers get their answers between.
        per_turn = Counter(turns)
        assert max(per_turn.values()) <= CHUNK
        assert len(per_turn) >= 2
        for cp_id in ("CP-C1", "CP-C2", "CP-C3", "CP-C4"):
            assert float(state(hass, f"{cp_id}_1_current_import_l1")) == 2
            assert float(state(hass, f"{cp_id}_1_voltage_l3_n")) == 2
