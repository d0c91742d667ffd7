"""A simulated OCPP 2.0.1 charging station for demos: `scripts/demo_charger --ocpp 2.0.1`.

Each EVSE plays a story over and over: Available -> Occupied (an EV plugs in: TransactionEvent
Started, CablePluggedIn) -> Authorize -> Updated (Authorized, Charging) -> Updated every
SampledDataCtrlr/TxUpdatedInterval with meter values (3-phase 16 A, about 11 kW) -> Ended
(EVDeparted) -> Available, then a pause. The CSMS's GetBaseReport is answered with the device
model (NotifyReport), SetVariables are applied, TriggerMessage is obeyed. It reconnects with a
backoff; --speed divides the simulated durations.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import logging
from typing import Any
import uuid

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

LOG = logging.getLogger("demo_charger")
VENDOR, MODEL = "Demo", "Demo 22kW 2.0.1"
# Simulated seconds: before the first session, between sessions, of a session.
FIRST_SESSION, PAUSE, SESSION = 10.0, 60.0, 600.0
POWER_W = 11_040.0  # 3 x 16 A x 230 V


def now_iso() -> str:
    """Return the station's time as OCPP writes it."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Evse:
    """One EVSE (with one connector) and its energy register (Wh)."""

    evse_id: int
    energy_wh: float = 0.0
    transaction_id: str | None = None
    seq_no: itertools.count[int] = field(default_factory=itertools.count)


class DemoStation(ChargePoint):  # type: ignore[misc]
    """The station's session: answers the CSMS, and plays each EVSE's story."""

    def __init__(self, charge_point_id: str, connection: Any, evses: list[Evse], speed: float) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30)
        self.evses = evses
        self.speed = speed
        self.variables: dict[tuple[str, str], str] = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): "300",
            ("SampledDataCtrlr", "TxUpdatedInterval"): "10",
            ("SampledDataCtrlr", "TxUpdatedMeasurands"): "Energy.Active.Import.Register,Power.Active.Import",
        }
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Any) -> None:
        """Run a follow-up send beside the receive loop."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def play(self) -> None:
        """Boot, report the EVSEs, heartbeat and play the stories until the connection ends."""
        boot = await self.call(call.BootNotification(
            charging_station={"vendor_name": VENDOR, "model": MODEL, "serial_number": f"DEMO-{self.id}"},
            reason="PowerUp",
        ))
        LOG.info("%s    BootNotification: %s", self.id, boot.status)
        if boot.status != "Accepted":
            await asyncio.sleep(boot.interval or 60)
            return
        for evse in self.evses:
            await self.status(evse, "Available")
        stories = [self.story(evse, FIRST_SESSION * evse.evse_id) for evse in self.evses]
        await asyncio.gather(self.heartbeat(), *stories)

    async def heartbeat(self) -> None:
        """Send Heartbeat at the interval the CSMS set."""
        while True:
            await asyncio.sleep(int(self.variables[("OCPPCommCtrlr", "HeartbeatInterval")]))
            await self.call(call.Heartbeat())

    async def status(self, evse: Evse, connector_status: str) -> None:
        """Report an EVSE's connector status."""
        await self.call(call.StatusNotification(
            timestamp=now_iso(), connector_status=connector_status, evse_id=evse.evse_id, connector_id=1
        ))
        LOG.info("%s    EVSE %s %s", self.id, evse.evse_id, connector_status)

    def meter_value(self, evse: Evse, context: str) -> list[dict[str, Any]]:
        """Return the EVSE's readings now (register in Wh, power while charging)."""
        sampled = [{"value": round(evse.energy_wh), "measurand": "Energy.Active.Import.Register",
                    "context": context, "unit_of_measure": {"unit": "Wh"}}]
        if context == "Sample.Periodic":
            sampled.append({"value": POWER_W / 1000, "measurand": "Power.Active.Import", "context": context,
                            "unit_of_measure": {"unit": "W", "multiplier": 3}})
        return [{"timestamp": now_iso(), "sampled_value": sampled}]

    async def event(self, evse: Evse, event_type: str, trigger: str, **fields: Any) -> Any:
        """Send a TransactionEvent of the EVSE's transaction."""
        info = {"transaction_id": evse.transaction_id, **fields.pop("info", {})}
        return await self.call(call.TransactionEvent(
            event_type=event_type, timestamp=now_iso(), trigger_reason=trigger, seq_no=next(evse.seq_no),
            transaction_info=info, evse={"id": evse.evse_id, "connector_id": 1}, **fields,
        ))

    async def story(self, evse: Evse, delay: float) -> None:
        """Plug in, authorize, charge with meter values, unplug; again and again."""
        while True:
            await asyncio.sleep(delay / self.speed)
            delay = PAUSE
            evse.transaction_id, evse.seq_no = str(uuid.uuid4()), itertools.count()
            await self.status(evse, "Occupied")
            await self.event(evse, "Started", "CablePluggedIn", info={"charging_state": "EVConnected"},
                             meter_value=self.meter_value(evse, "Transaction.Begin"))
            token = {"id_token": "DEMO-TAG", "type": "ISO14443"}
            answer = await self.call(call.Authorize(id_token=token))
            if answer.id_token_info["status"] != "Accepted":
                await self.event(evse, "Ended", "Deauthorized", id_token=token,
                                 info={"stopped_reason": "DeAuthorized", "charging_state": "EVConnected"})
            else:
                await self.event(evse, "Updated", "Authorized", id_token=token, info={"charging_state": "Charging"})
                await self.charge(evse)
                await self.event(evse, "Ended", "EVDeparted", meter_value=self.meter_value(evse, "Transaction.End"),
                                 info={"stopped_reason": "EVDisconnected", "charging_state": "Idle"})
            LOG.info("%s    EVSE %s transaction %s ended at %.0f Wh", self.id, evse.evse_id,
                     evse.transaction_id, evse.energy_wh)
            await self.status(evse, "Available")

    async def charge(self, evse: Evse) -> None:
        """Charge for a session, with an Updated event every TxUpdatedInterval (simulated seconds)."""
        remaining = SESSION
        while remaining > 0:
            step = min(remaining, max(1.0, float(self.variables[("SampledDataCtrlr", "TxUpdatedInterval")])))
            await asyncio.sleep(step / self.speed)
            remaining -= step
            evse.energy_wh += POWER_W * step / 3600
            await self.event(evse, "Updated", "MeterValuePeriodic", info={"charging_state": "Charging"},
                             meter_value=self.meter_value(evse, "Sample.Periodic"))

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str) -> Any:
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id: int, report_base: str) -> None:
        data = [
            {"component": {"name": component}, "variable": {"name": name},
             "variable_attribute": [{"type": "Actual", "value": value, "mutability": "ReadWrite"}]}
            for (component, name), value in self.variables.items()
        ] + [
            {"component": {"name": "EVSE", "evse": {"id": evse.evse_id}}, "variable": {"name": "AvailabilityState"},
             "variable_attribute": [{"type": "Actual", "value": "Available", "mutability": "ReadOnly"}]}
            for evse in self.evses
        ]
        self.spawn(self.call(call.NotifyReport(request_id=request_id, generated_at=now_iso(), seq_no=0,
                                               report_data=data)))

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]]) -> Any:
        results = []
        for item in set_variable_data:
            key = (item["component"]["name"], item["variable"]["name"])
            known = key in self.variables
            if known:
                self.variables[key] = item["attribute_value"]
                LOG.info("%s    %s/%s set to %s", self.id, *key, item["attribute_value"])
            results.append({"attribute_status": "Accepted" if known else "UnknownVariable",
                            "component": item["component"], "variable": item["variable"]})
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None) -> Any:
        if requested_message == "StatusNotification":
            for one in self.evses:
                self.spawn(self.status(one, "Occupied" if one.transaction_id else "Available"))
            return call_result.TriggerMessage(status="Accepted")
        if requested_message == "Heartbeat":
            self.spawn(self.call(call.Heartbeat()))
            return call_result.TriggerMessage(status="Accepted")
        return call_result.TriggerMessage(status="NotImplemented")


