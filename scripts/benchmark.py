#!/usr/bin/env python3
"""Benchmark of ocpp_cs: simulated chargers against Home Assistant and against a bare central system.

Run it through `scripts/bench` (which creates .venv first); `scripts/bench --help` lists the options.

Three kinds of server run in their own processes, one after the other, each listening on
127.0.0.1 only:

- `ha`: Home Assistant (the pytest-homeassistant-custom-component harness, event loop debug
  off, the recorder on a SQLite file unless --no-recorder, the integration's Store on disk)
  with one ocpp_cs entry: `tests/bench_ha.py`, run by pytest.
- `bare`: a bare `ocpp` + `websockets` central system (the library's ChargePoint with its own
  schema validation, handlers that answer and keep nothing): the baseline.
- `engine`: ocpp_cs's engine (server, sessions, central system) without Home Assistant, to
  tell the engine's share of the cost from Home Assistant's.
- `engine-proxied`, `ha-proxied`: local controller mode, charger -> ocpp_cs -> a `bare` upstream
  (started first, in a process of its own): every answer is the upstream's, relayed. Compared
  with `bare` at the same N, the difference of the p50 is what relaying adds to an answer
  (`relay_overhead_p50_ms` in the ratios; e.g. `--chargers 10 --servers bare,ha-proxied`).

This process is the load: N chargers, each of which boots, reports its status, starts a
transaction and then sends MeterValues with 10 sampled values (energy, power, 3 currents, 3
voltages, SoC, temperature) as fast as answers come back (flat-out), or one every --interval
seconds (--realistic). CPU time and resident memory are read from /proc for the server's
process (all its threads: the recorder and the executor count); Home Assistant reports its
state writes over a small control socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import os
from pathlib import Path
import platform
import random
import statistics
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = "=" * 100


# --- helpers shared with the server side -------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_rss_bytes(pid: int) -> int:
    """Return the resident set size of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class LoopLagSampler:
    """
    Measures how late the event loop wakes a task that sleeps 5 ms: stalls show as lag.

    A watchdog thread records what the loop's thread was doing during a stall longer than
    50 ms (its stack), and garbage collections of the oldest generation are timed: those are
    the usual causes of long stalls.
    """

    PERIOD = 0.005
    WATCHDOG = 0.05

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (seconds since start, lag in seconds) above 2 ms
        self.max_lag = 0.0
        self.wakeups = 0
        self.stall_stacks: list[tuple[float, str]] = []
        self.gc_pauses: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._beat = 0.0
        self._watching = False
        self._gc_started = 0.0

    def start(self) -> None:
        import gc
        import threading

        self.samples.clear()
        self.stall_stacks.clear()
        self.gc_pauses.clear()
        self.max_lag = 0.0
        self.wakeups = 0
        self._started = self._beat = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._watching = True
        gc.callbacks.append(self._gc)
        threading.Thread(target=self._watch, args=(threading.get_ident(),), daemon=True).start()

    async def stop(self) -> dict[str, Any]:
        import gc

        self._watching = False
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return {
            "max_lag": self.max_lag,
            "wakeups": self.wakeups,
            "stalls": self.samples[:2000],
            "stall_stacks": self.stall_stacks[:20],
            "gc_pauses": self.gc_pauses[:200],
        }

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self._gc_started
            self.gc_pauses.append((round(self._gc_started - self._started, 3), round(elapsed * 1000, 2)))

    def _watch(self, loop_thread: int) -> None:
        import traceback

        reported = 0.0
        while self._watching:
            time.sleep(self.WATCHDOG / 2)
            beat = self._beat
            if time.perf_counter() - beat > self.WATCHDOG and beat != reported and len(self.stall_stacks) < 20:
                reported = beat
                frame = sys._current_frames().get(loop_thread)
                stack = "".join(traceback.format_stack(frame)[-14:]) if frame is not None else "?"
                self.stall_stacks.append((round(beat - self._started, 3), stack))

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            self._beat = before
            await asyncio.sleep(self.PERIOD)
            lag = time.perf_counter() - before - self.PERIOD
            self.wakeups += 1
            self.max_lag = max(self.max_lag, lag)
            if lag > 0.002:
                self.samples.append((round(before - self._started, 3), round(lag, 5)))


