#!/usr/bin/env python3
"""
Crash test: a real Home Assistant with ocpp_cs, a fleet of simulated chargers, SIGKILL at random moments.

Run it through `scripts/crash_test` (which provides .venv first); `scripts/crash_test --help`
lists the options. Not part of scripts/test: it takes a few minutes.

Home Assistant runs as its own process (`hass -c <temporary config> --skip-pip`, seeded by
scripts/ha_config.py with one ocpp_cs entry on 127.0.0.1) and this process is the fleet:
20 chargers of one or two connectors whose sessions start and stop, with MeterValues every
second or so. Like real chargers (and as OCPP 1.6 section 3.6 asks), each charger keeps its
transaction-related messages (StartTransaction, MeterValues, StopTransaction) in an outbox,
sends them in order and drops one only once the central system answered it: after a
reconnect it sends again whatever was not answered, so the central system sees replays of
messages it had handled (and saved) but whose answer died with it. Chargers go on charging
while Home Assistant is down. Each charger keeps its own ledger: every session, the
transaction id it was given, its meterStart and meterStop.

Home Assistant is killed (SIGKILL) --kills times at random moments; one phase is a burst of
sessions as fast as Home Assistant answers, killed in the middle once more stops were answered
since the history file was last written than the 200 stopped transactions the state keeps for
replays. After each kill the files on disk are checked at once: every StartTransaction and
StopTransaction the chargers had an answer for must be on disk, in the history file or in the
state that fills in the history after a crash; how far the history file lagged is shown.
Home Assistant is started again after a random pause; the chargers reconnect and replay.
At the end the fleet winds down (sessions end, outboxes drain), Home Assistant stops
normally and its stored history is checked against the ledgers: every transaction recorded
exactly once, with the right meter values and energy, and no transaction id given twice.

Exit status 0 when nothing was lost, duplicated, wrong or reused; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, deque
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import logging
from pathlib import Path
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

import ha_config
from ocpp.exceptions import OCPPError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

ROOT = Path(__file__).resolve().parent.parent
HASS = ROOT / ".venv" / "bin" / "hass"
# How a charger treats a CALLERROR to a transaction-related message (OCPP 1.6 section 3.6.1):
# TransactionMessageAttempts and TransactionMessageRetryInterval, short for a test.
ATTEMPTS = 3
RETRY_INTERVAL = 0.5
RESPONSE_TIMEOUT = 10


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the fleet -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One transaction in a charger's ledger."""

    charge_point_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    start: str
    meter_stop: int | None = None
    transaction_id: int | None = None
    start_answered_at: float | None = None
    stop_answered_at: float | None = None
    dropped: bool = False  # a message of it was refused ATTEMPTS times

    @property
    def energy_wh(self) -> int:
        assert self.meter_stop is not None
        return self.meter_stop - self.meter_start


@dataclass
class Message:
    """A transaction-related message in a charger's outbox."""

    action: str
    session: Session
    register: int
    timestamp: str
    sent: int = 0
    failures: int = 0

    def payload(self) -> Any:
        session = self.session
        if self.action == "StartTransaction":
            return call.StartTransaction(
                connector_id=session.connector_id, id_tag=session.id_tag, meter_start=session.meter_start,
                timestamp=self.timestamp,
            )
        assert session.transaction_id is not None
        if self.action == "MeterValues":
            return call.MeterValues(
                connector_id=session.connector_id,
                transaction_id=session.transaction_id,
                meter_value=[{
                    "timestamp": self.timestamp,
                    "sampledValue": [{
                        "value": str(self.register), "context": "Sample.Periodic",
                        "measurand": "Energy.Active.Import.Register", "unit": "Wh",
                    }],
                }],
            )
        return call.StopTransaction(
            transaction_id=session.transaction_id, meter_stop=self.register, timestamp=self.timestamp,
            reason="EVDisconnected", id_tag=session.id_tag,
        )


class Link(ChargePoint):
    """One connection of a charger: answers what the central system asks after a boot."""

    @on(Action.get_configuration)
    def on_get_configuration(self, **_: Any) -> Any:
        return call_result.GetConfiguration(configuration_key=[], unknown_key=[])

    @on(Action.change_configuration)
    def on_change_configuration(self, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status="Accepted")

    @on(Action.trigger_message)
    def on_trigger_message(self, **_: Any) -> Any:
        return call_result.TriggerMessage(status="Rejected")


