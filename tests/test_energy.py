"""The Energy dashboard counts what the chargers delivered, through Home Assistant's own statistics.

Every register behaviour seen in real chargers is played by a simulated charger over a real
WebSocket; the states are recorded by Home Assistant's recorder and compiled into long-term
statistics by its own code (sensor/recorder.py), and the statistics' sums are held against
the energy of the sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
import logging
from typing import Any

from homeassistant.components.recorder import Recorder, get_instance
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    statistics_during_period,
)

from custom_components.ocpp_cs import meter_sensor
from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine import energy
from custom_components.ocpp_cs.engine.meter import DEFAULT_MEASURAND, MeterReading
from custom_components.ocpp_cs.engine.state import (
    REGISTER_DROP_CONFIRMATIONS,
    ChargerState,
    ConnectorState,
    Transaction,
)

from .charger import SimCharger, charger, now_iso
from .conftest import EntryFactory, free_port, hub_of, port_of
from .helpers import entity_id, full_state, has_entity, sampled, state

REGISTER = DEFAULT_MEASURAND  # Energy.Active.Import.Register


@pytest.fixture(autouse=True)
def quiet_database_log() -> None:
    """The harness logs every SQL statement of the recorder."""
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: Any) -> None:
    """Prepare the recorder's database before Home Assistant starts (`hass` uses this fixture)."""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def climb(start: int, energy_wh: int, step: int = 1000) -> list[int]:
    """Return register values from `start` up to `start + energy_wh`, every `step` Wh."""
    return [*range(start, start + energy_wh, step), start + energy_wh]


async def charge(
    cp: SimCharger,
    connector: int,
    meter_start: int,
    readings: list[str],
    meter_stop: int,
    *,
    unit: str = "Wh",
    **stop_fields: Any,
) -> int:
    """Play a session: StartTransaction, a MeterValues per reading, StopTransaction; return its id."""
    tx = (await cp.start_transaction(connector, "CARD", meter_start)).transaction_id
    for value in readings:
        await cp.meter(connector, [sampled(value, REGISTER, unit)], transaction_id=tx)
    await cp.stop_transaction(tx, meter_stop, **stop_fields)
    return tx


async def idle(cp: SimCharger, connector: int, *values: int) -> None:
    """Send register readings outside any transaction (clock-aligned, or after a firmware update)."""
    for value in values:
        await cp.meter(connector, [sampled(str(value), REGISTER, "Wh", context="Sample.Clock")])


async def charge_end_only(cp: SimCharger, meter_start: int, end: int) -> None:
    """Play a session of a charger that sends meterStop 0 and its register only in Transaction.End."""
    tx = (await cp.start_transaction(1, "CARD", meter_start)).transaction_id
    end_value = {"timestamp": now_iso(), "sampledValue": [sampled(str(end), REGISTER, "Wh", context="Transaction.End")]}
    await cp.stop_transaction(tx, 0, transaction_data=[end_value])


@dataclass
class Behaviour:
    """A charger whose register behaves one way, and the energy it delivered per connector."""

    charge_point_id: str
    play: Callable[[SimCharger, Behaviour], Awaitable[None]]
    delivered: dict[int, int] = field(default_factory=dict)
    # How the register sensor's statistics compare with the sessions (None: no register sensor).
    register_exact: bool | None = True

    def add(self, connector: int, energy_wh: int) -> None:
        self.delivered[connector] = self.delivered.get(connector, 0) + energy_wh


async def lifetime(cp: SimCharger, b: Behaviour) -> None:
    """A lifetime register on each of two connectors (the charger's `energy` is their sum)."""
    registers = {1: 1_000_000, 2: 2_000_000}
    for sessions in ((7000, 6000), (9000, 5000), (8000, 4000)):
        for connector, energy_wh in zip((1, 2), sessions, strict=True):
            start = registers[connector]
            await idle(cp, connector, start)
            await charge(cp, connector, start, [str(v) for v in climb(start, energy_wh)], start + energy_wh)
            registers[connector] = start + energy_wh
            b.add(connector, energy_wh)