class ControlServer:
    """A line protocol on 127.0.0.1 through which the benchmark asks a server process for figures."""

    def __init__(self, stats: Any = None, settle: Any = None) -> None:
        self.stopped = asyncio.Event()
        self._stats = stats
        self._settle = settle
        self._lag = LoopLagSampler()
        self._profile: Any = None
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                command, _, argument = line.decode().strip().partition(" ")
                answer = await self._command(command, argument)
                writer.write((json.dumps(answer) + "\n").encode())
                await writer.drain()
                if command == "stop":
                    break
        finally:
            writer.close()

    async def _command(self, command: str, argument: str) -> dict[str, Any]:
        if command == "stats":
            return dict(self._stats() if self._stats else {})
        if command == "settle":
            if self._settle is not None:
                await self._settle()
            return {}
        if command == "lag-start":
            self._lag.start()
            return {}
        if command == "lag-stop":
            return await self._lag.stop()
        if command == "profile-start":
            import cProfile

            self._profile = cProfile.Profile(time.process_time)  # CPU time: other processes share the cores
            self._profile.enable()
            return {}
        if command == "profile-stop":
            if self._profile is not None:
                self._profile.disable()
                self._profile.dump_stats(argument)
                self._profile = None
            return {"path": argument}
        if command == "trace-start":
            import tracemalloc

            tracemalloc.start(int(argument or 1))
            self._trace_base = tracemalloc.take_snapshot()
            return {}
        if command == "trace-top":
            import tracemalloc

            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            diff = snapshot.compare_to(self._trace_base, os.environ.get("BENCH_TRACE_KEY", "filename"))
            total = sum(stat.size_diff for stat in diff)
            top = [
                {"where": str(stat.traceback), "kib": round(stat.size_diff / 1024, 1), "count": stat.count_diff}
                for stat in diff[: int(argument or 25)]
            ]
            return {"total_kib": round(total / 1024, 1), "top": top}
        if command == "gc-types":  # what the oldest generation holds, by type (slow: diagnostics only)
            import collections
            import gc

            counts = collections.Counter(type(obj).__qualname__ for obj in gc.get_objects(2))
            return {"total": sum(counts.values()), "stats": gc.get_stats(), "types": dict(counts.most_common(60))}
        if command == "stop":
            self.stopped.set()
            return {}
        return {"error": f"unknown command {command}"}


def announce_ready(port: int, control: int) -> None:
    """Tell the benchmark (reading our stdout) where to connect."""
    print("BENCH-READY " + json.dumps({"port": port, "control": control, "pid": os.getpid()}), flush=True)


# --- the bare central system ------------------------------------------------------------------


async def serve_bare() -> None:
    """A central system as the `ocpp` library's examples build one: validate, answer, keep nothing."""
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    transaction_ids = iter(range(1, 1 << 62))

    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    class BareChargePoint(ChargePoint):  # type: ignore[misc]
        @on(Action.boot_notification)
        def on_boot(self, **_: Any) -> Any:
            return call_result.BootNotification(current_time=now(), interval=300, status="Accepted")

        @on(Action.heartbeat)
        def on_heartbeat(self) -> Any:
            return call_result.Heartbeat(current_time=now())

        @on(Action.status_notification)
        def on_status(self, **_: Any) -> Any:
            return call_result.StatusNotification()

        @on(Action.meter_values)
        def on_meter_values(self, **_: Any) -> Any:
            return call_result.MeterValues()

        @on(Action.authorize)
        def on_authorize(self, **_: Any) -> Any:
            return call_result.Authorize(id_tag_info={"status": "Accepted"})

        @on(Action.start_transaction)
        def on_start(self, **_: Any) -> Any:
            return call_result.StartTransaction(transaction_id=next(transaction_ids), id_tag_info={"status": "Accepted"})

        @on(Action.stop_transaction)
        def on_stop(self, **_: Any) -> Any:
            return call_result.StopTransaction()

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point = BareChargePoint(connection.request.path.rsplit("/", 1)[-1], connection)
        with contextlib.suppress(ConnectionClosed):
            await charge_point.start()

    control = ControlServer()
    control_port = await control.start()
    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], max_size=1 << 20) as server:  # type: ignore[list-item]
        port = int(next(iter(server.sockets)).getsockname()[1])
        announce_ready(port, control_port)
        await control.stopped.wait()
    await control.close()


