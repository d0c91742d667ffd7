"""Quirk profiles beyond limits: transaction ids, meter values, remote starts, configuration.

Chargers play a known brand's behaviour on the wire; where a profile changes what we do, the
scenario also turns it off (`none`) to show that the behaviour is real.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from ocpp.v16 import call
import pytest

from custom_components.ocpp_cs.commands import remote_start
from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.engine.meter import ENERGY_REGISTER
from custom_components.ocpp_cs.engine.state import Transaction

from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import SILENT
from .helpers import action, device_id, sampled, wait_for
from .quirk_charger import PLUG_AND_CHARGE_ID, QuirkCharger, playing
from .test_quirks_limits import no_profile, ready

TX_PROFILE = {
    "charging_profile_id": 7,
    "stack_level": 0,
    "charging_profile_purpose": "TxProfile",
    "charging_profile_kind": "Relative",
    "charging_schedule": {"charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 10}]},
}


def stopped_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def record(event: Event) -> None:
        events.append(dict(event.data))

    hass.bus.async_listen(EVENT_TRANSACTION_STOPPED, record)
    return events


async def test_own_transaction_ids(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    stopped = stopped_events(hass)
    async with charger(port_of(entry), "CP-E", cls=playing("etrel_inch")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        ours = (await cp.start_transaction(1, "CARD", 1000)).transaction_id
        own = ours + 5000  # what the charger uses instead
        await cp.meter(1, [sampled("1500", "Energy.Active.Import.Register", "Wh")], transaction_id=own)
        assert central.open_transactions[ours].last_register_wh == 1500
        await cp.stop_transaction(own, 2000, reason="EVDisconnected")
        await hass.async_block_till_done()
        assert ours not in central.open_transactions
        assert central.chargers["CP-E"].connectors[1].transaction is None
        assert [(e["transaction_id"], e["energy"]) for e in stopped] == [(ours, 1.0)]
        # Without the profile its ids are strangers: the session never ends.
        no_profile(hass, entry, "CP-E")
        second = (await cp.start_transaction(1, "CARD", 3000)).transaction_id
        await cp.meter(1, [sampled("3500", "Energy.Active.Import.Register", "Wh")], transaction_id=second + 5000)
        await cp.stop_transaction(second + 5000, 4000)
        await hass.async_block_till_done()
        assert central.open_transactions[second].last_register_wh is None
        assert central.chargers["CP-E"].connectors[1].transaction is not None


def _stop(transaction_id: int, meter_stop: int, timestamp: str) -> call.StopTransaction:
    return call.StopTransaction(transaction_id=transaction_id, meter_stop=meter_stop, timestamp=timestamp)


async def test_own_transaction_ids_replayed_stop_stops_nothing(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    stopped = stopped_events(hass)
    async with charger(port_of(entry), "CP-E", cls=playing("etrel_inch")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        first = (await cp.start_transaction(1, "CARD", 1000)).transaction_id
        first_stop = _stop(first + 5000, 2000, now_iso())
        await cp.send(first_stop)
        second = (await cp.start_transaction(1, "CARD", 2000)).transaction_id
        # The first stop again, under the charger's own id and under ours: the second runs on.
        await cp.send(first_stop)
        await cp.send(_stop(first, 2000, first_stop.timestamp))
        # A late MeterValues of the first session (its own id) is not the second one's.
        await cp.meter(1, [sampled("1900", "Energy.Active.Import.Register", "Wh")], transaction_id=first + 5000)
        await hass.async_block_till_done()
        assert second in central.open_transactions
        assert central.open_transactions[second].last_register_wh is None
        assert [e["transaction_id"] for e in stopped] == [first]
        # The second's own stop counts.
        await cp.meter(1, [sampled("2600", "Energy.Active.Import.Register", "Wh")], transaction_id=second + 5000)
        await cp.stop_transaction(second + 5000, 3000)
        await cp.stop_transaction(second + 5000, 3000)  # replayed: recorded once
        await hass.async_block_till_done()
        assert [(e["transaction_id"], e["energy"]) for e in stopped] == [(first, 1.0), (second, 1.0)]
        assert central.chargers["CP-E"].connectors[1].transaction is None
        assert len(central.history.query(charge_point_id="CP-E")) == 2


async def test_own_transaction_ids_that_are_also_ours_for_another_session(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    # The charger counts on its own: its id for the second session is our id of the first.
    entry = await setup_entry()
    central = hub_of(entry).central
    stopped = stopped_events(hass)
    async with charger(port_of(entry), "CP-E", cls=playing("etrel_inch")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        first = (await cp.start_transaction(1, "CARD", 1000)).transaction_id
        first_stop = _stop(first + 5000, 2000, now_iso())
        await cp.send(first_stop)
        second = (await cp.start_transaction(1, "CARD", 2000)).transaction_id
        await cp.meter(1, [sampled("2500", "Energy.Active.Import.Register", "Wh")], transaction_id=first)
        assert central.open_transactions[second].last_register_wh == 2500
        await cp.send(_stop(first, 3000, now_iso()))  # the second's own stop, not a replay of the first
        await hass.async_block_till_done()
        assert second not in central.open_transactions
        assert [(e["transaction_id"], e["energy"]) for e in stopped] == [(first, 1.0), (second, 1.0)]
        # Its replay is one.
        await cp.send(_stop(first, 3000, central.recent_transactions[-1].stop.isoformat()))  # type: ignore[union-attr]
        await hass.async_block_till_done()
        assert len(stopped) == 2
        assert len(central.history.query(charge_point_id="CP-E")) == 2


async def test_own_transaction_ids_need_a_stop_that_fits(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    async with charger(port_of(entry), "CP-E", cls=playing("etrel_inch")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        ours = (await cp.start_transaction(1, "CARD", 5000)).transaction_id
        started = central.open_transactions[ours].start
        assert started is not None
        before = (started - timedelta(minutes=5)).isoformat()
        await cp.send(_stop(9001, 6000, before))  # ended before this session started
        await cp.send(_stop(9002, 4000, now_iso()))  # below its meterStart
        assert ours in central.open_transactions
        assert central.open_transactions[ours].charger_transaction_id is None
        await cp.stop_transaction(9003, 6000)
        assert ours not in central.open_transactions
        assert central.recent_transactions[-1].charger_transaction_id == 9003


async def test_own_transaction_ids_profile_with_our_ids(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """An Etrel charger set up to use our ids works as any charger, replays included."""
    entry = await setup_entry()
    central = hub_of(entry).central
    stopped = stopped_events(hass)
    async with charger(port_of(entry), "CP-E", cls=playing("etrel_inch")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        first = (await cp.start_transaction(1, "CARD", 1000)).transaction_id
        await cp.meter(1, [sampled("1500", "Energy.Active.Import.Register", "Wh")], transaction_id=first)
        first_stop = _stop(first, 2000, now_iso())
        await cp.send(first_stop)
        second = (await cp.start_transaction(1, "CARD", 2000)).transaction_id
        await cp.send(first_stop)  # replayed
        await cp.meter(1, [sampled("1800", "Energy.Active.Import.Register", "Wh")], transaction_id=first)  # late
        await hass.async_block_till_done()
        assert second in central.open_transactions
        assert central.open_transactions[second].last_register_wh is None
        await cp.meter(1, [sampled("2500", "Energy.Active.Import.Register", "Wh")], transaction_id=second)
        await cp.stop_transaction(second, 3500)
        await hass.async_block_till_done()
        assert [(e["transaction_id"], e["energy"]) for e in stopped] == [(first, 1.0), (second, 1.5)]
        assert all(t.charger_transaction_id is None for t in central.recent_transactions)


def test_charger_transaction_id_is_persisted() -> None:
    transaction = Transaction(
        transaction_id=3, charge_point_id="CP", connector_id=1, id_tag="T", meter_start=0, start=None
    )
    assert "charger_transaction_id" not in transaction.to_dict()  # old data has none
    assert Transaction.from_dict(transaction.to_dict()).charger_transaction_id is None
    transaction.charger_transaction_id = 77
    assert Transaction.from_dict(transaction.to_dict()).charger_transaction_id == 77


async def test_connector_zero_register_ignored(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    async with charger(port_of(entry), "CP-Q", cls=playing("zaptec")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        ours = (await cp.start_transaction(1, "CARD", 1000)).transaction_id
        bogus = [
            sampled("4296944685", "Energy.Active.Import.Register", "Wh"),
            sampled("0.0", "Power.Active.Import", "W"),
        ]
        await cp.meter(0, bogus, transaction_id=ours)
        await cp.meter(1, [sampled("1200", "Energy.Active.Import.Register", "Wh")], transaction_id=ours)
        connectors = central.chargers["CP-Q"].connectors
        assert ENERGY_REGISTER not in connectors[0].meters
        assert "power_active_import" in connectors[0].meters  # the rest of connector 0 stays
        assert central.open_transactions[ours].last_register_wh == 1200
        no_profile(hass, entry, "CP-Q")
        await cp.meter(0, bogus, transaction_id=ours)
        assert connectors[0].meters[ENERGY_REGISTER].value == 4296944685
        assert central.open_transactions[ours].last_register_wh == 4296944685  # 4.3 GWh in one session


async def test_remote_id_tag_from_configuration_key(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-L", cls=playing("alfen_eve")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        device = device_id(hass, "CP-L")
        await action(hass, "remote_start_transaction", device_id=device)
        remote = [request for name, request in cp.received if name == "RemoteStartTransaction"]
        assert remote[-1]["id_tag"] == PLUG_AND_CHARGE_ID
        connector = hub_of(entry).central.chargers["CP-L"].connectors[1]
        await wait_for(lambda: connector.transaction is not None, what="transaction started")
        assert connector.transaction is not None and connector.transaction.id_tag == PLUG_AND_CHARGE_ID
        no_profile(hass, entry, "CP-L")
        with pytest.raises(HomeAssistantError, match="Rejected"):
            await action(hass, "remote_start_transaction", device_id=device, connector_id=1)


async def test_remote_start_profile_follows_the_start(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-V", cls=playing("evbox_elvi")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        device = device_id(hass, "CP-V")
        await action(hass, "remote_start_transaction", device_id=device, id_tag="CARD", charging_profile=TX_PROFILE)
        remote = [request for name, request in cp.received if name == "RemoteStartTransaction"]
        assert "charging_profile" not in remote[-1]
        await wait_for(lambda: (1, "TxProfile") in cp.profiles, what="TxProfile set")
        running = hub_of(entry).central.chargers["CP-V"].connectors[1].transaction
        assert running is not None
        assert cp.profiles[(1, "TxProfile")]["transaction_id"] == running.transaction_id
        no_profile(hass, entry, "CP-V")
        with pytest.raises(HomeAssistantError, match="ProtocolError"):
            await action(hass, "remote_start_transaction", device_id=device, id_tag="CARD", charging_profile=TX_PROFILE)


async def test_remote_start_profile_goes_to_the_remote_start_s_transaction(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-V", cls=playing("evbox_elvi", connectors=2)) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        # No connector given: the charger picks connector 2, and another driver starts on 1 first.
        cp.remote_start_connector = 2
        cp.starts_before_remote = [(1, "OTHER")]
        await remote_start(hub_of(entry), "CP-V", None, "CARD", TX_PROFILE)
        await wait_for(lambda: (2, "TxProfile") in cp.profiles, what="TxProfile set")
        connectors = hub_of(entry).central.chargers["CP-V"].connectors
        running = connectors[2].transaction
        assert running is not None and running.id_tag == "CARD"
        assert cp.profiles[(2, "TxProfile")]["transaction_id"] == running.transaction_id
        assert (1, "TxProfile") not in cp.profiles
        assert connectors[1].transaction is not None


async def test_cancelled_remote_start_leaves_no_watch(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-V", cls=playing("evbox_elvi")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        listeners = len(hub.on_change)
        cp.answers["RemoteStartTransaction"] = SILENT
        task = hass.async_create_task(remote_start(hub, "CP-V", None, "CARD", TX_PROFILE))
        await wait_for(lambda: any(name == "RemoteStartTransaction" for name, _ in cp.received), what="asked")
        assert len(hub.on_change) == listeners + 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(hub.on_change) == listeners


async def test_min_meter_interval(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(meter_value_sample_interval=10)
    async with charger(port_of(entry), "CP-I", cls=playing("easee")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        interval = ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
        state_of = hub_of(entry).central.chargers["CP-I"]
        await wait_for(lambda: interval in cp.received, what="interval raised to 30 s")
        await wait_for(lambda: state_of.config_value("MeterValueSampleInterval") == "30", what="taken")
        no_profile(hass, entry, "CP-I")
        await cp.boot()
        refused = ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "10"})
        await wait_for(lambda: refused in cp.received, what="the option as it is")
        await asyncio.sleep(0.1)
        assert state_of.config_value("MeterValueSampleInterval") == "30"  # refused


async def test_measurands_are_not_read_back(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(meter_values_sampled_data="Energy.Active.Import.Register,Power.Active.Import")
    async with charger(port_of(entry), "CP-B", cls=playing("abb_terra_ac")) as cp:
        assert isinstance(cp, QuirkCharger)
        await cp.boot()  # no statuses: the central system asks for them after setting the measurands
        trigger = ("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": None})
        await wait_for(lambda: trigger in cp.received, what="the work after boot done")
        await asyncio.sleep(0.2)
        assert cp.measurands_changed
        assert not cp.rebooted.is_set()
        changed_at = next(i for i, (name, _) in enumerate(cp.received) if name == "ChangeConfiguration")
        assert not [name for name, _ in cp.received[changed_at:] if name == "GetConfiguration"]


async def test_mixed_case_booleans_are_read(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-T", cls=playing("vestel_evc04")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        state_of = hub_of(entry).central.chargers["CP-T"]
        assert state_of.config_value("LocalAuthorizeOffline") == "TRUE"
        assert state_of.config_bool("LocalAuthorizeOffline") is True
        assert state_of.config_bool("AuthorizeRemoteTxRequests") is False


async def test_meter_stop_below_meter_start(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    stopped = stopped_events(hass)
    async with charger(port_of(entry), "CP-U", cls=playing("huawei_scharger")) as cp:
        assert isinstance(cp, QuirkCharger)
        await ready(hass, entry, cp)
        ours = (await cp.start_transaction(1, "CARD", 5000)).transaction_id
        await cp.stop_transaction(ours, 4999)
        await hass.async_block_till_done()
        assert [(e["transaction_id"], e["meter_stop"], e["energy"]) for e in stopped] == [(ours, 4999, 0.0)]