async def per_session(cp: SimCharger, b: Behaviour) -> None:
    """A register that restarts at 0 for every session; each climbs back near the last one (its
    third reading, which would confirm a drop held back, is above 90% of the last session's)."""
    for energy_wh in (10_000, 9_600, 9_800, 9_900):
        await charge(cp, 1, 0, [str(v) for v in climb(0, energy_wh, 4500)], energy_wh)
        b.add(1, energy_wh)


async def lifetime_from_zero(cp: SimCharger, b: Behaviour) -> None:
    """A lifetime register in the readings, meterStart 0, and meterStop 0 or the register's value
    (the first session with no register shown before it)."""
    register = 1_000_000
    for energy_wh, stop_filled in ((5000, False), (6000, True), (4000, False), (3000, True)):
        values = [str(v) for v in climb(register, energy_wh)]
        await charge(cp, 1, 0, values, register + energy_wh if stop_filled else 0)
        register += energy_wh
        b.add(1, energy_wh)


async def glitch(cp: SimCharger, b: Behaviour) -> None:
    """A lifetime register that reads 0 once in the middle of a session."""
    start = 500_000
    for energy_wh in (6000, 7000):
        values = [str(v) for v in climb(start, energy_wh)]
        if energy_wh == 6000:
            values.insert(3, "0")
        await charge(cp, 1, start, values, start + energy_wh)
        start += energy_wh
        b.add(1, energy_wh)


async def kwh_one_decimal(cp: SimCharger, b: Behaviour) -> None:
    """A register in kWh with one decimal; meterStart and meterStop in Wh (the last session's
    readings end above its meterStop: 35.6 kWh, rounded up from 35 553 Wh)."""
    start = 12_345
    for energy_wh in (7777, 8888, 6543):
        values = [f"{v / 1000:.1f}" for v in climb(start, energy_wh, 700)]
        await charge(cp, 1, start, values, start + energy_wh, unit="kWh")
        start += energy_wh
        b.add(1, energy_wh)


async def stop_only(cp: SimCharger, b: Behaviour) -> None:
    """No MeterValues at all: the energy is known from meterStop."""
    start = 40_000
    for energy_wh in (5000, 6000):
        await charge(cp, 1, start, [], start + energy_wh)
        start += energy_wh
        b.add(1, energy_wh)


async def transaction_end_only(cp: SimCharger, b: Behaviour) -> None:
    """No MeterValues; meterStop 0 and the register only in the stop's Transaction.End value."""
    start = 70_000
    for energy_wh in (4000, 4500):
        await charge_end_only(cp, start, start + energy_wh)
        start += energy_wh
        b.add(1, energy_wh)


async def transaction_end_only_from_zero(cp: SimCharger, b: Behaviour) -> None:
    """A register that restarts per session, meterStart and meterStop 0, Transaction.End alone."""
    for energy_wh in (3000, 3500):
        await charge_end_only(cp, 0, energy_wh)
        b.add(1, energy_wh)


async def firmware_update(cp: SimCharger, b: Behaviour) -> None:
    """A register that jumps up after one firmware update and restarts at 0 after another."""
    await charge(cp, 1, 100_000, [str(v) for v in climb(100_000, 5000)], 105_000)
    await idle(cp, 1, 900_000)  # jumped: not energy anybody delivered
    await charge(cp, 1, 900_000, [str(v) for v in climb(900_000, 6000)], 906_000)
    await idle(cp, 1, 0, 0, 0)  # reset to 0, confirmed by three readings
    await charge(cp, 1, 0, [str(v) for v in climb(0, 7000)], 7000)
    for energy_wh in (5000, 6000, 7000):
        b.add(1, energy_wh)