async def serve_engine() -> None:
    """ocpp_cs's engine without Home Assistant: server, sessions, central system, no listener."""
    sys.path.insert(0, str(ROOT))
    from custom_components.ocpp_cs.engine.central import CentralSettings, CentralSystem
    from custom_components.ocpp_cs.engine.schemas import preload
    from custom_components.ocpp_cs.engine.server import CentralSystemServer

    class Nothing:
        """Listener and persistence that do nothing (the state is kept, nothing is published)."""

        def __getattr__(self, _name: str) -> Any:
            return lambda *_args, **_kwargs: None

        async def async_save_now(self, data: dict[str, Any]) -> None:
            await asyncio.get_running_loop().run_in_executor(None, json.dumps, data)

    nothing = Nothing()
    central = CentralSystem(CentralSettings(), nothing, nothing)  # type: ignore[arg-type]
    preload()
    relay = None
    if upstream := os.environ.get("BENCH_UPSTREAM_URL"):  # the -proxied kinds: local controller mode
        from custom_components.ocpp_cs.engine.relay import RelayManager, RelaySettings

        relay = RelayManager(central, RelaySettings(upstream))
    server = CentralSystemServer(central, host="127.0.0.1", port=0, relay=relay)
    await server.start()
    control = ControlServer()
    control_port = await control.start()
    announce_ready(server.bound_port, control_port)
    await control.stopped.wait()
    await server.stop()
    await control.close()