class Fleet:
    """The chargers, what they are doing (`mode`) and what they were answered."""

    def __init__(self, url: str, count: int, rng: random.Random) -> None:
        self.url = url
        self.mode = "normal"  # normal | burst | wind_down
        self.chargers = [
            Charger(self, f"CP-{number:02d}", rng.choice((1, 2)), random.Random(rng.random())) for number in range(count)
        ]
        self.stops_answered = 0
        self.sent = 0
        self.resent = 0
        self.call_errors = 0
        self.timeouts = 0
        self.connects = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for charger in self.chargers:
            self._tasks.append(asyncio.create_task(charger.run()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def sessions(self) -> list[Session]:
        return [session for charger in self.chargers for session in charger.sessions]

    def connected(self) -> int:
        return sum(charger.connected for charger in self.chargers)

    def drained(self) -> bool:
        return all(charger.stories_done and not charger.outbox for charger in self.chargers)


class Charger:
    """A charger: stories per connector fill the outbox; the connection sends it, in order."""

    def __init__(self, fleet: Fleet, charge_point_id: str, connectors: int, rng: random.Random) -> None:
        self.fleet = fleet
        self.charge_point_id = charge_point_id
        self.connectors = connectors
        self.rng = rng
        self.outbox: deque[Message] = deque()
        self.queued = asyncio.Event()
        # Set while the outbox is short: a burst's sessions follow one another as fast as answers come.
        self.room = asyncio.Event()
        self.room.set()
        self.sessions: list[Session] = []
        self.registers = {c: rng.randrange(0, 5_000_000) for c in range(1, connectors + 1)}
        self.connected = False
        self.stories_done = False

    async def run(self) -> None:
        stories = [asyncio.create_task(self.story(c)) for c in range(1, self.connectors + 1)]
        connection = asyncio.create_task(self.connection_loop())
        try:
            await asyncio.gather(*stories)
            self.stories_done = True
            await connection
        finally:
            for task in [*stories, connection]:
                task.cancel()

    # What happens at the charger, connected or not.
    async def story(self, connector_id: int) -> None:
        rng = self.rng
        while self.fleet.mode != "wind_down":
            if self.fleet.mode == "burst":
                # Sessions back to back, as fast as the central system answers.
                await self.room.wait()
            else:
                await asyncio.sleep(rng.uniform(0.3, 2.5))
            burst = self.fleet.mode == "burst"
            session = Session(
                self.charge_point_id, connector_id, f"TAG-{rng.randrange(12)}",
                self.registers[connector_id], iso_now(),
            )
            self.sessions.append(session)
            self.queue(Message("StartTransaction", session, session.meter_start, session.start))
            for _ in range(1 if burst else rng.randint(1, 5)):
                await asyncio.sleep(0.02 if burst else rng.uniform(0.4, 1.2))
                self.registers[connector_id] += rng.randint(1, 400)
                self.queue(Message("MeterValues", session, self.registers[connector_id], iso_now()))
            self.registers[connector_id] += rng.randint(1, 100)
            session.meter_stop = self.registers[connector_id]
            await asyncio.sleep(0.002)  # the stop's timestamp is later than the last reading's
            self.queue(Message("StopTransaction", session, session.meter_stop, iso_now()))

    def queue(self, message: Message) -> None:
        self.outbox.append(message)
        self.queued.set()
        if len(self.outbox) > 3:
            self.room.clear()

    def unqueue(self) -> Message:
        message = self.outbox.popleft()
        if len(self.outbox) <= 3:
            self.room.set()
        return message

    async def connection_loop(self) -> None:
        url = f"{self.fleet.url}/{self.charge_point_id}"
        while not (self.stories_done and not self.outbox):
            try:
                async with connect(
                    url, subprotocols=["ocpp1.6"], open_timeout=5, close_timeout=1, ping_interval=None
                ) as websocket:
                    link = Link(self.charge_point_id, websocket, response_timeout=RESPONSE_TIMEOUT)
                    reader = asyncio.create_task(link.start())
                    sender = asyncio.create_task(self.send_outbox(link))
                    try:
                        await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        for task in (reader, sender):
                            task.cancel()
                        await asyncio.gather(reader, sender, return_exceptions=True)
                        self.connected = False
            except (OSError, WebSocketException, TimeoutError):
                pass
            if not (self.stories_done and not self.outbox):
                await asyncio.sleep(self.rng.uniform(0.2, 1.0))

    async def send_outbox(self, link: Link) -> None:
        boot = await link.call(
            call.BootNotification(charge_point_vendor="Crash", charge_point_model="Test"), suppress=False
        )
        if boot.status != "Accepted":
            raise RuntimeError(f"{self.charge_point_id}: BootNotification answered {boot.status}")
        self.connected = True
        self.fleet.connects += 1
        while True:
            if not self.outbox:
                if self.stories_done:
                    return
                self.queued.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await self.queued.wait()
                continue
            message = self.outbox[0]
            if message.action != "StartTransaction" and message.session.transaction_id is None:
                # Its StartTransaction was refused ATTEMPTS times: nothing to refer to.
                message.session.dropped = True
                self.unqueue()
                continue
            message.sent += 1
            self.fleet.sent += 1
            if message.sent > 1:
                self.fleet.resent += 1
            try:
                answer = await link.call(message.payload(), suppress=False)
            except OCPPError as error:  # a failure to process the message (3.6.1)
                self.fleet.call_errors += 1
                message.failures += 1
                print(f"  {self.charge_point_id}: {message.action} answered {error!r}", flush=True)
                if message.failures >= ATTEMPTS:
                    message.session.dropped = True
                    self.unqueue()
                else:
                    await asyncio.sleep(RETRY_INTERVAL * message.failures)
                continue
            except TimeoutError:
                self.fleet.timeouts += 1
                continue  # no answer: send it again
            self.unqueue()
            self.answered(message, answer)

    def answered(self, message: Message, answer: Any) -> None:
        session = message.session
        now = time.monotonic()
        if message.action == "StartTransaction":
            session.transaction_id = int(answer.transaction_id)
            session.start_answered_at = now
        elif message.action == "StopTransaction":
            session.stop_answered_at = now
            self.fleet.stops_answered += 1


# --- Home Assistant --------------------------------------------------------------------------------


class HomeAssistantProcess:
    """`hass` on a seeded configuration directory; each run logs to a file of its own."""

    def __init__(self, config: Path, ocpp_port: int, logs: Path) -> None:
        self.config = config
        self.ocpp_port = ocpp_port
        self.logs = logs
        self.process: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.log_path = logs / "hass.0.log"

    async def start(self, timeout: float) -> float:
        """Start Home Assistant; return the seconds until the OCPP port listened."""
        self.runs += 1
        self.log_path = self.logs / f"hass.{self.runs}.log"
        began = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(HASS), "-c", str(self.config), "--skip-pip", stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        while not await self._listening():
            if self.process.returncode is not None:
                raise RuntimeError(f"Home Assistant exited ({self.process.returncode}); see {self.log_path}")
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"the OCPP port did not open within {timeout:.0f} s; see {self.log_path}")
            await asyncio.sleep(0.1)
        return time.monotonic() - began

    async def _listening(self) -> bool:
        # /proc/net/tcp rather than connecting: a bare TCP probe makes the server log a failed handshake.
        port = f":{self.ocpp_port:04X}"
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields[1].endswith(port) and fields[3] == "0A":  # 0A: LISTEN
                        return True
        return False

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, timeout: float = 90) -> bool:
        """Stop Home Assistant as a user would (SIGTERM); False when it had to be killed."""
        if self.process is None or self.process.returncode is not None:
            return True
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await self.process.wait()
        except TimeoutError:
            await self.kill()
            return False
        return True


