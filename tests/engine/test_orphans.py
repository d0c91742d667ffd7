"""Transactions the charger no longer has, in the core: in doubt, closed as reconstructed, completed by a late stop."""

from __future__ import annotations

from datetime import timedelta

from custom_components.ocpp_cs.engine.configuration import ConfigurationValue
from custom_components.ocpp_cs.engine.orphans import DEFAULT_GRACE, grace
from custom_components.ocpp_cs.engine.util import utcnow

from .core import CP, at, central, register, start, status, stop
from .test_live_readings import POWER, charging, values


async def test_a_reboot_without_a_stop_closes_the_transaction_as_reconstructed_after_the_grace() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=1000, minute=0))
    system.meter_values(CP, 1, charging(10, wh=4000), transaction_id)
    transaction = system.open_transactions[transaction_id]
    rebooted = at(30)
    system.charger_rebooted(CP, rebooted)
    assert system.transaction_in_doubt(transaction)

    system.close_overdue_transactions(rebooted + DEFAULT_GRACE - timedelta(seconds=1))
    assert system.open_transactions == {transaction_id: transaction}
    system.close_overdue_transactions(rebooted + DEFAULT_GRACE)
    assert system.open_transactions == {}
    assert recorder.stopped == [transaction]
    assert (transaction.reason, transaction.stop, transaction.meter_stop) == ("Reconstructed", rebooted, 4000)
    assert transaction.energy_wh() == 3000
    assert not system.transaction_in_doubt(transaction)
    connector = system.chargers[CP].connectors[1]
    assert (connector.transaction, connector.last_transaction, connector.energy_wh) == (None, transaction, 3000)
    assert values(system)[POWER] == 0
    # The history keeps it marked as reconstructed.
    (record,) = system.history.query()
    assert (record.stop_seen, record.energy_wh, record.stop, record.reason_snake) == (False, 3000, rebooted, None)
    # Persisted as such.
    saved = system.snapshot()
    assert saved["open_transactions"] == []
    assert saved["recent_transactions"][-1]["stop_reconstructed"] is True


async def test_the_queued_stop_within_the_grace_closes_it_as_the_charger_says() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=1000, minute=0))
    system.charger_rebooted(CP, at(30))
    system.status_notification(CP, status(1, "Available", 29))
    await system.stop_transaction(CP, stop(transaction_id, 5000, minute=20))
    system.close_overdue_transactions(at(59))
    (stopped,) = recorder.stopped
    assert (stopped.reason, stopped.energy_wh(), stopped.stop_reconstructed) == ("Local", 4000, False)
    assert system.history.query()[0].stop_seen


async def test_a_stop_after_the_reconstruction_completes_it_and_counts_the_session_once() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=1000, minute=0, id_tag="TAG"))
    system.meter_values(CP, 1, register(3000, 10), transaction_id)
    system.status_notification(CP, status(1, "Available", 30))
    # (A status's doubt starts on our clock: the charger's may be off.)
    system.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    assert [t.reason for t in recorder.stopped] == ["Reconstructed"]
    assert system.history.total_wh("TAG") == 2000

    # Later still, the charger delivers its queued StopTransaction.
    await system.stop_transaction(CP, stop(transaction_id, 5000, minute=25, id_tag="TAG"))
    assert len(recorder.stopped) == 1  # announced once
    (record,) = system.history.query()
    assert (record.stop_seen, record.energy_wh, record.reason_snake, record.stop) == (True, 4000, "local", at(25))
    assert system.history.total_wh("TAG") == 4000
    connector = system.chargers[CP].connectors[1]
    assert connector.energy_wh == 4000
    assert connector.last_transaction is not None and connector.last_transaction.reason == "Local"
    # A replay of that stop records nothing more.
    await system.stop_transaction(CP, stop(transaction_id, 5000, minute=25, id_tag="TAG"))
    assert (len(system.history), system.history.total_wh("TAG"), connector.energy_wh) == (1, 4000, 4000)


async def test_a_connector_that_charges_again_takes_the_doubt_away() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(minute=0))
    transaction = system.open_transactions[transaction_id]
    system.status_notification(CP, status(1, "Preparing", 30))
    assert system.transaction_in_doubt(transaction)
    system.status_notification(CP, status(1, "SuspendedEVSE", 31))
    assert not system.transaction_in_doubt(transaction)
    system.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
    assert recorder.stopped == []
    assert system.chargers[CP].connectors[1].transaction is transaction


async def test_a_status_older_than_the_transaction_raises_no_doubt_and_a_new_start_supersedes() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(minute=10))
    system.status_notification(CP, status(1, "Preparing", 9))  # late, from before its start
    assert not system.transaction_in_doubt(system.open_transactions[transaction_id])
    # In doubt, then superseded by the charger's next start: that start reconstructed its end.
    system.charger_rebooted(CP, at(30))
    await system.start_transaction(CP, start(minute=31, id_tag="OTHER"))
    system.close_overdue_transactions(at(59, hour=23))
    assert recorder.stopped == []


def test_the_grace_allows_for_the_chargers_retries() -> None:
    system, _recorder = central()
    charger = system.chargers[CP]
    assert grace(charger) == DEFAULT_GRACE
    system.update_configuration(
        CP,
        {
            "TransactionMessageAttempts": ConfigurationValue("3", readonly=False),
            "TransactionMessageRetryInterval": ConfigurationValue("20", readonly=False),
        },
    )
    # Waits of 20 s and 40 s before the second and third attempts.
    assert grace(charger) == DEFAULT_GRACE + timedelta(seconds=60)
    system.update_configuration(CP, {"TransactionMessageRetryInterval": ConfigurationValue("3600", readonly=False)})
    assert grace(charger) == timedelta(minutes=15)


async def test_relayed_chargers_transactions_are_the_upstreams() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(minute=0))
    system.open_transactions[transaction_id].observed = True
    system.charger_rebooted(CP, at(30))
    system.status_notification(CP, status(1, "Available", 31))
    assert not system.transaction_in_doubt(system.open_transactions[transaction_id])
    system.charger_rebooted("CP-unknown", at(30))
    assert recorder.stopped == []


async def test_readings_under_the_transactions_id_take_the_doubt_away() -> None:
    system, recorder = central()
    transaction_id, _ = await system.start_transaction(CP, start(meter_start=1000, minute=0))
    transaction = system.open_transactions[transaction_id]
    system.charger_rebooted(CP, at(30))
    assert system.transaction_in_doubt(transaction)
    # A charger that sends BootNotification on every reconnect, and goes on metering the session.
    system.meter_values(CP, 1, register(3000, 31), transaction_id)
    assert not system.transaction_in_doubt(transaction)
    system.close_overdue_transactions(at(30) + DEFAULT_GRACE * 10)
    assert system.open_transactions == {transaction_id: transaction}
    assert recorder.stopped == []
    # Readings without a transaction id say nothing about it: the doubt stays.
    system.charger_rebooted(CP, at(40))
    system.meter_values(CP, 1, register(3100, 41), None)
    assert system.transaction_in_doubt(transaction)