# --- the simulated chargers ---------------------------------------------------------------------


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def meter_payload(transaction_id: int | None, sequence: int, rng: random.Random) -> dict[str, Any]:
    """Ten sampled values as a 3-phase 11 kW charger reports them; every value moves a little."""
    energy = 10_000 + sequence * 3
    currents = [round(16 + rng.uniform(-0.4, 0.4), 2) for _ in range(3)]
    voltages = [round(230 + rng.uniform(-2, 2), 1) for _ in range(3)]
    power = round(sum(c * v for c, v in zip(currents, voltages, strict=True)))
    sampled: list[dict[str, str]] = [
        {"value": str(energy), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
        {"value": str(power), "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
    ]
    for phase, current in zip(("L1", "L2", "L3"), currents, strict=True):
        sampled.append(
            {"value": str(current), "measurand": "Current.Import", "unit": "A", "phase": phase,
             "context": "Sample.Periodic"}
        )
    for phase, voltage in zip(("L1-N", "L2-N", "L3-N"), voltages, strict=True):
        sampled.append(
            {"value": str(voltage), "measurand": "Voltage", "unit": "V", "phase": phase, "context": "Sample.Periodic"}
        )
    sampled.append(
        {"value": str(min(100, 20 + sequence // 200)), "measurand": "SoC", "unit": "Percent", "location": "EV",
         "context": "Sample.Periodic"}
    )
    sampled.append(
        {"value": str(round(31 + rng.uniform(-0.5, 0.5), 1)), "measurand": "Temperature", "unit": "Celsius",
         "location": "Body", "context": "Sample.Periodic"}
    )
    payload: dict[str, Any] = {"connectorId": 1, "meterValue": [{"timestamp": iso_now(), "sampledValue": sampled}]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


# Answers a simulated charger gives to what the central system asks after a boot.
CONFIGURATION = [
    {"key": "NumberOfConnectors", "readonly": True, "value": "1"},
    {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging,RemoteTrigger"},
    {"key": "MeterValueSampleInterval", "readonly": False, "value": "10"},
]


def answer_to(action: str) -> dict[str, Any]:
    if action == "GetConfiguration":
        return {"configurationKey": CONFIGURATION}
    if action == "GetCompositeSchedule":
        return {"status": "Rejected"}
    return {"status": "Accepted"}


class Charger:
    """One simulated charger on a raw WebSocket: pre-built JSON, no schema validation (cheap load)."""

    def __init__(self, url: str, charge_point_id: str, seed: int) -> None:
        self.url = url
        self.charge_point_id = charge_point_id
        self.rng = random.Random(seed)
        self.sequence = 0
        self.transaction_id: int | None = None
        self._ids = iter(range(1, 1 << 62))
        self._pending: dict[str, asyncio.Future[tuple[float, list[Any]]]] = {}
        self._connection: Any = None
        self._receiver: asyncio.Task[None] | None = None
        self.errors = 0

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self._connection = await connect(
            f"{self.url}/{self.charge_point_id}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            open_timeout=120, ping_interval=None, max_size=1 << 20,
        )
        self._receiver = asyncio.get_running_loop().create_task(self._receive())

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._receiver

    async def _receive(self) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            async for raw in self._connection:
                arrived = time.perf_counter()
                message = json.loads(raw)
                if message[0] == 2:
                    await self._connection.send(json.dumps([3, message[1], answer_to(message[2])]))
                    continue
                future = self._pending.pop(message[1], None)
                if future is not None and not future.done():
                    future.set_result((arrived, message))

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 120) -> tuple[float, list[Any]]:
        """Send a CALL; return (latency in seconds, the answer frame)."""
        unique_id = str(next(self._ids))
        future: asyncio.Future[tuple[float, list[Any]]] = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = future
        sent = time.perf_counter()
        await self._connection.send(json.dumps([2, unique_id, action, payload]))
        arrived, message = await asyncio.wait_for(future, timeout)
        if message[0] != 3:
            self.errors += 1
        return arrived - sent, message

    async def warm_up(self) -> None:
        """Boot, report statuses, start a transaction and send the first readings (entities appear)."""
        await self.connect()
        await self.call("BootNotification", {"chargePointVendor": "Bench", "chargePointModel": "Sim-11"})
        for connector_id, status in ((0, "Available"), (1, "Preparing"), (1, "Charging")):
            await self.call(
                "StatusNotification",
                {"connectorId": connector_id, "errorCode": "NoError", "status": status, "timestamp": iso_now()},
            )
        _, answer = await self.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BENCH", "meterStart": 10_000, "timestamp": iso_now()},
        )
        if answer[0] == 3:
            self.transaction_id = int(answer[2]["transactionId"])
        await self.meter_values()

    async def meter_values(self) -> float:
        self.sequence += 1
        latency, _ = await self.call("MeterValues", meter_payload(self.transaction_id, self.sequence, self.rng))
        return latency


# --- one run: a server process, N chargers ------------------------------------------------------


@dataclass
class Server:
    kind: str
    process: asyncio.subprocess.Process
    port: int
    control_port: int
    pid: int
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    output: list[str] = field(default_factory=list)

    async def command(self, line: str, timeout: float = 300) -> dict[str, Any]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.control_port)
        assert self._reader is not None
        self._writer.write((line + "\n").encode())
        await self._writer.drain()
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(self._reader.readline(), timeout))
        return answer

    async def stop(self) -> None:
        upstream = self.__dict__.get("_upstream")  # the -proxied kinds' bare upstream, stopped after
        if upstream is not None:
            await upstream.stop()
        with contextlib.suppress(Exception):
            await self.command("stop", timeout=10)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._writer is not None:
            self._writer.close()


async def start_server(kind: str, options: argparse.Namespace) -> Server:
    python = sys.executable
    env = dict(os.environ)
    upstream = None
    if kind.endswith("-proxied"):
        upstream = await start_server("bare", options)
        env["BENCH_UPSTREAM_URL"] = f"ws://127.0.0.1:{upstream.port}/upstream"
    if kind.removesuffix("-proxied") == "ha":
        command = [
            python, "-m", "pytest", str(ROOT / "tests" / "bench_ha.py"), "-q", "-s", "--no-header",
            "-p", "no:cacheprovider", "-p", "no:logging", "-o", "timeout=0", "-W", "ignore::DeprecationWarning",
            "-k", "with_recorder" if options.recorder else "without_recorder",
        ]
    else:
        command = [python, str(Path(__file__).resolve()), f"--serve-{kind.removesuffix('-proxied')}"]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        limit=1 << 20,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(300):
            while True:
                raw = await process.stdout.readline()
                if not raw:
                    raise RuntimeError(f"{kind} server exited before it was ready:\n" + "".join(output[-60:]))
                line = raw.decode(errors="replace")
                if line.startswith("BENCH-READY "):
                    ready = json.loads(line.split(" ", 1)[1])
                    break
                output.append(line)
    except BaseException:
        process.kill()
        raise
    server = Server(kind, process, ready["port"], ready["control"], ready["pid"], output=output)

    async def drain() -> None:  # keep reading, or a chatty server blocks on a full pipe
        assert process.stdout is not None
        while raw := await process.stdout.readline():
            output.append(raw.decode(errors="replace"))
            del output[:-200]

    server_drain = asyncio.get_running_loop().create_task(drain())
    server.__dict__["_drain"] = server_drain
    if upstream is not None:
        server.__dict__["_upstream"] = upstream
    return server


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def connect_all(server: Server, count: int, prefix: str, batches: int = 1) -> list[Charger]:
    """Connect and warm up `count` chargers: all at once, or in `batches` with the server settled between."""
    url = f"ws://127.0.0.1:{server.port}/bench"
    chargers = [Charger(url, f"{prefix}-{index:04d}", seed=index) for index in range(count)]
    gate = asyncio.Semaphore(50)

    async def warm(charger: Charger) -> None:
        async with gate:
            await charger.warm_up()

    size = -(-count // max(1, batches))
    for start in range(0, count, size):
        if start:
            await settle(server, 0.2)
        await asyncio.gather(*(warm(charger) for charger in chargers[start : start + size]))
    return chargers


async def settle(server: Server, seconds: float = 1.0) -> None:
    await server.command("settle")
    await asyncio.sleep(seconds)
    await server.command("settle")


async def run_flat_out(kind: str, count: int, options: argparse.Namespace) -> dict[str, Any]:
    """N chargers send MeterValues as fast as answers come back, for --duration seconds."""
    server = await start_server(kind, options)
    chargers: list[Charger] = []
    try:
        await settle(server, 0.5)
        rss_before = process_rss_bytes(server.pid)
        if options.trace_memory:
            await server.command("trace-start")
        stats_connect = await server.command("stats")
        chargers = await connect_all(server, count, f"CP{count}", options.connect_batches)
        await settle(server, 1.0)
        rss_connected = process_rss_bytes(server.pid)
        stats_connected = await server.command("stats")
        if options.trace_memory:
            traced = await server.command("trace-top 30")
            print(f"  traced memory after connecting {count}: {traced['total_kib'] / count:.1f} KiB per charger")
            for site in traced["top"]:
                print(f"    {site['kib'] / count:8.1f} KiB/charger {site['count'] / count:8.1f} blocks  {site['where']}")
        # A short unmeasured burst first, so caches, entities and the recorder are warm.
        warm_deadline = time.perf_counter() + min(2.0, options.duration / 4)

        async def burst(charger: Charger, deadline: float, latencies: list[float]) -> None:
            while time.perf_counter() < deadline:
                latencies.append(await charger.meter_values())

        await asyncio.gather(*(burst(charger, warm_deadline, []) for charger in chargers))
        await settle(server, 0.5)
        if options.profile and kind == "ha":
            await server.command("profile-start")
        spy = None
        if options.py_spy and kind in options.py_spy_servers.split(","):
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(server.pid),
                "--duration", str(int(options.duration)), "--rate", "250", "--format", "raw", "--threads", "--gil",
                "--nonblocking", "-o", f"{options.py_spy}.{kind}.n{count}.txt",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
        stats_before = await server.command("stats")
        await server.command("lag-start")
        cpu_before = process_cpu_seconds(server.pid)
        own_cpu_before = time.process_time()
        latencies: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(*(burst(charger, started + options.duration, latencies) for charger in chargers))
        elapsed = time.perf_counter() - started
        cpu = process_cpu_seconds(server.pid) - cpu_before
        own_cpu = time.process_time() - own_cpu_before
        lag = await server.command("lag-stop")
        stats_after = await server.command("stats")
        if spy is not None:
            await spy.wait()
            print(f"  py-spy samples: {options.py_spy}.{kind}.n{count}.txt", flush=True)
        if options.profile and kind == "ha":
            path = str(Path(options.profile).resolve().with_suffix(f".n{count}.prof"))
            await server.command(f"profile-stop {path}")
            print(f"  profile of the measured window: {path}", flush=True)
        await settle(server, 0.2)
        rss_after = process_rss_bytes(server.pid)
        errors = sum(charger.errors for charger in chargers)
    finally:
        await asyncio.gather(*(charger.close() for charger in chargers), return_exceptions=True)
        await server.stop()
    latencies.sort()
    messages = len(latencies)
    result: dict[str, Any] = {
        "server": kind,
        "chargers": count,
        "messages": messages,
        "seconds": round(elapsed, 3),
        "rate": round(messages / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "cpu_ms_per_message": round(cpu / max(messages, 1) * 1000, 4),
        "cpu_s_per_1000": round(cpu / max(messages, 1) * 1000, 4),
        "cpu_busy": round(cpu / elapsed, 3),
        "load_cpu_busy": round(own_cpu / elapsed, 3),
        "rss_mib": round(rss_after / 2**20, 1),
        # Resident memory the chargers added once connected, booted, charging and settled.
        "mib_per_charger": round((rss_connected - rss_before) / 2**20 / count, 3),
        # ... and after the flat-out run (includes what the run left behind: caches, backlogs).
        "mib_per_charger_after_run": round((rss_after - rss_before) / 2**20 / count, 3),
        "callerrors": errors,
        # Full (oldest generation) garbage collections in the window: count and total pause.
        "gc_gen2": len(lag.get("gc_pauses", [])),
        "gc_gen2_ms": round(sum(ms for _, ms in lag.get("gc_pauses", [])), 1),
    }
    if "states" in stats_after:
        result["states_per_charger"] = round(stats_after["states"] / count, 1)
        result["registry_entries_per_charger"] = round(stats_after["registry_entries"] / count, 1)
    if "state_writes" in stats_after:
        writes = stats_after["state_writes"] - stats_before["state_writes"]
        changes = stats_after["state_changes"] - stats_before["state_changes"]
        result["state_writes_per_message"] = round(writes / max(messages, 1), 3)
        if "sqlite_bytes" in stats_connected:
            # Of the memory per charger, what SQLite's page cache (the recorder's database) took.
            result["sqlite_mib_per_charger"] = round(
                (stats_connected["sqlite_bytes"] - stats_connect["sqlite_bytes"]) / 2**20 / count, 3
            )
        # Writes while a charger connects, boots, reports its status and starts a transaction.
        result["state_writes_per_connect"] = round(
            (stats_connected["state_writes"] - stats_connect["state_writes"]) / count, 1
        )
        result["state_changes_per_message"] = round(changes / max(messages, 1), 3)
        events = {
            key[6:]: stats_after[key] - stats_before.get(key, 0) for key in stats_after if key.startswith("event:")
        }
        if events:
            result["events"] = {key: value for key, value in sorted(events.items()) if value}
    return result


async def run_realistic(kind: str, count: int, options: argparse.Namespace) -> dict[str, Any]:
    """N chargers send one MeterValues every --interval seconds (spread evenly) for --realistic-duration."""
    server = await start_server(kind, options)
    chargers: list[Charger] = []
    samples: list[tuple[float, float]] = []  # (seconds since start, latency)
    try:
        await settle(server, 0.5)
        chargers = await connect_all(server, count, f"RL{count}")
        await settle(server, 2.0)
        # Quiet time: what booting chargers started (registry saves, the collections of the
        # garbage the warm-up made) is over before the steady state is measured.
        await asyncio.sleep(options.realistic_settle)
        gc_before = await server.command("gc-types") if options.gc_types else None
        await server.command("lag-start")
        cpu_before = process_cpu_seconds(server.pid)
        started = time.perf_counter() + 0.5
        duration = options.realistic_duration
        interval = options.interval

        async def periodic(index: int, charger: Charger) -> None:
            due = started + interval * index / count
            while due < started + duration:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                latency = await charger.meter_values()
                samples.append((due - started, latency))
                due += interval

        await asyncio.gather(*(periodic(index, charger) for index, charger in enumerate(chargers)))
        cpu = process_cpu_seconds(server.pid) - cpu_before
        lag = await server.command("lag-stop")
        if gc_before is not None:
            gc_after = await server.command("gc-types")
            grown = {
                name: gc_after["types"].get(name, 0) - gc_before["types"].get(name, 0)
                for name in set(gc_after["types"]) | set(gc_before["types"])
            }
            print(f"  gen-2 objects: {gc_before['total']} -> {gc_after['total']}; collections {gc_after['stats']}")
            for name, grew in sorted(grown.items(), key=lambda item: -abs(item[1]))[:25]:
                print(f"    {grew:+8d} {name} (now {gc_after['types'].get(name, 0)})")
    finally:
        await asyncio.gather(*(charger.close() for charger in chargers), return_exceptions=True)
        await server.stop()
    latencies = sorted(latency for _, latency in samples)
    slow = sorted(((round(at, 2), round(latency * 1000, 2)) for at, latency in samples if latency > 0.010))
    stalls = [(at, round(lag_s * 1000, 2)) for at, lag_s in lag.get("stalls", []) if lag_s > 0.005]
    return {
        "server": kind,
        "chargers": count,
        "interval_s": interval,
        "seconds": duration,
        "messages": len(samples),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round((latencies[-1] if latencies else float("nan")) * 1000, 3),
        "answers_over_10ms": len(slow),
        "slow_answers": slow[:50],
        "loop_max_lag_ms": round(lag.get("max_lag", 0.0) * 1000, 2),
        "loop_stalls_over_5ms": stalls[:100],
        "gc_pauses_ms": lag.get("gc_pauses", []),
        "stall_stacks": lag.get("stall_stacks", []),
        "periodic_spikes": periodicity([at for at, _ in stalls] or [at for at, _ in slow]),
        "cpu_busy": round(cpu / duration, 4),
    }


def periodicity(times: list[float]) -> dict[str, Any] | None:
    """Return the period of spikes that recur at a regular interval (clusters within 0.5 s)."""
    clusters: list[float] = []
    for at in sorted(times):
        if not clusters or at - clusters[-1] > 0.5:
            clusters.append(at)
    if len(clusters) < 3:
        return None
    gaps = [b - a for a, b in itertools_pairwise(clusters)]
    mean = statistics.fmean(gaps)
    spread = statistics.pstdev(gaps)
    return {"clusters": len(clusters), "mean_gap_s": round(mean, 2), "regular": spread < 0.2 * mean}


def itertools_pairwise(values: list[float]) -> list[tuple[float, float]]:
    return list(itertools.pairwise(values))


# --- output -------------------------------------------------------------------------------------


def print_flat_table(rows: list[dict[str, Any]]) -> None:
    print(PAGE)
    print("Flat-out: every charger sends MeterValues (10 sampled values) as soon as the previous one is answered")
    header = (
        f"{'N':>4} {'server':<7} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU s/1000':>10} {'busy':>5} "
        f"{'MiB/charger':>11} {'writes/msg':>10} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_n.setdefault(row["chargers"], {})[row["server"]] = row
    for count, servers in by_n.items():
        for kind, row in servers.items():
            writes = row.get("state_writes_per_message")
            print(
                f"{count:>4} {kind:<7} {row['rate']:>8.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                f"{row['cpu_s_per_1000']:>10.3f} {row['cpu_busy']:>5.2f} {row['mib_per_charger']:>11.3f} "
                f"{'' if writes is None else f'{writes:.3f}':>10} {row['callerrors']:>6}"
            )
        if "ha" in servers and "bare" in servers:
            ha, bare = servers["ha"], servers["bare"]
            print(
                f"{count:>4} {'ha/bare':<7} {ha['rate'] / bare['rate']:>8.2f} {'':>8} {'':>8} "
                f"{ha['cpu_s_per_1000'] / bare['cpu_s_per_1000']:>10.2f}"
            )
    print()


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_n: dict[int, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_n.setdefault(row["chargers"], {})[row["server"]] = row
    found = []
    for count, servers in by_n.items():
        if "ha" in servers and "bare" in servers:
            ha, bare = servers["ha"], servers["bare"]
            found.append(
                {
                    "chargers": count,
                    "rate_ha_over_bare": round(ha["rate"] / bare["rate"], 3),
                    "cpu_ha_over_bare": round(ha["cpu_s_per_1000"] / bare["cpu_s_per_1000"], 3),
                    "p99_ha_over_bare": round(ha["p99_ms"] / bare["p99_ms"], 3),
                }
            )
        for proxied in ("engine-proxied", "ha-proxied"):
            if proxied in servers and "bare" in servers:
                # What relaying through ocpp_cs adds to an answer of the same bare central system.
                found.append(
                    {
                        "chargers": count,
                        "server": proxied,
                        "relay_overhead_p50_ms": round(servers[proxied]["p50_ms"] - servers["bare"]["p50_ms"], 3),
                        "relay_overhead_p99_ms": round(servers[proxied]["p99_ms"] - servers["bare"]["p99_ms"], 3),
                    }
                )
    return found


def print_realistic(rows: list[dict[str, Any]]) -> None:
    print(PAGE)
    print("Realistic: one MeterValues per charger every interval, spread evenly")
    header = f"{'N':>4} {'server':<7} {'msgs':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>10ms':>6} {'loop lag ms':>11} {'periodic':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        periodic = row["periodic_spikes"]
        label = "-" if periodic is None else (f"{periodic['mean_gap_s']}s" if periodic["regular"] else "irregular")
        print(
            f"{row['chargers']:>4} {row['server']:<7} {row['messages']:>6} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['max_ms']:>8.2f} {row['answers_over_10ms']:>6} {row['loop_max_lag_ms']:>11.2f} {label:>10}"
        )
        if row["loop_stalls_over_5ms"]:
            shown = ", ".join(f"{at}s:{ms}ms" for at, ms in row["loop_stalls_over_5ms"][:12])
            print(f"{'':>12} loop stalls over 5 ms (time:lag): {shown}")
    print()


async def main(options: argparse.Namespace) -> int:
    if options.serve_bare:
        await serve_bare()
        return 0
    if options.serve_engine:
        await serve_engine()
        return 0
    counts = [int(n) for n in options.chargers.split(",") if n]
    servers = [s for s in options.servers.split(",") if s]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "options": {key: value for key, value in vars(options).items() if not key.startswith("serve")},
    }
    if not options.realistic_only:
        rows = []
        for count in counts:
            for kind in servers:
                print(f"flat-out: {kind} with {count} chargers for {options.duration:g} s ...", flush=True)
                row = await run_flat_out(kind, count, options)
                rows.append(row)
                print(f"  {json.dumps(row)}", flush=True)
        report["flat_out"] = rows
        report["ratios"] = ratios(rows)
        print_flat_table(rows)
    if options.realistic or options.realistic_only:
        rows = []
        for kind in [s for s in options.realistic_servers.split(",") if s]:
            print(
                f"realistic: {kind} with {options.realistic_chargers} chargers, one MeterValues each every "
                f"{options.interval:g} s, for {options.realistic_duration:g} s ...",
                flush=True,
            )
            rows.append(await run_realistic(kind, options.realistic_chargers, options))
        report["realistic"] = rows
        print_realistic(rows)
    document = json.dumps(report, indent=2)
    if options.json:
        Path(options.json).write_text(document + "\n")
        print(f"JSON written to {options.json}")
    print("JSON:")
    print(document)
    return 0


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", default="1,10,100,200", help="comma-separated N for the flat-out runs")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per flat-out run (default 10)")
    parser.add_argument(
        "--servers",
        default="bare,engine,ha",
        help="servers of the flat-out runs (bare,engine,ha; engine-proxied,ha-proxied: relayed to a bare upstream)",
    )
    parser.add_argument("--realistic", action="store_true", help="also run the realistic-load mode")
    parser.add_argument("--realistic-only", action="store_true", help="run only the realistic-load mode")
    parser.add_argument("--realistic-chargers", type=int, default=200, help="N of the realistic run (default 200)")
    parser.add_argument("--realistic-duration", type=float, default=60.0, help="seconds of the realistic run")
    parser.add_argument("--realistic-settle", type=float, default=15.0, help="quiet seconds before measuring")
    parser.add_argument("--gc-types", action="store_true", help="realistic: what the oldest GC generation gains")
    parser.add_argument("--realistic-servers", default="bare,ha", help="servers of the realistic runs")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between a charger's MeterValues")
    parser.add_argument("--no-recorder", dest="recorder", action="store_false", help="Home Assistant without recorder")
    parser.add_argument("--profile", metavar="PATH", help="cProfile Home Assistant's event loop (PATH.nN.prof)")
    parser.add_argument("--py-spy", metavar="PATH", help="sample the servers with py-spy (PATH.<server>.nN.txt)")
    parser.add_argument("--py-spy-servers", default="ha", help="servers --py-spy samples (default ha)")
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc: where the memory per charger goes")
    parser.add_argument(
        "--connect-batches", type=int, default=1,
        help="flat-out: connect the chargers in this many batches, settling (recorder commit) between",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the JSON report to PATH")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-engine", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_arguments(sys.argv[1:]))))
