"""Costs of sessions with a real charger: a price sensor that changes during the session, replays, restarts."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
import io
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from ocpp.v16 import call
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STOPPED
from custom_components.ocpp_cs.costs import currency_of
from custom_components.ocpp_cs.engine.history import HistoryRecord
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import SimCharger, charger
from .conftest import EntryFactory, hub_of, port_of, runtime_of
from .flow_helpers import configure, form_values, options_step
from .helpers import action, full_state, has_entity, sampled, state
from .test_history import export, get_transactions

PRICE = "sensor.electricity_price"


def price(hass: HomeAssistant, value: str, **attributes: Any) -> None:
    """Set the price sensor's state, as a Nord Pool or template sensor would."""
    hass.states.async_set(PRICE, value, {"unit_of_measurement": "EUR/kWh", **attributes})


async def register(hass: HomeAssistant, cp: SimCharger, transaction_id: int, wh: int) -> None:
    """Report the connector's energy register during the session."""
    await cp.meter(1, [sampled(str(wh), "Energy.Active.Import.Register", "Wh")], transaction_id)
    await hass.async_block_till_done()


async def started(hass: HomeAssistant, cp: SimCharger, meter_start: int = 1000) -> int:
    await cp.boot()
    await cp.status(1, "Charging")
    answer = await cp.start_transaction(1, "CARD-C", meter_start)
    await hass.async_block_till_done()
    return int(answer.transaction_id)


@pytest.mark.usefixtures("config_dir")
async def test_cost_is_the_sum_of_the_intervals_to_the_cent_and_a_replayed_stop_counts_once(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    price(hass, "0.20")
    entry = await setup_entry(price_entity=PRICE, session_fee=0.5)
    hub_of(entry).central.set_id_tag(IdTag("CARD-C", name="Company car"))
    await hass.async_block_till_done()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port_of(entry), "CP-C") as cp:
        tx = await started(hass, cp)
        freezer.tick(timedelta(minutes=30))
        await register(hass, cp, tx, 6000)  # 5 kWh at 0.20
        assert float(state(hass, "CP-C_1_session_cost")) == 1.5  # 1.00 and the fee
        price(hass, "0.40")
        freezer.tick(timedelta(minutes=30))
        await register(hass, cp, tx, 9000)  # 3 kWh at 0.40
        freezer.tick(timedelta(minutes=5))
        price(hass, "300", unit_of_measurement="EUR/MWh")  # 0.30 per kWh, halfway to the stop
        await hass.async_block_till_done()
        freezer.tick(timedelta(minutes=5))
        await cp.stop_transaction(tx, 9500)  # 0.5 kWh: half at 0.40, half at 0.30
        await hass.async_block_till_done()
        # 1.00 + 1.20 + 0.10 + 0.075 + 0.50 = 2.875, rounded once, half up.
        session_cost = full_state(hass, "CP-C_1_session_cost")
        assert float(session_cost.state) == 2.88
        # Each session is a new total: its start is the sensor's last reset.
        assert session_cost.attributes["last_reset"] == hub_of(entry).central.history.get("CP-C", tx).start.isoformat()
        tag_sensor = full_state(hass, f"{entry.entry_id}_id_tag_cost_CARD-C")
        assert float(tag_sensor.state) == 2.88
        assert tag_sensor.attributes["unit_of_measurement"] == "EUR"
        assert tag_sensor.attributes["device_class"] == "monetary"
        assert tag_sensor.attributes["state_class"] == "total"
        # The charger sends the stop again (its offline queue): nothing counts twice.
        freezer.tick(timedelta(minutes=1))
        await cp.send(
            call.StopTransaction(
                transaction_id=tx, meter_stop=9500, timestamp=cp_stop_time(hub_of(entry), tx)
            )
        )
        await hass.async_block_till_done()
    assert float(state(hass, f"{entry.entry_id}_id_tag_cost_CARD-C")) == 2.88
    assert len(stopped) == 1
    assert (stopped[0].data["cost"], stopped[0].data["currency"]) == (2.88, "EUR")
    [record] = await get_transactions(hass, config_entry_id=entry.entry_id)
    assert (record["cost"], record["currency"]) == (2.88, "EUR")
    _path, rows, _totals = await export(hass, config_entry_id=entry.entry_id)
    assert (rows[0]["cost"], rows[0]["currency"]) == ("2.88", "EUR")


def cp_stop_time(hub: Any, transaction_id: int) -> str:
    """Return the recorded stop time of a session as the charger sent it (for an exact replay)."""
    record = hub.central.history.get("CP-C", transaction_id)
    assert record is not None and record.stop is not None
    return str(record.stop.isoformat().replace("+00:00", "Z"))