async def replays(cp: SimCharger, b: Behaviour) -> None:
    """Replayed StartTransaction and StopTransaction, a lost stop that turns up late."""
    first = await charge(cp, 1, 300_000, [str(v) for v in climb(300_000, 4000)], 304_000)
    await cp.stop_transaction(first, 304_000)  # replayed: counted once
    second = (await cp.start_transaction(1, "CARD", 304_000)).transaction_id
    for value in climb(304_000, 2500):
        await cp.meter(1, [sampled(str(value), REGISTER, "Wh")], transaction_id=second)
    # The second session's stop is lost: the third starts (its stop is reconstructed) ...
    when = now_iso()
    third = (await cp.start_transaction(1, "CARD", 307_000, timestamp=when)).transaction_id
    assert (await cp.start_transaction(1, "CARD", 307_000, timestamp=when)).transaction_id == third  # replayed
    for value in climb(307_000, 4000):
        await cp.meter(1, [sampled(str(value), REGISTER, "Wh")], transaction_id=third)
    # ... and it turns up after all, then is replayed.
    await cp.stop_transaction(second, 307_000)
    await cp.stop_transaction(second, 307_000)
    await cp.stop_transaction(third, 311_000)
    for energy_wh in (4000, 3000, 4000):
        b.add(1, energy_wh)


BEHAVIOURS = (
    Behaviour("LIFETIME", lifetime),
    Behaviour("PER-SESSION", per_session),
    Behaviour("LIFETIME-0", lifetime_from_zero),
    Behaviour("GLITCH", glitch),
    Behaviour("KWH", kwh_one_decimal, register_exact=False),
    Behaviour("STOP-ONLY", stop_only, register_exact=None),
    Behaviour("END-ONLY", transaction_end_only, register_exact=False),
    Behaviour("END-ONLY-0", transaction_end_only_from_zero, register_exact=False),
    Behaviour("FIRMWARE", firmware_update, register_exact=False),
    Behaviour("REPLAYS", replays),
)


def period_starts(first: datetime, last: datetime) -> list[datetime]:
    """Return the starts of the 5-minute statistics periods from `first` to `last`."""
    start = first.replace(minute=first.minute - first.minute % 5, second=0, microsecond=0)
    starts = []
    while start <= last:
        starts.append(start)
        start += timedelta(minutes=5)
    return starts


async def statistics_sums(hass: HomeAssistant, first_period: datetime, entity_ids: set[str]) -> dict[str, float]:
    """Return the long-term statistics sum of each entity, as the Energy dashboard reads it."""
    rows = await get_instance(hass).async_add_executor_job(
        partial(statistics_during_period, hass, first_period, None, entity_ids, "5minute", None, {"sum"})
    )
    return {entity: float(found[-1]["sum"]) for entity, found in rows.items()}


def within(value: float, expected: float, tolerance: float = 0.005) -> bool:
    return abs(value - expected) <= tolerance * expected