# --- what is on disk -------------------------------------------------------------------------------


@dataclass
class OnDisk:
    """The entry's two Store files as they are now, and how many sessions the history keeps."""

    max_records: int
    state: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, config: Path, entry_id: str, max_records: int) -> OnDisk:
        storage = config / ".storage"

        def load(name: str) -> dict[str, Any]:
            path = storage / name
            return json.loads(path.read_text())["data"] if path.exists() else {}

        return cls(max_records, load(f"ocpp_cs.{entry_id}"), load(f"ocpp_cs.{entry_id}.history"))

    def history_keys(self) -> set[tuple[str, int]]:
        return {(r["charge_point_id"], int(r["transaction_id"])) for r in self.history.get("records", ())}

    def state_keys(self, kind: str) -> set[tuple[str, int]]:
        return {(t["charge_point_id"], int(t["transaction_id"])) for t in self.state.get(kind, ())}

    def beyond_history(self, session: Session) -> bool:
        """Return True for a session older than a full history keeps (dropped by design, not lost)."""
        records = self.history.get("records", [])
        if len(records) < self.max_records:
            return False
        # <=: sessions that started in the same millisecond as the oldest kept one may be dropped.
        return moment(session.start) <= min(moment(r["start"]) for r in records if r.get("start"))


def check_at_kill(fleet: Fleet, disk: OnDisk, killed_at: float, run_began: float) -> tuple[int, str]:
    """
    Return (answers not on disk, a line on how far the history file lagged).

    A stop answered in an earlier run counts from `run_began` (when this run loaded the state
    and added it to its history): how long this Home Assistant held it unwritten.
    """
    in_history = disk.history_keys()
    stopped_in_state = {
        (t["charge_point_id"], int(t["transaction_id"])) for t in disk.state.get("recent_transactions", ()) if t.get("stop")
    }
    known = in_history | disk.state_keys("recent_transactions") | disk.state_keys("open_transactions")
    missing = 0
    behind: list[float] = []
    for session in fleet.sessions:
        if session.transaction_id is None or disk.beyond_history(session):
            continue
        key = (session.charge_point_id, session.transaction_id)
        if session.start_answered_at is not None and key not in known:
            missing += 1
            if missing <= 10:
                print(f"  NOT ON DISK: StartTransaction of {key} was answered before the kill", flush=True)
        if session.stop_answered_at is None:
            continue
        if key not in in_history:
            behind.append(killed_at - max(session.stop_answered_at, run_began))
            if key not in stopped_in_state:
                missing += 1
                if missing <= 10:
                    print(f"  NOT ON DISK: StopTransaction of {key} was answered before the kill", flush=True)
    kept = len(disk.state.get("recent_transactions", ()))
    if behind:
        lag = (
            f"the history file lacked {len(behind)} stops (held unwritten for up to {max(behind):.1f} s), "
            f"the state kept {kept} stopped"
        )
    else:
        lag = f"the history file was up to date, the state kept {kept} stopped"
    return missing, lag


