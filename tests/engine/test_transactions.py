"""Transactions in the core: starts, stops, replays and queued messages, without sockets or Home Assistant."""

from __future__ import annotations

from custom_components.ocpp_cs.engine.central import CentralSettings, CentralSystem
from custom_components.ocpp_cs.engine.state import IdTag

from .core import CP, Recorder, at, central, register, start, status, stop


async def test_a_session_starts_and_stops_with_its_energy() -> None:
    system, recorder = central()
    transaction_id, info = await system.start_transaction(CP, start(meter_start=1000, minute=0))
    assert (transaction_id, info) == (1, {"status": "Accepted"})
    # On disk before the answer goes out: the counter and the open transaction.
    assert recorder.saved[-1]["next_transaction_id"] == 2
    assert [t["transaction_id"] for t in recorder.saved[-1]["open_transactions"]] == [1]
    assert [t.transaction_id for t in recorder.started] == [1]
    assert recorder.presented[-1].status == "accepted"
    assert system.chargers[CP].connectors[1].transaction is system.open_transactions[1]

    assert await system.stop_transaction(CP, stop(1, 4500, minute=30)) is None
    (stopped,) = recorder.stopped
    assert (stopped.energy_wh(), stopped.duration_s(), stopped.reason) == (3500.0, 1800, "Local")
    assert system.open_transactions == {}
    assert system.chargers[CP].connectors[1].transaction is None
    assert system.chargers[CP].connectors[1].last_transaction is stopped
    assert [t.transaction_id for t in system.recent_transactions] == [1]


async def test_a_replayed_start_gets_the_same_id_and_starts_nothing() -> None:
    system, recorder = central()
    first, _ = await system.start_transaction(CP, start(minute=0))
    again, info = await system.start_transaction(CP, start(minute=0))
    assert again == first
    assert info == {"status": "Accepted"}
    assert len(recorder.started) == 1
    assert system.next_transaction_id == 2
    # Another start on the same connector (a new time) is a new session.
    other, _ = await system.start_transaction(CP, start(minute=40))
    assert other == 2


async def test_a_replayed_stop_is_answered_and_recorded_once() -> None:
    system, recorder = central()
    system.set_id_tag(IdTag("TAG"))
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=0, minute=0))
    first = await system.stop_transaction(CP, stop(transaction_id, 2000, minute=20, id_tag="TAG"))
    replayed = await system.stop_transaction(CP, stop(transaction_id, 2000, minute=20, id_tag="TAG"))
    assert first == replayed == {"status": "Accepted"}
    assert len(recorder.stopped) == 1
    assert len(list(system.history)) == 1
    assert system.chargers[CP].connectors[1].energy_wh == 2000.0


async def test_queued_messages_keep_the_chargers_times() -> None:
    """A charger that was offline sends its queue: old timestamps are the session's, older statuses lose."""
    system, recorder = central()
    system.status_notification(CP, status(1, "Charging", minute=10))
    system.status_notification(CP, status(1, "Preparing", minute=5))  # queued before, arrives after
    assert system.chargers[CP].connectors[1].status == "Charging"
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=100, minute=5))
    system.meter_values(CP, 1, register(600, minute=15), transaction_id)
    assert system.open_transactions[transaction_id].energy_wh() == 500.0
    await system.stop_transaction(CP, stop(transaction_id, 900, minute=25))
    (stopped,) = recorder.stopped
    assert (stopped.start, stopped.stop, stopped.duration_s()) == (at(5), at(25), 1200)
    assert stopped.energy_wh() == 800.0


async def test_a_stop_for_an_unknown_transaction_is_recorded_without_its_start() -> None:
    system, recorder = central()
    assert await system.stop_transaction(CP, stop(77, 5000, minute=30)) is None
    (stopped,) = recorder.stopped
    assert (stopped.transaction_id, stopped.connector_id, stopped.start_seen) == (77, 0, False)
    assert stopped.energy_wh() is None
    # Our counter is not moved by the charger's id.
    assert system.next_transaction_id == 1


async def test_a_start_on_a_busy_connector_ends_the_previous_session_in_the_history() -> None:
    system, _ = central()
    first, _ = await system.start_transaction(CP, start(id_tag="A", meter_start=0, minute=0))
    system.meter_values(CP, 1, register(700, minute=10), first)
    second, _ = await system.start_transaction(CP, start(id_tag="B", meter_start=700, minute=20))
    assert system.chargers[CP].connectors[1].transaction is system.open_transactions[second]
    (record,) = list(system.history)
    assert record.transaction_id == first
    # Its stop, when it comes, is not counted twice.
    await system.stop_transaction(CP, stop(first, 700, minute=19))
    await system.stop_transaction(CP, stop(second, 1000, minute=30))
    assert system.chargers[CP].connectors[1].energy_wh == 1000.0


async def test_transaction_data_at_stop_counts_for_the_session() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=0, minute=0))
    # A charger that leaves meterStop at 0 and reports the end in the Transaction.End sample.
    await system.stop_transaction(
        CP, stop(transaction_id, 0, minute=30, readings=register(1234, minute=30, context="Transaction.End"))
    )
    assert recorder.stopped[0].energy_wh() == 1234.0


async def test_the_state_survives_a_restart_and_ids_are_never_reused() -> None:
    system, recorder = central()
    first, _ = await system.start_transaction(CP, start(minute=0))
    second, _ = await system.start_transaction(CP, start(connector_id=2, minute=1))
    await system.stop_transaction(CP, stop(second, 1500, minute=9))
    snapshot = recorder.saved[-1]
    snapshot["next_transaction_id"] = 1  # a counter behind the ids in use

    restored_recorder = Recorder()
    restored = CentralSystem(CentralSettings(), restored_recorder, restored_recorder)
    restored.restore(snapshot)
    assert list(restored.open_transactions) == [first]
    assert restored.chargers[CP].connectors[1].transaction is restored.open_transactions[first]
    assert restored.next_transaction_id == 3
    # The replayed stop of the session stopped before the restart is still recognised.
    await restored.stop_transaction(CP, stop(second, 1500, minute=9))
    assert restored_recorder.stopped == []