async def run_station(
    url: str, charge_point_id: str, *, evses: int, speed: float, headers: dict[str, str] | None,
    stopping: asyncio.Event,
) -> None:
    """Connect as a 2.0.1 station, reconnect with a backoff, until `stopping` is set."""
    registers = [Evse(n, energy_wh=1_000_000.0 * n) for n in range(1, evses + 1)]
    backoff = 1.0
    while not stopping.is_set():
        try:
            async with connect(url, subprotocols=[Subprotocol("ocpp2.0.1")], additional_headers=headers,
                               open_timeout=10, proxy=None) as ws:
                LOG.info("%s    connected to %s (OCPP %s)", charge_point_id, url, ws.subprotocol)
                backoff = 1.0
                station = DemoStation(charge_point_id, ws, registers, speed)
                tasks = [asyncio.ensure_future(station.start()), asyncio.ensure_future(station.play()),
                         asyncio.ensure_future(stopping.wait())]
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                played = tasks[1]
                if played.done() and not played.cancelled() and played.exception() is not None:
                    LOG.warning("%s    session ended: %r", charge_point_id, played.exception())
                for task in (*tasks, *station.tasks):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        except InvalidStatus as err:
            LOG.warning("%s    connection refused: HTTP %s", charge_point_id, err.response.status_code)
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as err:
            LOG.warning("%s    cannot connect to %s: %s", charge_point_id, url, err or type(err).__name__)
        if stopping.is_set():
            break
        LOG.info("%s    reconnecting in %.0f s", charge_point_id, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), backoff)
        backoff = min(60.0, backoff * 2)
    LOG.info("%s    stopped", charge_point_id)