@dataclass
class Verdict:
    transactions: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong_energy: int = 0
    reused_ids: int = 0
    beyond_history: int = 0  # older than the history's MAX_RECORDS newest sessions: dropped by design
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong_energy or self.reused_ids or self.problems)


def verify(fleet: Fleet, disk: OnDisk) -> Verdict:
    """Hold the stored history against the chargers' ledgers."""
    verdict = Verdict()
    sessions = fleet.sessions
    verdict.transactions = len(sessions)
    records = disk.history.get("records", [])
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in records:
        by_key.setdefault((record["charge_point_id"], int(record["transaction_id"])), []).append(record)
    unfinished = [s for s in sessions if s.stop_answered_at is None or s.transaction_id is None or s.dropped]
    if unfinished:
        verdict.problems.append(f"{len(unfinished)} sessions never had their StopTransaction answered")
    ids = Counter(s.transaction_id for s in sessions if s.transaction_id is not None)
    verdict.reused_ids = sum(count - 1 for count in ids.values() if count > 1)
    record_ids = Counter(int(r["transaction_id"]) for r in records)
    verdict.reused_ids += sum(count - 1 for count in record_ids.values() if count > 1)
    matched: set[tuple[str, int]] = set()
    for session in sessions:
        if session.transaction_id is None:
            continue
        key = (session.charge_point_id, session.transaction_id)
        found = by_key.get(key, [])
        if not found and disk.beyond_history(session):
            verdict.beyond_history += 1
            continue
        if not found:
            verdict.lost += 1
            if verdict.lost <= 10:
                print(f"  LOST: {key} (meterStart {session.meter_start}, meterStop {session.meter_stop})")
            continue
        matched.add(key)
        verdict.duplicated += len(found) - 1
        record = found[0]
        if (
            record.get("meter_start") != session.meter_start
            or record.get("meter_stop") != session.meter_stop
            or record.get("energy_wh") != session.energy_wh
            or record.get("connector_id") != session.connector_id
            or record.get("id_tag") != session.id_tag
            or not record.get("start_seen")
            or not record.get("stop_seen")
        ):
            verdict.wrong_energy += 1
            if verdict.wrong_energy <= 10:
                print(f"  WRONG: {key}: ledger {session.meter_start}..{session.meter_stop}, recorded {record}")
    # Records no ledger has: a session recorded a second time under another id (or made up).
    extra = [key for key in by_key if key not in matched]
    verdict.duplicated += sum(len(by_key[key]) for key in extra)
    for key in extra[:10]:
        print(f"  NOT IN ANY LEDGER: {by_key[key][0]}")
    # Energy per id tag, every session counted once.
    want: Counter[str] = Counter()
    for session in sessions:
        if session.meter_stop is not None:
            want[session.id_tag.casefold()] += session.energy_wh
    totals = {tag: round(wh) for tag, wh in (disk.history.get("totals_wh") or {}).items()}
    if totals != dict(want):
        verdict.problems.append(f"energy totals per id tag differ: stored {totals}, ledgers {dict(want)}")
    left_open = disk.state.get("open_transactions", [])
    if left_open:
        verdict.problems.append(f"{len(left_open)} transactions still open in the state: {left_open[:3]}")
    next_id = int(disk.state.get("next_transaction_id", 0))
    if ids and next_id <= max(i for i in ids if i is not None):
        verdict.problems.append(f"next_transaction_id {next_id} would hand out an id already given")
    return verdict