async def test_energy_dashboard_counts_what_every_register_behaviour_delivered(
    recorder_mock: Recorder, hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    began = dt_util.utcnow()
    entry = await setup_entry()
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    for behaviour in BEHAVIOURS:
        behaviour.delivered.clear()
        async with charger(port_of(entry), behaviour.charge_point_id) as cp:
            await cp.boot()
            await behaviour.play(cp, behaviour)
            # The last coalesced writes (state_writes.py) are done while it is connected.
            await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    for start in period_starts(began, dt_util.utcnow()):
        do_adhoc_statistics(hass, start=start)
        await async_wait_recording_done(hass)

    history = list(hub_of(entry).central.history)
    wanted: dict[str, float] = {}  # entity id -> kWh the sessions delivered
    registers: dict[str, tuple[Behaviour, float]] = {}
    for b in BEHAVIOURS:
        cp_id = b.charge_point_id
        # The transactions are recorded exactly: the sessions' energy is what was delivered.
        for connector, delivered in b.delivered.items():
            recorded = [r.energy_wh for r in history if r.charge_point_id == cp_id and r.connector_id == connector]
            assert sum(e or 0 for e in recorded) == delivered, cp_id
            wanted[entity_id(hass, f"{cp_id}_{connector}_energy")] = delivered / 1000
            unique_id = f"{cp_id}_{connector}_energy_active_import_register"
            assert has_entity(hass, unique_id) is (b.register_exact is not None), cp_id
            if has_entity(hass, unique_id):
                registers[entity_id(hass, unique_id)] = (b, delivered / 1000)
        wanted[entity_id(hass, f"{cp_id}_0_energy")] = sum(b.delivered.values()) / 1000
    sums = await statistics_sums(hass, period_starts(began, began)[0], set(wanted) | set(registers))

    print("\nstatistics sum (kWh) vs sessions' energy (kWh):")
    for entity, expected in [*wanted.items(), *((e, kwh) for e, (_b, kwh) in registers.items())]:
        print(f"  {entity:60} {sums.get(entity, float('nan')):12.3f} {expected:10.3f}")
    for entity, expected in wanted.items():
        # The Energy dashboard's figure: what the sessions delivered, within 0.5 %.
        assert within(sums[entity], expected), (entity, sums[entity], expected)
        assert within(float(hass.states.get(entity).state), expected), entity  # type: ignore[union-attr]
        # Never going down (no "state is not strictly increasing"), replays never counted.
        values = [float(e.data["new_state"].state) for e in changes if e.data["entity_id"] == entity]
        assert values == sorted(values), entity
    assert "not strictly increasing" not in caplog.text

    # The register sensor is what the register says; its statistics are right where the
    # register is (a lifetime register, one that restarts per session, a one-reading glitch) ...
    for entity, (b, expected) in registers.items():
        if b.register_exact:
            assert within(sums[entity], expected), (entity, sums[entity], expected)
    # ... and not where it is not: the firmware's jump counts as energy, a register seen only at
    # a session's end misses the first session, and one in kWh is as coarse as its decimal.
    assert sums[entity_id(hass, "FIRMWARE_1_energy_active_import_register")] == pytest.approx(18.0 + 795.0)
    assert sums[entity_id(hass, "END-ONLY_1_energy_active_import_register")] == pytest.approx(4.5)
    assert sums[entity_id(hass, "END-ONLY-0_1_energy_active_import_register")] == pytest.approx(3.5)
    assert within(sums[entity_id(hass, "KWH_1_energy_active_import_register")], 23.208, 0.01)

    # A register that restarts per session shows the restart at once, between the sessions.
    register = entity_id(hass, "PER-SESSION_1_energy_active_import_register")
    shown = [e.data["new_state"].state for e in changes if e.data["entity_id"] == register]
    assert shown == ["0.0", "10.0", "0.0", "9.6", "0.0", "9.8", "0.0", "9.9", "unavailable"]


async def test_readings_on_connector_0_count_for_the_transactions_connector(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    """Some chargers send MeterValues on connector 0 (the main meter) with the transaction's id."""
    entry = await setup_entry()
    async with charger(port_of(entry), "MAIN") as cp:
        await cp.boot()
        tx = (await cp.start_transaction(1, "CARD", 20_000)).transaction_id
        await cp.meter(0, [sampled("21500", REGISTER, "Wh")], transaction_id=tx)
        await hass.async_block_till_done()
        assert float(state(hass, "MAIN_1_energy")) == 1.5
        assert float(state(hass, "MAIN_0_energy")) == 1.5
        await cp.stop_transaction(tx, 22_000)
        await hass.async_block_till_done()
        assert float(state(hass, "MAIN_1_energy")) == 2.0
        assert float(state(hass, "MAIN_0_energy")) == 2.0


async def test_drops_of_the_register_are_written_one_pair_per_spacing_and_in_order(
    hass: HomeAssistant, setup_entry: EntryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sessions of a register that restarts for each, faster than the coalescing spacing."""
    monkeypatch.setattr(meter_sensor, "MAX_HELD_DROPS", 2)
    entry = await setup_entry()
    spacing = hub_of(entry).state_writes.spacing
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)
    sessions = 3 + meter_sensor.MAX_HELD_DROPS
    async with charger(port_of(entry), "FAST") as cp:
        await cp.boot()
        began = hass.loop.time()
        for _ in range(sessions):
            await charge(cp, 1, 0, ["0", "5000", "10000"], 10_000)
        assert hass.loop.time() - began < spacing  # all faster than the spacing
        await hass.async_block_till_done()
        register = entity_id(hass, "FAST_1_energy_active_import_register")
        shown = [e for e in changes if e.data["entity_id"] == register]
        values = [e.data["new_state"].state for e in shown]
        # Every reset is shown between the sessions (bar the two merged beyond the held ones) ...
        assert values == ["0.0", "10.0"] + ["0.0", "10.0"] * (sessions - 2)
        # ... one drop per spacing at most.
        resets = [e.time_fired.timestamp() for e in shown if e.data["new_state"].state == "0.0"][1:]
        assert all(b - a >= 0.9 * spacing for a, b in pairwise(resets))
        assert float(state(hass, "FAST_1_energy")) == pytest.approx(10.0 * sessions)


# --- the engine's rules, without Home Assistant ----------------------------------------------


def reading(value: float, moment: datetime, unit: str = "Wh") -> MeterReading:
    return MeterReading(value, unit, moment, REGISTER)


def transaction(meter_start: int, **fields: Any) -> Transaction:
    return Transaction(1, "CP", 1, "CARD", meter_start, datetime.now(UTC), **fields)


@pytest.mark.parametrize(
    ("meter_start", "readings", "meter_stop", "expected"),
    [
        (1000, [], 3500, 2500),  # meterStop alone
        (1000, [1500, 2000], None, 1000),  # running: the highest reading so far
        (1000, [5000, 0], None, 4000),  # a glitch to 0 never takes energy away
        (1000, [5000, 5200], 300, 4200),  # meterStop below meterStart: the highest reading
        (9000, [], 100, 0),  # ... and without readings, 0
        (70_000, [74_000], 0, 4000),  # meterStop 0, Transaction.End alone: from meterStart
        (0, [3000], 0, 3000),  # the same from a register that restarts per session
        (0, [120_000, 125_000], 0, 5000),  # neither end filled in: from the first reading
        (0, [0, 1500], None, 1500),  # running from meterStart 0
        (500, [], 500, 0),
    ],
)
def test_session_energy(meter_start: int, readings: list[int], meter_stop: int | None, expected: int) -> None:
    t = transaction(meter_start)
    for value in readings:
        if t.first_register_wh is None:
            t.first_register_wh = value
        t.last_register_wh = max(value, t.last_register_wh or value)
    t.meter_stop = meter_stop
    assert t.energy_wh() == expected


@pytest.mark.parametrize(
    ("before", "readings", "meter_stop", "expected"),
    [
        (None, [1_000_000, 1_001_000], 0, 1000),  # a lifetime register: from its first reading
        (None, [1_000_000, 1_001_000], 1_001_000, 1000),  # ... and meterStop its value
        (1_000_000, [1_000_200, 1_001_000], 1_001_000, 1000),  # from the register before it
        (1_000_000, [999_500, 1_001_000], 0, 1500),  # ... or a first reading a little lower
        (1_000_000, [], 1_001_000, 1000),  # no readings: meterStop against the register before
        (10_000, [300, 5000], 5000, 5000),  # a register that restarted: from meterStart 0
        (0, [300, 5000], 0, 5000),
        (None, [300, 5000], 5000, 5000),
        (None, [], 150_000, 150_000),
    ],
)
def test_a_lifetime_register_with_meter_start_0(
    before: float | None, readings: list[int], meter_stop: int, expected: int
) -> None:
    """The running energy is what the stop will record: never the whole register."""
    t = transaction(0, register_before_wh=before)
    for value in readings:
        if t.first_register_wh is None:
            t.first_register_wh = value
        t.last_register_wh = max(value, t.last_register_wh or value)
        assert (t.energy_wh() or 0) <= expected
    if readings:
        assert t.energy_wh() == expected
    t.meter_stop = meter_stop
    assert t.energy_wh() == expected
    assert Transaction.from_dict(t.to_dict()).energy_wh() == expected


def test_register_restart_is_shown_when_a_reading_confirms_it_and_a_glitch_is_held_back() -> None:
    charger = ChargerState("CP")
    connector, _ = charger.connector(1)
    published: list[float] = []
    key = "energy_active_import_register"

    def publish(key: str) -> None:
        published.append(connector.meters[key].value)

    now = datetime.now(UTC)
    assert charger.apply_reading(connector, key, reading(10_000, now), publish)
    # A glitch: held back until three lower readings confirm it.
    assert not charger.apply_reading(connector, key, reading(0, now), publish)
    assert connector.meters[key].value == 10_000
    assert charger.apply_reading(connector, key, reading(10_100, now), publish)
    assert published == []
    # A new session from 0: expected, nothing shown until a reading of the session shows it ...
    later = now + timedelta(seconds=1)
    held = reading(200, later + timedelta(seconds=1))  # arrived before the StartTransaction
    assert not charger.apply_reading(connector, key, held, publish)
    assert charger.expect_register_restart(connector, reading(0, later), publish)
    # ... as this one did: shown at once, and the values on both sides are published.
    assert published == [10_100, 200]
    assert connector.meters[key].value == 200
    assert connector.pending_drop == []
    assert connector.pending_restart is None
    # Without readings held back: the first reading that shows the restart.
    published.clear()
    assert charger.apply_reading(connector, key, reading(10_000, later + timedelta(seconds=2)), publish)
    assert charger.expect_register_restart(connector, reading(100, later + timedelta(seconds=3)), publish)
    assert connector.meters[key].value == 10_000
    # An older reading, or one below meterStart (a glitch), confirms nothing.
    assert not charger.apply_reading(connector, key, reading(5, later), publish)
    assert not charger.apply_reading(connector, key, reading(50, later + timedelta(seconds=4)), publish)
    assert published == []
    assert charger.apply_reading(connector, key, reading(150, later + timedelta(seconds=5)), publish)
    assert published == [10_000, 150]
    # Rounding (a register in kWh against meterStart in Wh) is no restart.
    connector.meters[key] = reading(12.4, later + timedelta(seconds=6), "kWh")
    assert not charger.expect_register_restart(connector, reading(12_350, later + timedelta(seconds=7)), publish)
    # A reading older than the one shown changes nothing.
    assert not charger.expect_register_restart(connector, reading(0, now), publish)
    assert connector.pending_restart is None


def test_a_lifetime_register_with_meter_start_0_shows_no_restart() -> None:
    """meterStart 0 below a lifetime register: the session's readings go on from it."""
    charger = ChargerState("CP")
    connector, _ = charger.connector(1)
    published: list[float] = []
    key = "energy_active_import_register"
    now = datetime.now(UTC)
    charger.apply_reading(connector, key, reading(1_000_000, now))
    assert charger.expect_register_restart(
        connector, reading(0, now + timedelta(seconds=1)), lambda k: published.append(connector.meters[k].value)
    )
    assert charger.apply_reading(connector, key, reading(1_000_500, now + timedelta(seconds=2)))
    assert connector.pending_restart is None
    # A glitch to 0 later in the session is held back like any other.
    assert not charger.apply_reading(connector, key, reading(0, now + timedelta(seconds=3)))
    assert connector.meters[key].value == 1_000_500
    assert published == []


def test_a_register_read_only_at_the_end_of_sessions_shows_its_restart_from_meter_start() -> None:
    """Restarting per session and read only at each session's end: back above its last value."""
    charger = ChargerState("CP")
    connector, _ = charger.connector(1)
    published: list[float] = []
    key = "energy_active_import_register"

    def publish(key: str) -> None:
        published.append(connector.meters[key].value)

    now = datetime.now(UTC)
    charger.apply_reading(connector, key, reading(3000, now))
    assert charger.expect_register_restart(connector, reading(0, now + timedelta(seconds=1)), publish)
    end = MeterReading(3000, "Wh", now + timedelta(seconds=2), REGISTER, context="Transaction.End")
    assert charger.apply_reading(connector, key, end, publish)  # then written as the end value
    assert published == [3000, 0]
    assert connector.meters[key] is end
    assert connector.pending_restart is None
    # A lifetime register's end is the register going on.
    charger.apply_reading(connector, key, reading(1_000_000, now + timedelta(seconds=3)))
    assert charger.expect_register_restart(connector, reading(0, now + timedelta(seconds=4)), publish)
    end = MeterReading(1_002_000, "Wh", now + timedelta(seconds=5), REGISTER, context="Transaction.End")
    assert charger.apply_reading(connector, key, end, publish)
    assert published == [3000, 0]


def test_only_a_confirmed_drop_of_the_energy_register_is_published() -> None:
    """Other registers' drops (per phase, export, reactive) are stored like any reading."""
    charger = ChargerState("CP")
    connector, _ = charger.connector(1)
    published: list[str] = []
    now = datetime.now(UTC)
    export = MeterReading(5000, "Wh", now, "Energy.Active.Export.Register")
    phase = MeterReading(3000, "Wh", now, REGISTER, phase="L1")
    for key, first in (("energy_active_export_register", export), ("energy_active_import_register_l1", phase)):
        assert charger.apply_reading(connector, key, first, published.append)
        for value in (0.0, 4000.0, 0.0):
            lower = MeterReading(value, "Wh", now, first.measurand, phase=first.phase)
            assert charger.apply_reading(connector, key, lower, published.append)
    assert published == []
    key = "energy_active_import_register"
    charger.apply_reading(connector, key, reading(9000, now), published.append)
    for _ in range(REGISTER_DROP_CONFIRMATIONS - 1):
        assert not charger.apply_reading(connector, key, reading(0, now), published.append)
    assert published == []
    assert charger.apply_reading(connector, key, reading(0, now), published.append)
    assert published == [key, key]


def test_each_session_is_counted_once_and_the_total_never_goes_down() -> None:
    connector = ConnectorState(1)
    first = transaction(1000, last_register_wh=3500)
    connector.transaction = first
    assert energy.refresh(connector)
    assert connector.energy_wh == 2500
    # Superseded by a new session without its stop: what was seen is counted ...
    energy.count_stopped(connector, first)
    second = transaction(4000)
    connector.transaction = second
    assert not energy.refresh(connector)
    assert connector.energy_wh == 2500
    # ... and its real stop adds the rest, once.
    first.meter_stop = 4000
    energy.count_stopped(connector, first)
    energy.count_stopped(connector, first)
    assert energy.refresh(connector)
    assert connector.energy_wh == 3000
    # Readings that ran ahead of meterStop (kWh rounded up) leave the total where it was.
    second.last_register_wh = 4600
    assert energy.refresh(connector)
    assert connector.energy_wh == 3600
    second.meter_stop = 4550
    connector.transaction = None
    energy.count_stopped(connector, second)
    assert connector.stopped_energy_wh == 3550
    assert not energy.refresh(connector)
    assert connector.energy_wh == 3600


# --- an install from before the energy sensors ------------------------------------------------


def old_transaction(tx: int, meter_start: int, start: datetime, **fields: Any) -> dict[str, Any]:
    """A transaction as the state stored it before the energy sensors."""
    return {
        "transaction_id": tx, "charge_point_id": "OLD", "connector_id": 1, "id_tag": "CARD",
        "meter_start": meter_start, "start": start.isoformat(), "reservation_id": None,
        "last_register_wh": None, "meter_stop": None, "stop": None, "reason": None,
        "stop_id_tag": None, "start_seen": True, **fields,
    }


def old_record(tx: int, meter_start: int, meter_stop: int, start: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "charge_point_id": "OLD", "connector_id": 1, "transaction_id": tx, "id_tag": "CARD", "id_tag_name": None,
        "start": start.isoformat(), "stop": (start + timedelta(hours=1)).isoformat(), "meter_start": meter_start,
        "meter_stop": meter_stop, "energy_wh": meter_stop - meter_start, "reason": "Local", "start_seen": True,
        "stop_seen": True, **fields,
    }


async def test_an_install_from_before_starts_at_its_recorded_sessions(
    hass: HomeAssistant, hass_storage: dict[str, Any], socket_enabled: None
) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    entry = MockConfigEntry(
        domain=DOMAIN, entry_id="OLDENTRY", data={"host": "127.0.0.1", "port": free_port()}, title="old"
    )
    stopped = old_transaction(1, 1000, base, last_register_wh=3000.0, meter_stop=3000,
                              stop=(base + timedelta(hours=1)).isoformat(), reason="Local")
    lost = old_transaction(2, 3000, base + timedelta(hours=2), last_register_wh=4500.0)
    running = old_transaction(3, 5000, base + timedelta(hours=4), last_register_wh=5200.0)
    meters = {"energy_active_import_register": {
        "value": 5200.0, "unit": "Wh", "timestamp": (base + timedelta(hours=5)).isoformat(),
        "measurand": REGISTER, "phase": None, "location": None, "context": None,
    }}
    hass_storage[f"{DOMAIN}.OLDENTRY"] = {"version": 1, "minor_version": 1, "key": f"{DOMAIN}.OLDENTRY", "data": {
        "next_transaction_id": 4,
        "chargers": [{"charge_point_id": "OLD", "accepted": True, "number_of_connectors": 1,
                      "connectors": [{"connector_id": 0}, {"connector_id": 1, "meters": meters}]}],
        "id_tags": [],
        "open_transactions": [lost, running],
        "recent_transactions": [stopped],
    }}
    hass_storage[f"{DOMAIN}.OLDENTRY.history"] = {
        "version": 1, "minor_version": 1, "key": f"{DOMAIN}.OLDENTRY.history", "data": {"records": [
            old_record(1, 1000, 3000, base),
            old_record(2, 3000, 4500, base + timedelta(hours=2), stop_seen=False, reason=None),
        ], "totals_wh": {"card": 3500.0}},
    }
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        # The recorded sessions (2000 + 1500 seen of the lost one) and the running one (200).
        assert float(state(hass, "OLD_1_energy")) == pytest.approx(3.7)
        assert float(state(hass, "OLD_0_energy")) == pytest.approx(3.7)
        energy_sensor = full_state(hass, "OLD_1_energy")
        assert energy_sensor.attributes["state_class"] == "total_increasing"
        assert energy_sensor.attributes["unit_of_measurement"] == "kWh"
        async with charger(port_of(entry), "OLD") as cp:
            # The lost stop turns up: only what the history lacked is added (4800 - 4500).
            await cp.stop_transaction(2, 4800)
            await cp.stop_transaction(3, 6000)
        await hass.async_block_till_done()
        assert float(state(hass, "OLD_1_energy")) == pytest.approx(2.0 + 1.8 + 1.0)
        # Seeded once: a restart starts from what is stored.
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert float(state(hass, "OLD_1_energy")) == pytest.approx(4.8)
        assert hass_storage[f"{DOMAIN}.OLDENTRY"]["data"]["energy_version"] == 1
    finally:
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
