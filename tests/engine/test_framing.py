"""Our OCPP-J framing over an in-memory connection: answers routed by id, one call in flight, ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
from typing import Any

from ocpp.exceptions import GenericError
from ocpp.v16 import call
import pytest
from websockets.exceptions import ConnectionClosed

from custom_components.ocpp_cs.engine.session import ChargePointSession, DisconnectedBeforeAnswer

from .core import CP, central


class Pipe:
    """A charger's end of an in-memory connection: frames it sends, frames it receives."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[Any] = []
        self.new_frame = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[str]:
        while (frame := await self.inbox.get()) is not None:
            yield frame

    async def send(self, frame: str) -> None:
        self.sent.append(json.loads(frame))
        self.new_frame.set()

    async def next_sent(self) -> Any:
        while not self.sent:
            self.new_frame.clear()
            await asyncio.wait_for(self.new_frame.wait(), 2)
        return self.sent.pop(0)

    def charger_sends(self, *message: Any) -> None:
        self.inbox.put_nowait(json.dumps(list(message)))


async def session(response_timeout: float = 2) -> tuple[ChargePointSession, Pipe, asyncio.Task[None]]:
    system, _ = central()
    pipe = Pipe()
    connected = ChargePointSession(CP, pipe, system, response_timeout=response_timeout)
    return connected, pipe, asyncio.get_running_loop().create_task(connected.start())


async def test_calls_of_the_charger_are_answered_or_refused_with_the_specs_codes() -> None:
    connected, pipe, running = await session()
    pipe.charger_sends(2, "hb", "Heartbeat", {})
    answer = await pipe.next_sent()
    assert answer[:2] == [3, "hb"] and "currentTime" in answer[2]
    pipe.charger_sends(2, "x", "Teleport", {})
    assert (await pipe.next_sent())[:3] == [4, "x", "NotImplemented"]
    pipe.charger_sends(2, "r", "Reset", {"type": "Soft"})  # a central system's action
    assert (await pipe.next_sent())[:3] == [4, "r", "NotSupported"]
    pipe.charger_sends(2, "s", "StatusNotification", {"connectorId": 1, "status": "Sleeping", "errorCode": "NoError"})
    assert (await pipe.next_sent())[:3] == [4, "s", "PropertyConstraintViolation"]
    pipe.inbox.put_nowait("{not json")
    assert (await pipe.next_sent())[:3] == [4, "-1", "FormationViolation"]
    pipe.charger_sends(7, "odd")
    assert (await pipe.next_sent())[:3] == [4, "odd", "ProtocolError"]
    pipe.inbox.put_nowait(None)
    await running
    assert 1 not in connected.central.chargers[CP].connectors  # the refused status made no connector


async def test_answers_reach_the_call_that_waits_for_them_and_strays_are_dropped() -> None:
    connected, pipe, running = await session()
    calling = asyncio.ensure_future(connected.call(call.ClearCache(), unique_id="mine"))
    assert await pipe.next_sent() == [2, "mine", "ClearCache", {}]
    pipe.charger_sends(3, "someone-elses", {"status": "Rejected"})
    pipe.charger_sends(4, "nobody", "GenericError", "", {})
    pipe.charger_sends(3, "mine", {"status": "Accepted"})
    assert (await calling).status == "Accepted"
    # An answer twice, or after its call ended, is kept nowhere.
    pipe.charger_sends(3, "mine", {"status": "Rejected"})
    pipe.charger_sends(2, "hb", "Heartbeat", {})
    await pipe.next_sent()
    assert connected.answers_kept == 0
    pipe.inbox.put_nowait(None)
    await running


async def test_one_call_of_ours_is_in_flight_at_a_time() -> None:
    connected, pipe, running = await session()
    first = asyncio.ensure_future(connected.call(call.ClearCache(), unique_id="1"))
    second = asyncio.ensure_future(connected.call(call.ClearCache(), unique_id="2"))
    assert (await pipe.next_sent())[1] == "1"
    await asyncio.sleep(0.05)
    assert pipe.sent == []  # the second waits for the first's answer
    pipe.charger_sends(3, "1", {"status": "Accepted"})
    assert (await pipe.next_sent())[1] == "2"
    pipe.charger_sends(3, "2", {"status": "Rejected"})
    assert [(await first).status, (await second).status] == ["Accepted", "Rejected"]
    pipe.inbox.put_nowait(None)
    await running


async def test_callerrors_timeouts_and_disconnections_end_a_call() -> None:
    connected, pipe, running = await session(response_timeout=0.2)
    suppressed = asyncio.ensure_future(connected.call(call.ClearCache(), unique_id="a"))
    await pipe.next_sent()
    pipe.charger_sends(4, "a", "GenericError", "busy", {})
    assert await suppressed is None
    raised = asyncio.ensure_future(connected.call(call.ClearCache(), suppress=False, unique_id="b"))
    await pipe.next_sent()
    pipe.charger_sends(4, "b", "GenericError", "busy", {})
    with pytest.raises(GenericError):
        await raised
    with pytest.raises(TimeoutError, match=r"Waited 0\.2s"):
        await connected.call(call.ClearCache(), unique_id="c")
    await pipe.next_sent()
    unanswered = asyncio.ensure_future(connected.call(call.ClearCache(), unique_id="d"))
    await pipe.next_sent()
    pipe.inbox.put_nowait(None)  # the charger goes away with our call sent and unanswered
    with pytest.raises(DisconnectedBeforeAnswer):
        await unanswered
    await running
    with pytest.raises(ConnectionClosed):
        await connected.call(call.ClearCache())