# --- the run ---------------------------------------------------------------------------------------


async def wait_until(predicate: Any, timeout: float, what: str) -> None:
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def burst(fleet: Fleet, history_path: Path, unwritten: int, timeout: float = 60) -> int:
    """
    Return once `unwritten` stops were answered since the history file last changed on disk.

    That is more stops than the state keeps for replays (200) that only the state has: the
    moment for a kill that a fixed margin would not survive. The count starts at a write seen
    during the burst (the history is written while stops keep coming). Gives up after
    `timeout` seconds (the site is not that fast) and returns how many there were.
    """

    def modified() -> int | None:
        try:
            return history_path.stat().st_mtime_ns
        except OSError:
            return None

    began = time.monotonic()
    last_change = modified()
    written_at_stop: int | None = None
    while time.monotonic() - began < timeout:
        if (change := modified()) != last_change:
            # Roughly: the write took its snapshot a little before it ended, and answers reach
            # the chargers a little after; the check after the kill reads the file itself.
            last_change, written_at_stop = change, fleet.stops_answered
        if written_at_stop is not None and fleet.stops_answered - written_at_stop >= unwritten:
            break
        await asyncio.sleep(0.005)
    return fleet.stops_answered - (written_at_stop or 0)


def replays_logged(logs: Path) -> int:
    return sum(path.read_text(errors="replace").count(" replayed") for path in logs.glob("hass.*.log"))


