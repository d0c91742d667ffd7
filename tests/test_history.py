"""Charging history: every session on record across restarts and replays; actions, CSV, totals."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import io
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ocpp_cs.const import DOMAIN
from custom_components.ocpp_cs.engine.history import TransactionHistory
from custom_components.ocpp_cs.engine.state import IdTag, Transaction

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import entity_id, find_device, full_state, has_entity, sampled

TAGS = {"CARD-ANNA": "Anna", "CARD-BEN": "Ben (company car)", "CARD-CLEO": None}
HISTORY_FIELDS = {
    "charge_point_id", "connector_id", "transaction_id", "id_tag", "start", "stop",
    "meter_start", "meter_stop", "energy", "duration", "reason",
}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def history_key(entry: MockConfigEntry) -> str:
    return f"{DOMAIN}.{entry.entry_id}.history"


def energy_unique_id(entry: MockConfigEntry, id_tag: str) -> str:
    return f"{entry.entry_id}_id_tag_energy_{id_tag}"


@dataclass
class Session:
    """A session a simulated charger plays, and what the history must say about it."""

    charge_point_id: str
    connector_id: int
    id_tag: str
    start: datetime
    stop: datetime
    meter_start: int
    meter_stop: int
    reason: str | None
    transaction_id: int = 0

    @property
    def energy_wh(self) -> int:
        return self.meter_stop - self.meter_start

    def expected(self) -> dict[str, Any]:
        return {
            "charge_point_id": self.charge_point_id,
            "connector_id": self.connector_id,
            "transaction_id": self.transaction_id,
            "id_tag": self.id_tag,
            "start": self.start.isoformat(),
            "stop": self.stop.isoformat(),
            "meter_start": self.meter_start,
            "meter_stop": self.meter_stop,
            "energy": round(self.energy_wh / 1000, 3),
            "duration": int((self.stop - self.start).total_seconds()),
            "reason": {None: "local", "EVDisconnected": "ev_disconnected", "Remote": "remote"}[self.reason],
        }


def plan_sessions(count: int) -> list[Session]:
    """Sessions over two chargers (CP-DUO with two connectors, CP-SOLO) and three tags."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    registers: dict[tuple[str, int], int] = {}
    sessions = []
    tags = list(TAGS)
    for number in range(count):
        charge_point_id = "CP-DUO" if number % 2 == 0 else "CP-SOLO"
        connector_id = 1 + (number // 2) % 2 if charge_point_id == "CP-DUO" else 1
        meter_start = registers.get((charge_point_id, connector_id), 10_000 * (1 + number % 3))
        energy = 1_000 + 37 * number + (number % 7) * 113
        start = base + timedelta(hours=10 * number)
        sessions.append(
            Session(
                charge_point_id=charge_point_id,
                connector_id=connector_id,
                id_tag=tags[number % 3],
                start=start,
                stop=start + timedelta(minutes=30 + number, seconds=number),
                meter_start=meter_start,
                meter_stop=meter_start + energy,
                reason=(None, "EVDisconnected", "Remote")[number % 3],
            )
        )
        registers[(charge_point_id, connector_id)] = meter_start + energy
    return sessions


def stop_call(session: Session) -> call.StopTransaction:
    return call.StopTransaction(
        transaction_id=session.transaction_id,
        meter_stop=session.meter_stop,
        timestamp=iso(session.stop),
        reason=session.reason,
        id_tag=session.id_tag,
    )


async def play(chargers: dict[str, SimCharger], session: Session) -> None:
    cp = chargers[session.charge_point_id]
    started = await cp.start_transaction(
        session.connector_id, session.id_tag, session.meter_start, timestamp=iso(session.start)
    )
    session.transaction_id = started.transaction_id
    await cp.meter(
        session.connector_id,
        [sampled(str(session.meter_start + session.energy_wh // 2), "Energy.Active.Import.Register", "Wh")],
        transaction_id=session.transaction_id,
        timestamp=iso(session.start + timedelta(minutes=10)),
    )
    answer = await cp.send(stop_call(session))
    assert answer.id_tag_info["status"] == "Accepted"


async def get_transactions(hass: HomeAssistant, **data: Any) -> list[dict[str, Any]]:
    response = await hass.services.async_call(DOMAIN, "get_transactions", data, blocking=True, return_response=True)
    assert response is not None
    transactions = response["transactions"]
    assert isinstance(transactions, list)
    return transactions


async def export(hass: HomeAssistant, **data: Any) -> tuple[Path, list[dict[str, str]], list[dict[str, str]]]:
    """Export; return the file, its session rows and its totals rows."""
    response = await hass.services.async_call(
        DOMAIN, "export_transactions", data, blocking=True, return_response=True
    )
    assert response is not None
    path = Path(str(response["path"]))
    text = await hass.async_add_executor_job(path.read_text, "utf-8")
    sessions_part, totals_part = text.split("\n\n")
    return path, list(csv.DictReader(io.StringIO(sessions_part))), list(csv.DictReader(io.StringIO(totals_part)))


def wh_by_tag(sessions: list[Session]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for session in sessions:
        totals[session.id_tag] = totals.get(session.id_tag, 0) + session.energy_wh
    return totals


async def test_fifty_sessions_two_chargers_three_tags_restart_and_replays(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any], config_dir: Path
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    for id_tag, name in TAGS.items():
        hub_of(entry).central.set_id_tag(IdTag(id_tag, name=name))
    await hass.async_block_till_done()
    # One energy sensor per listed tag, on the entry's device, at 0 before any session.
    entry_device = find_device(hass, entry.entry_id)
    assert entry_device is not None
    for id_tag in TAGS:
        registered = er.async_get(hass).async_get(entity_id(hass, energy_unique_id(entry, id_tag)))
        assert registered is not None
        assert registered.device_id == entry_device.id
        sensor = full_state(hass, energy_unique_id(entry, id_tag))
        assert float(sensor.state) == 0
        assert sensor.attributes["state_class"] == "total_increasing"
        assert sensor.attributes["device_class"] == "energy"
        assert sensor.attributes["unit_of_measurement"] == "kWh"
    assert full_state(hass, energy_unique_id(entry, "CARD-ANNA")).attributes["friendly_name"].endswith(
        "Energy Anna"
    )

    sessions = plan_sessions(50)
    first, second = sessions[:25], sessions[25:]
    async with charger(port, "CP-DUO") as duo, charger(port, "CP-SOLO") as solo:
        await duo.boot()
        await solo.boot()
        chargers = {"CP-DUO": duo, "CP-SOLO": solo}
        for session in first:
            await play(chargers, session)
        # The answer to a StopTransaction got lost: the charger sends it again.
        replayed = first[10]
        again = await chargers[replayed.charge_point_id].send(stop_call(replayed))
        assert again.id_tag_info["status"] == "Accepted"
        await hass.async_block_till_done()
        assert len(await get_transactions(hass, config_entry_id=entry.entry_id)) == 25

    # Home Assistant restarts: the entry is reloaded, the stored files are kept.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[history_key(entry)]["data"]
    assert len(stored["records"]) == 25
    for id_tag, wh in wh_by_tag(first).items():
        assert float(full_state(hass, energy_unique_id(entry, id_tag)).state) == round(wh / 1000, 3)

    async with charger(port, "CP-DUO") as duo, charger(port, "CP-SOLO") as solo:
        await duo.boot()
        await solo.boot()
        chargers = {"CP-DUO": duo, "CP-SOLO": solo}
        for session in second:
            await play(chargers, session)
        # A stop from before the restart, replayed after it: answered, not recorded again.
        old = first[3]
        again = await chargers[old.charge_point_id].send(stop_call(old))
        assert again.id_tag_info["status"] == "Accepted"
        await hass.async_block_till_done()

    expected = [session.expected() for session in reversed(sessions)]
    transactions = await get_transactions(hass, config_entry_id=entry.entry_id)
    assert all(set(t) == HISTORY_FIELDS for t in transactions)
    # Meter values stay whole Wh after the restart (JSON shows 1250, not 1250.0).
    assert all(isinstance(t["meter_start"], int) and isinstance(t["meter_stop"], int) for t in transactions)
    assert transactions == expected
    assert len({t["transaction_id"] for t in transactions}) == 50

    # Totals per tag: the sensors, the history and the CSV agree to the Wh.
    totals = wh_by_tag(sessions)
    assert len(totals) == 3
    for id_tag, wh in totals.items():
        assert float(full_state(hass, energy_unique_id(entry, id_tag)).state) == round(wh / 1000, 3)
        listed = await get_transactions(hass, config_entry_id=entry.entry_id, id_tag=id_tag.lower())
        assert round(sum(t["energy"] * 1000 for t in listed)) == wh
    path, rows, total_rows = await export(hass, config_entry_id=entry.entry_id)
    assert path.parent == config_dir / "ocpp_cs" / "exports"
    assert path.suffix == ".csv"
    assert len(rows) == 50
    assert [int(row["transaction_id"]) for row in rows] == [t["transaction_id"] for t in expected]
    for row, session in zip(rows, reversed(sessions), strict=True):
        assert row["charge_point_id"] == session.charge_point_id
        assert int(row["connector_id"]) == session.connector_id
        assert row["id_tag"] == session.id_tag
        assert row["id_tag_name"] == (TAGS[session.id_tag] or "")
        assert int(row["meter_start"]) == session.meter_start
        assert int(row["meter_stop"]) == session.meter_stop
        assert round(float(row["energy"]) * 1000) == session.energy_wh
        assert int(row["duration"]) == int((session.stop - session.start).total_seconds())
        assert datetime.fromisoformat(row["start"]) == session.start
        assert datetime.fromisoformat(row["stop"]) == session.stop
        assert (row["start_seen"], row["stop_seen"]) == ("true", "true")
    assert {row["id_tag"]: round(float(row["energy"]) * 1000) for row in total_rows} == totals
    counts = {tag: sum(1 for s in sessions if s.id_tag == tag) for tag in TAGS}
    assert {row["id_tag"]: int(row["sessions"]) for row in total_rows} == counts == {
        "CARD-ANNA": 17, "CARD-BEN": 17, "CARD-CLEO": 16,
    }

    # Filters: a charger's device, a connector's device, the entry's device, a period, a limit.
    solo_device = find_device(hass, "CP-SOLO")
    duo_2 = find_device(hass, "CP-DUO_2")
    entry_device = find_device(hass, entry.entry_id)
    assert solo_device is not None
    assert duo_2 is not None
    assert entry_device is not None
    solo_only = await get_transactions(hass, device_id=solo_device.id)
    assert solo_only == [t for t in expected if t["charge_point_id"] == "CP-SOLO"]
    connector_2 = await get_transactions(hass, device_id=[duo_2.id])
    assert connector_2 == [t for t in expected if t["charge_point_id"] == "CP-DUO" and t["connector_id"] == 2]
    assert await get_transactions(hass, device_id=entry_device.id) == expected
    window_start, window_end = sessions[10].start, sessions[20].start
    in_window = await get_transactions(
        hass, config_entry_id=entry.entry_id, start=window_start.isoformat(), end=window_end.isoformat()
    )
    assert in_window == [s.expected() for s in reversed(sessions[10:20])]
    newest = await get_transactions(hass, config_entry_id=entry.entry_id, id_tag="CARD-BEN", limit=3)
    assert newest == [t for t in expected if t["id_tag"] == "CARD-BEN"][:3]
    _, solo_rows, solo_totals = await export(hass, device_id=solo_device.id, id_tag="CARD-CLEO")
    cleo_solo = [s for s in sessions if s.charge_point_id == "CP-SOLO" and s.id_tag == "CARD-CLEO"]
    assert [int(row["transaction_id"]) for row in solo_rows] == [s.transaction_id for s in reversed(cleo_solo)]
    assert [(row["id_tag"], round(float(row["energy"]) * 1000)) for row in solo_totals] == [
        ("CARD-CLEO", sum(s.energy_wh for s in cleo_solo))
    ]


async def test_history_survives_a_crash_before_it_was_written(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    """The state (saved before StopTransaction is answered) fills in what the history missed."""
    entry = await setup_entry()
    hub_of(entry).central.set_id_tag(IdTag("CARD-ANNA", name="Anna"))
    sessions = plan_sessions(6)
    async with charger(port_of(entry), "CP-DUO") as duo, charger(port_of(entry), "CP-SOLO") as solo:
        await duo.boot()
        await solo.boot()
        for session in sessions:
            await play({"CP-DUO": duo, "CP-SOLO": solo}, session)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # The history file was never written (Home Assistant was killed before its delayed save).
    del hass_storage[history_key(entry)]

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    expected = [session.expected() for session in reversed(sessions)]
    assert await get_transactions(hass, config_entry_id=entry.entry_id) == expected
    anna = sum(s.energy_wh for s in sessions if s.id_tag == "CARD-ANNA")
    assert float(full_state(hass, energy_unique_id(entry, "CARD-ANNA")).state) == round(anna / 1000, 3)

    # Restarted again, with both files: nothing is counted twice.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert await get_transactions(hass, config_entry_id=entry.entry_id) == expected
    assert float(full_state(hass, energy_unique_id(entry, "CARD-ANNA")).state) == round(anna / 1000, 3)

    # Removing the entry removes its history too.
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert history_key(entry) not in hass_storage


async def test_stop_replayed_long_after_is_not_recorded_twice(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    session = plan_sessions(1)[0]
    async with charger(port_of(entry), "CP-DUO") as cp:
        await cp.boot()
        await play({"CP-DUO": cp}, session)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # The session has long left the state's recent transactions (only the last 200 are kept).
    hass_storage[f"{DOMAIN}.{entry.entry_id}"]["data"]["recent_transactions"] = []
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    async with charger(port_of(entry), "CP-DUO") as cp:
        answer = await cp.send(stop_call(session))
        assert answer.id_tag_info["status"] == "Accepted"
    await hass.async_block_till_done()
    assert await get_transactions(hass, config_entry_id=entry.entry_id) == [session.expected()]


async def test_a_lost_stop_is_reconstructed_then_replaced_by_the_real_one(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub_of(entry).central.set_id_tag(IdTag("CARD-ANNA"))
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    async with charger(port_of(entry), "CP-L") as cp:
        await cp.boot()
        first = await cp.start_transaction(1, "CARD-ANNA", 1000, timestamp=iso(base))
        await cp.meter(
            1, [sampled("3500", "Energy.Active.Import.Register", "Wh")], transaction_id=first.transaction_id,
            timestamp=iso(base + timedelta(hours=1)),
        )
        # The charger lost the StopTransaction and starts the next session on the same connector.
        second = await cp.start_transaction(1, "CARD-ANNA", 4000, timestamp=iso(base + timedelta(hours=2)))
        await hass.async_block_till_done()
        history = hub_of(entry).central.history
        (reconstructed,) = list(history)
        assert reconstructed.transaction_id == first.transaction_id
        assert not reconstructed.stop_seen
        assert reconstructed.stop == base + timedelta(hours=2)
        assert reconstructed.meter_stop == 3500
        assert reconstructed.energy_wh == 2500
        assert history.total_wh("CARD-ANNA") == 2500
        assert float(full_state(hass, energy_unique_id(entry, "CARD-ANNA")).state) == 2.5
        listed = await get_transactions(hass, config_entry_id=entry.entry_id)
        assert listed[0]["reason"] is None
        assert listed[0]["stop"] == (base + timedelta(hours=2)).isoformat()

        # The lost stop turns up after all: it replaces the reconstruction, counted once.
        late_stop = iso(base + timedelta(hours=1, minutes=30))
        await cp.send(call.StopTransaction(transaction_id=first.transaction_id, meter_stop=4000, timestamp=late_stop))
        await cp.send(
            call.StopTransaction(
                transaction_id=second.transaction_id, meter_stop=5000, timestamp=iso(base + timedelta(hours=3))
            )
        )
        await hass.async_block_till_done()
    records = {r.transaction_id: r for r in hub_of(entry).central.history}
    assert len(records) == 2
    assert records[first.transaction_id].stop_seen
    assert records[first.transaction_id].energy_wh == 3000
    assert records[first.transaction_id].reason == "Local"
    assert hub_of(entry).central.history.total_wh("card-anna") == 4000
    assert float(full_state(hass, energy_unique_id(entry, "CARD-ANNA")).state) == 4.0


async def test_energy_sensors_follow_the_id_tag_list(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    assert not has_entity(hass, energy_unique_id(entry, "CARD-NEW"))
    central.set_id_tag(IdTag("CARD-NEW"))
    await hass.async_block_till_done()
    assert full_state(hass, energy_unique_id(entry, "CARD-NEW")).attributes["friendly_name"].endswith(
        "Energy CARD-NEW"
    )
    central.set_id_tag(IdTag("CARD-NEW", name="Dana"))
    await hass.async_block_till_done()
    assert full_state(hass, energy_unique_id(entry, "CARD-NEW")).attributes["friendly_name"].endswith("Energy Dana")
    # Sessions of tags that are not listed are on record all the same (no sensor).
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "STRANGER", 0)
        await cp.stop_transaction(started.transaction_id, 700)
    transactions = await get_transactions(hass, config_entry_id=entry.entry_id)
    assert [(t["id_tag"], t["energy"]) for t in transactions] == [("STRANGER", 0.7)]
    assert not has_entity(hass, energy_unique_id(entry, "STRANGER"))
    assert central.remove_id_tag("card-new")
    await hass.async_block_till_done()
    assert not has_entity(hass, energy_unique_id(entry, "CARD-NEW"))


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({}, "history_target_required"),
        ({"config_entry_id": "x", "device_id": "y"}, "history_target_required"),
        ({"config_entry_id": "not-an-entry"}, "unknown_config_entry"),
        ({"device_id": "not-a-device"}, "unknown_history_device"),
        ({"start": "yesterday"}, "invalid_field"),
        ({"limit": 0}, "invalid_field"),
        ({"start": "2025-02-01", "end": "2025-01-01"}, "invalid_period"),
    ],
)
async def test_history_actions_refuse_bad_input(
    hass: HomeAssistant, setup_entry: EntryFactory, data: dict[str, Any], key: str
) -> None:
    entry = await setup_entry()
    if key in ("invalid_field", "invalid_period"):
        data = {"config_entry_id": entry.entry_id, **data}
    for action in ("get_transactions", "export_transactions"):
        with pytest.raises(ServiceValidationError) as raised:
            await hass.services.async_call(DOMAIN, action, data, blocking=True, return_response=True)
        assert raised.value.translation_key == key


async def test_a_date_as_end_includes_that_day(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    await hass.config.async_set_time_zone("UTC")
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        for day in (1, 31):
            started = await cp.start_transaction(1, "CARD", 0, timestamp=f"2025-01-{day:02d}T22:00:00Z")
            stop = f"2025-01-{day:02d}T23:00:00Z"
            tx = started.transaction_id
            await cp.send(call.StopTransaction(transaction_id=tx, meter_stop=100 * day, timestamp=stop))
        started = await cp.start_transaction(1, "CARD", 0, timestamp="2025-02-01T00:00:00Z")
        await cp.send(
            call.StopTransaction(transaction_id=started.transaction_id, meter_stop=5, timestamp="2025-02-01T01:00:00Z")
        )
    january = await get_transactions(hass, config_entry_id=entry.entry_id, start="2025-01-01", end="2025-01-31")
    assert [t["meter_stop"] for t in january] == [3100, 100]
    february = await get_transactions(hass, config_entry_id=entry.entry_id, start="2025-02-01")
    assert [t["meter_stop"] for t in february] == [5]


def transaction(number: int, start: datetime, *, id_tag: str = "CARD", wh: int = 100) -> Transaction:
    return Transaction(
        transaction_id=number,
        charge_point_id="CP",
        connector_id=1,
        id_tag=id_tag,
        meter_start=0,
        start=start,
        meter_stop=wh,
        stop=start + timedelta(minutes=5),
    )


def test_history_is_bounded_oldest_first_and_totals_keep_dropped_sessions() -> None:
    history = TransactionHistory(max_records=5)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    # Out of order, as a charger replaying queued sessions after being offline sends them.
    for number in (3, 1, 2, 8, 7, 6, 5, 4):
        assert history.add(transaction(number, base + timedelta(hours=number))) is not None
    assert [r.transaction_id for r in history] == [4, 5, 6, 7, 8]
    assert [r.transaction_id for r in history.query()] == [8, 7, 6, 5, 4]
    assert history.total_wh("card") == 800
    # A session older than everything kept, from a reconciliation: neither kept nor counted.
    assert history.add(transaction(0, base), count_dropped=False) is None
    assert history.total_wh("CARD") == 800
    # A duplicate is not recorded again.
    assert history.add(transaction(8, base + timedelta(hours=8))) is None
    restored = TransactionHistory(max_records=5)
    restored.restore(history.snapshot())
    assert [r.to_dict() for r in restored] == [r.to_dict() for r in history]
    assert restored.total_wh("CARD") == 800
