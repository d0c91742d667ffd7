"""A simulated charger: an ocpp.v16.ChargePoint client over a real WebSocket, for scenarios."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class SimCharger(ChargePoint):
    """A charger that scenarios drive; it records what the central system asked of it."""

    def __init__(self, charge_point_id: str, connection: ClientConnection) -> None:
        super().__init__(charge_point_id, connection, response_timeout=10)
        self.connection = connection
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}

    async def raw(self, frame: str) -> Any:
        """Send a raw frame and return the next CALLRESULT/CALLERROR the central system sends back."""
        await self._connection.send(frame)
        return await asyncio.wait_for(self._response_queue.get(), 5)

    async def send(self, payload: Any) -> Any:
        """Send a request; raise on CALLERROR."""
        return await self.call(payload, suppress=False)

    async def boot(self, **fields: Any) -> call_result.BootNotification:
        fields.setdefault("charge_point_vendor", "Sim")
        fields.setdefault("charge_point_model", "Sim-22")
        return await self.send(call.BootNotification(**fields))

    async def status(self, connector_id: int, status: str, error_code: str = "NoError", **fields: Any) -> None:
        await self.send(
            call.StatusNotification(connector_id=connector_id, error_code=error_code, status=status, **fields)
        )

    async def authorize(self, id_tag: str) -> call_result.Authorize:
        return await self.send(call.Authorize(id_tag=id_tag))

    async def start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str | None = None
    ) -> call_result.StartTransaction:
        return await self.send(
            call.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=meter_start, timestamp=timestamp or now_iso()
            )
        )

    async def stop_transaction(
        self, transaction_id: int, meter_stop: int, reason: str | None = None, **fields: Any
    ) -> call_result.StopTransaction:
        return await self.send(
            call.StopTransaction(
                transaction_id=transaction_id, meter_stop=meter_stop, timestamp=now_iso(), reason=reason, **fields
            )
        )

    async def meter(
        self, connector_id: int, sampled: list[dict[str, Any]], transaction_id: int | None = None,
        timestamp: str | None = None,
    ) -> None:
        await self.send(
            call.MeterValues(
                connector_id=connector_id,
                meter_value=[{"timestamp": timestamp or now_iso(), "sampledValue": sampled}],
                transaction_id=transaction_id,
            )
        )

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None) -> Any:
        self.received.append(("TriggerMessage", {"requested_message": requested_message, "connector_id": connector_id}))
        return call_result.TriggerMessage(status=self.answers.get("TriggerMessage", "Accepted"))


@contextlib.asynccontextmanager
async def charger(
    port: int,
    charge_point_id: str,
    *,
    path_prefix: str = "/ocpp/",
    subprotocols: list[str] | None = None,
    cls: type[SimCharger] = SimCharger,
    scheme: str = "ws",
    **connect_kwargs: Any,
) -> AsyncIterator[SimCharger]:
    """Connect a simulated charger to 127.0.0.1:port and run its receive loop."""
    async with connect(
        f"{scheme}://127.0.0.1:{port}{path_prefix}{charge_point_id}",
        subprotocols=["ocpp1.6"] if subprotocols is None else subprotocols,  # type: ignore[arg-type]
        open_timeout=5,
        **connect_kwargs,
    ) as ws:
        sim = cls(charge_point_id, ws)
        task = asyncio.get_running_loop().create_task(sim.start())
        try:
            yield sim
        finally:
            # Follow-up sends the charger spawned (see control_charger.py) end with it.
            pending = [task, *getattr(sim, "tasks", ())]
            for item in pending:
                item.cancel()
            for item in pending[1:]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await item
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