async def run(args: argparse.Namespace, workdir: Path) -> bool:
    sys.path.insert(0, str(ROOT))
    from custom_components.ocpp_cs.engine.central import RECENT_TRANSACTIONS
    from custom_components.ocpp_cs.engine.history import MAX_RECORDS

    rng = random.Random(args.seed)
    config = workdir / "config"
    ocpp_port, http_port = free_port(), free_port()
    entry_id = ha_config.seed_files(
        config, name="ocpp_cs crash test", ocpp_port=ocpp_port, http_port=http_port, web_ui=False,
        host="127.0.0.1", ocpp_log_level="info",
    )
    if args.debug_log:
        # configuration.yaml ends with the logger's `logs:` mapping.
        with (config / "configuration.yaml").open("a") as yaml:
            yaml.write("    homeassistant.helpers.storage: debug\n    custom_components.ocpp_cs: debug\n")
    history_path = config / ".storage" / f"ocpp_cs.{entry_id}.history"
    hass = HomeAssistantProcess(config, ocpp_port, workdir)
    fleet = Fleet(f"ws://127.0.0.1:{ocpp_port}", args.chargers, rng)
    burst_phase = rng.randrange(2, args.kills + 1) if args.kills >= 2 else 1
    missing_at_kills = 0
    try:
        took = await hass.start(args.start_timeout)
        run_began = time.monotonic()
        print(f"Home Assistant up ({took:.1f} s); {args.chargers} chargers connect to ws://127.0.0.1:{ocpp_port}", flush=True)
        fleet.start()
        await wait_until(lambda: fleet.connected() == args.chargers, 60, "every charger to connect")
        for phase in range(1, args.kills + 1):
            stops_before = fleet.stops_answered
            phase_began = time.monotonic()
            if phase == burst_phase:
                fleet.mode = "burst"
                unwritten = await burst(fleet, history_path, RECENT_TRANSACTIONS + rng.randint(1, args.burst_extra))
                what = (
                    f"a burst of {fleet.stops_answered - stops_before} stops in {time.monotonic() - phase_began:.1f} s "
                    f"({unwritten} since the history's last write)"
                )
            else:
                await asyncio.sleep(rng.uniform(args.min_phase, args.max_phase))
                what = f"{fleet.stops_answered - stops_before} stops in {time.monotonic() - phase_began:.1f} s"
            await hass.kill()
            killed_at = time.monotonic()
            fleet.mode = "normal"
            # What the kill left, for a look afterwards (--keep, or kept on failure).
            shutil.copytree(config / ".storage", workdir / f"storage_at_kill_{phase}")
            missing, lag = check_at_kill(fleet, OnDisk.read(config, entry_id, MAX_RECORDS), killed_at, run_began)
            missing_at_kills += missing
            print(f"SIGKILL {phase}/{args.kills} after {what}: {lag}; {missing} answers not on disk", flush=True)
            await asyncio.sleep(rng.uniform(0.5, 3.0))  # chargers queue what happens meanwhile
            took = await hass.start(args.start_timeout)
            run_began = time.monotonic()
            print(f"  restarted ({took:.1f} s); {sum(len(c.outbox) for c in fleet.chargers)} messages queued", flush=True)
        await asyncio.sleep(rng.uniform(args.min_phase, args.max_phase))
        fleet.mode = "wind_down"
        await wait_until(fleet.drained, 180, "the chargers to end their sessions and empty their outboxes")
        stopped_cleanly = await hass.stop()
    finally:
        await fleet.close()
        await hass.stop(timeout=30)

    (workdir / "ledger.json").write_text(json.dumps([vars(session) for session in fleet.sessions]))
    verdict = verify(fleet, OnDisk.read(config, entry_id, MAX_RECORDS))
    if not stopped_cleanly:
        verdict.problems.append("Home Assistant did not stop within 90 s of SIGTERM")
    if missing_at_kills:
        verdict.problems.append(f"{missing_at_kills} answered messages were not on disk at a kill")
    print(
        f"fleet: {fleet.sent} transaction messages sent, {fleet.resent} of them again after a kill or timeout, "
        f"{fleet.call_errors} CALLERRORs, {fleet.connects} connections; "
        f"{replays_logged(workdir)} replays recognised by ocpp_cs"
    )
    if verdict.beyond_history:
        print(f"{verdict.beyond_history} sessions older than the history's {MAX_RECORDS} newest (dropped by design)")
    for problem in verdict.problems:
        print(f"PROBLEM: {problem}")
    print(
        f"crash test: {verdict.transactions} transactions, {verdict.lost} lost, {verdict.duplicated} duplicated, "
        f"{verdict.wrong_energy} wrong energy, {verdict.reused_ids} reused ids "
        f"({args.kills} SIGKILLs, {args.chargers} chargers, seed {args.seed})",
        flush=True,
    )
    return verdict.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, help="the random choices of the run (default: a new one, printed)")
    parser.add_argument("--min-phase", type=float, default=4.0, help="least seconds between a start and a kill")
    parser.add_argument("--max-phase", type=float, default=12.0, help="most seconds between a start and a kill")
    parser.add_argument(
        "--burst-extra", type=int, default=100,
        help="the burst's kill comes after 200 + up to this many stops since the history file's last write",
    )
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--debug-log", action="store_true", help="ocpp_cs and Store writes at debug level")
    parser.add_argument(
        "--keep", action="store_true",
        help="keep the configuration, the logs, the Store files as each kill left them and the ledgers (kept on failure)",
    )
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1_000_000)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The library logs every CALLERROR and unanswered call; the fleet counts them instead.
    logging.getLogger("ocpp").setLevel(logging.CRITICAL)
    if not HASS.exists():
        sys.exit(f"{HASS} is missing: run this through scripts/crash_test")
    workdir = Path(tempfile.mkdtemp(prefix="ocpp_cs_crash_"))
    print(f"crash test: seed {args.seed}, files in {workdir}", flush=True)

    async def bounded() -> bool:
        async with asyncio.timeout(args.timeout):
            return await run(args, workdir)

    ok = False
    try:
        ok = asyncio.run(bounded())
    except (RuntimeError, TimeoutError) as err:
        print(f"crash test: FAILED: {err!r}", flush=True)
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"crash test: configuration and logs kept in {workdir}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