async def test_a_restart_in_the_middle_of_a_session_keeps_its_readings(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    price(hass, "0.10")
    entry = await setup_entry(price_entity=PRICE)
    async with charger(port_of(entry), "CP-R") as cp:
        tx = await started(hass, cp, meter_start=0)
        freezer.tick(timedelta(hours=1))
        await register(hass, cp, tx, 10_000)  # 10 kWh at 0.10
        freezer.tick(timedelta(seconds=30))
        await register(hass, cp, tx, 10_500)  # 0.5 kWh more, 30 s on: kept until the next minute or the unload
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    price(hass, "0.50")
    async with charger(port_of(entry), "CP-R") as cp:
        await cp.boot()
        # Still charging: it says so (a boot without that puts the transaction in doubt: orphans.py).
        await cp.status(1, "Charging")
        freezer.tick(timedelta(hours=1))
        await register(hass, cp, tx, 12_000)  # 1.5 kWh at 0.50
        await cp.stop_transaction(tx, 12_000)
        await hass.async_block_till_done()
    record = hub_of(entry).central.history.get("CP-R", tx)
    assert record is not None and record.cost == 1.8  # 1.05 + 0.75


async def test_without_a_price_source_nothing_is_costed(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-N") as cp:
        tx = await started(hass, cp)
        await cp.stop_transaction(tx, 2000)
        await hass.async_block_till_done()
    assert not has_entity(hass, "CP-N_1_session_cost")
    record = hub_of(entry).central.history.get("CP-N", tx)
    assert record is not None and record.cost is None and "cost" not in record.to_dict()
    assert not runtime_of(entry).costs.enabled


async def test_a_fixed_price_and_a_stop_without_its_start(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    hass.config.currency = "CHF"
    entry = await setup_entry(fixed_price=0.25, session_fee=1)
    async with charger(port_of(entry), "CP-F") as cp:
        await cp.boot()
        # A session this central system never saw start: only its fee is known.
        await cp.stop_transaction(555, 4000)
        await hass.async_block_till_done()
    record = hub_of(entry).central.history.get("CP-F", 555)
    assert record is not None and (record.cost, record.currency) == (1.0, "CHF")


def test_old_records_without_cost_load() -> None:
    record = HistoryRecord.from_dict({"charge_point_id": "CP", "transaction_id": 1, "energy_wh": 100})
    assert record is not None and record.cost is None and "cost" not in record.as_answer()
    costed = HistoryRecord.from_dict({"charge_point_id": "CP", "transaction_id": 2, "cost": 1.25, "currency": "EUR"})
    assert costed is not None and costed.to_dict()["cost"] == 1.25


async def test_prices_step_validates_and_applies(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    hass.states.async_set("sensor.not_a_price", "cheap")
    price(hass, "0.20")
    entry = await setup_entry()
    form = await options_step(hass, entry, "prices")
    assert form["step_id"] == "prices"
    assert form_values(form) == {}
    cases = [
        ({"price_entity": PRICE, "fixed_price": 0.3}, "base", "price_source_both"),
        ({"session_fee": 1}, "session_fee", "fee_without_price"),
        ({"price_entity": "sensor.not_a_price"}, "price_entity", "price_not_numeric"),
        ({"price_entity": "sensor.missing"}, "price_entity", "price_not_numeric"),
    ]
    for given, field, error in cases:
        result = await configure(hass, form["flow_id"], given)
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {field: error}
    # Costs on: the entry reloads (the cost sensors appear).
    result = await configure(hass, form["flow_id"], {"fixed_price": 0.3, "session_fee": 0.5})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    runtime = runtime_of(entry)
    assert runtime.costs.enabled and runtime.costs.source.fee == Decimal("0.5")
    # A new price applies live, without a reload; the Settings step keeps the Prices options.
    form = await options_step(hass, entry, "prices")
    assert form_values(form) == {"fixed_price": 0.3, "session_fee": 0.5}
    result = await configure(hass, form["flow_id"], {"price_entity": PRICE})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.runtime_data is runtime and runtime.costs.source.entity_id == PRICE
    assert (entry.options["fixed_price"], entry.options["session_fee"]) == (None, None)
    form = await options_step(hass, entry, "settings")
    result = await configure(hass, form["flow_id"], form_values(form))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["price_entity"] == PRICE


@pytest.mark.usefixtures("config_dir")
async def test_get_statement_per_tag_and_as_csv(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(fixed_price=0.25)
    async with charger(port_of(entry), "CP-S") as cp:
        await cp.boot()
        await cp.status(1, "Charging")
        for id_tag, wh in (("CARD-A", 4000), ("CARD-B", 2000), ("CARD-A", 2000)):
            answer = await cp.start_transaction(1, id_tag, 10_000)
            await cp.stop_transaction(answer.transaction_id, 10_000 + wh)
        await hass.async_block_till_done()
    today = dt_util.now().date()
    period = {"config_entry_id": entry.entry_id, "start": str(today), "end": str(today)}
    statement = await action(hass, "get_statement", **period)
    assert statement["currency"] == hass.config.currency
    assert statement["tags"] == [
        {"id_tag": "CARD-A", "sessions": 2, "energy": 6.0, "cost": 1.5, "uncosted_sessions": 0},
        {"id_tag": "CARD-B", "sessions": 1, "energy": 2.0, "cost": 0.5, "uncosted_sessions": 0},
    ]
    one = await action(hass, "get_statement", **period, id_tag="card-b", file=True)
    assert [line["id_tag"] for line in one["tags"]] == ["CARD-B"]
    text = await hass.async_add_executor_job(Path(one["path"]).read_text, "utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["id_tag"], row["charge_point_id"], row["cost"]) for row in rows] == [
        ("CARD-B", "CP-S", "0.50"),
        ("CARD-B", "total", "0.50"),
    ]
    earlier = str(today - timedelta(days=40))
    empty = await action(hass, "get_statement", config_entry_id=entry.entry_id, start=earlier, end=earlier)
    assert empty["tags"] == []
    with pytest.raises(ServiceValidationError):
        await action(hass, "get_statement", config_entry_id=entry.entry_id, start=str(today), end=earlier)
    with pytest.raises(ServiceValidationError):
        await action(hass, "get_statement", config_entry_id="nope", start=str(today), end=str(today))


async def test_a_pause_a_late_stop_and_an_unavailable_price(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    price(hass, "0.20")
    entry = await setup_entry(price_entity=PRICE)
    hub = hub_of(entry)
    hub.central.set_id_tag(IdTag("CARD-C"))
    await hass.async_block_till_done()
    async with charger(port_of(entry), "CP-L") as cp:
        first = await started(hass, cp, meter_start=0)
        freezer.tick(timedelta(hours=1))
        await register(hass, cp, first, 5000)  # 5 kWh at 0.20
        price(hass, "unavailable")  # the sensor's integration restarts: 0.20 holds
        await hass.async_block_till_done()
        freezer.tick(timedelta(hours=1))
        await register(hass, cp, first, 5000)  # the car paused an hour
        price(hass, "0.40")
        freezer.tick(timedelta(minutes=30))
        await cp.status(1, "SuspendedEV")  # still paused when the price changed
        await hass.async_block_till_done()
        freezer.tick(timedelta(minutes=30))
        # Its StopTransaction is lost: the next session's start reconstructs its end.
        second = await cp.start_transaction(1, "CARD-C", 5000)
        await hass.async_block_till_done()
        record = hub.central.history.get("CP-L", first)
        assert record is not None and not record.stop_seen and record.cost == 1.0
        # The lost stop comes after all (1 kWh more, while 0.40 held): settled again, the tag's total
        # moved by the difference (the reconstructed end was provisional), counted once.
        await cp.stop_transaction(first, 6000)
        await hass.async_block_till_done()
        freezer.tick(timedelta(hours=1))
        await register(hass, cp, second.transaction_id, 8000)  # 3 kWh at 0.40
        await cp.stop_transaction(second.transaction_id, 8000)
        await hass.async_block_till_done()
    record = hub.central.history.get("CP-L", first)
    assert record is not None and record.stop_seen and record.cost == 1.4
    second_record = hub.central.history.get("CP-L", second.transaction_id)
    assert second_record is not None and second_record.cost == 1.2
    assert float(state(hass, f"{entry.entry_id}_id_tag_cost_CARD-C")) == 2.6
    # The tag leaves the list: its cost sensor goes.
    hub.central.remove_id_tag("CARD-C")
    await hass.async_block_till_done()
    assert not has_entity(hass, f"{entry.entry_id}_id_tag_cost_CARD-C")


def test_currencies_of_price_units() -> None:
    assert currency_of("EUR/kWh", "USD") == "EUR"
    assert currency_of("SEK/MWh", "USD") == "SEK"
    assert currency_of("ct/kWh", "EUR") == "EUR"  # a subunit: Home Assistant's currency
    assert currency_of(None, "CHF") == "CHF"
