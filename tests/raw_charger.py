"""A charger on a bare WebSocket: sends any frame, pipelines calls, answers whatever it is asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class RawCharger:
    """Records every CALLRESULT/CALLERROR the central system sends; answers its CALLs `Accepted`."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.answers: list[list[Any]] = []  # CALLRESULT / CALLERROR frames, in arrival order
        self.asked: list[list[Any]] = []  # CALLs the central system sent
        self.unparsable: list[str | bytes] = []
        # CALLs of these actions are answered with these (CALLERROR: [4, id, *errors[action]]).
        self.results: dict[str, Any] = {}
        self.errors: dict[str, list[Any]] = {}
        self.ignored: set[str] = set()  # CALLs of these actions get no answer
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.connection:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    self.unparsable.append(raw)
                    continue
                if isinstance(frame, list) and frame and frame[0] == 2:
                    self.asked.append(frame)
                    action = frame[2] if len(frame) > 2 else None
                    if action in self.ignored:
                        continue
                    if action in self.errors:
                        await self.connection.send(json.dumps([4, frame[1], *self.errors[action]]))
                        continue
                    answer: Any = {"configurationKey": []} if action == "GetConfiguration" else {"status": "Accepted"}
                    await self.connection.send(json.dumps([3, frame[1], self.results.get(action, answer)]))
                    continue
                self.answers.append(frame)
                self._arrived.set()

    async def send(self, frame: str | bytes) -> None:
        await self.connection.send(frame)

    async def wait_answers(self, count: int, timeout: float = 10.0) -> list[list[Any]]:
        """Wait until `count` answers arrived in all; return them."""
        async with asyncio.timeout(timeout):
            while len(self.answers) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.answers[:count]

    async def call(self, unique_id: str, action: str, payload: Any, timeout: float = 10.0) -> list[Any]:
        """Send one CALL and return its answer."""
        already = len(self.answers)
        await self.send(json.dumps([2, unique_id, action, payload]))
        answers = await self.wait_answers(already + 1, timeout)
        return answers[-1]

    async def close(self) -> None:
        await self.connection.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def raw_charger(port: int, charge_point_id: str, **connect_kwargs: Any) -> AsyncIterator[RawCharger]:
    """Connect a RawCharger to 127.0.0.1:port as `charge_point_id`."""
    connection = await connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        open_timeout=10,
        max_size=None,
        **connect_kwargs,
    )
    cp = RawCharger(connection)
    try:
        yield cp
    finally:
        await cp.close()
