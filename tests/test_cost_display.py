"""A session's cost on the charger's display: FinalCost after the stop, where the charger says it shows it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v16 import call

from custom_components.ocpp_cs.cost_display import FINAL_COST_DELAY
from custom_components.ocpp_cs.engine.costs.display import VENDOR_ID
from custom_components.ocpp_cs.engine.orphans import DEFAULT_GRACE
from custom_components.ocpp_cs.engine.util import utcnow

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import CALLERROR, ControlCharger
from .helpers import wait_for


class DisplayCharger(ControlCharger):
    """A charger whose configuration says it shows costs (the OCA pricing key)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration.append({"key": "CustomDisplayCostAndPrice", "readonly": True, "value": "true"})


def cost_messages(cp: ControlCharger) -> list[dict[str, Any]]:
    return [request for name, request in cp.received if name == "DataTransfer" and request["vendor_id"] == VENDOR_ID]


async def session(hass: HomeAssistant, entry: Any, cp: ControlCharger) -> int:
    """Boot, wait for the configuration to be read, and charge 4 kWh."""
    await cp.boot()
    await cp.status(1, "Charging")
    state = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "NumberOfConnectors" in state.configuration, what="the configuration")
    started = await cp.start_transaction(1, "CARD", 10_000)
    await cp.stop_transaction(started.transaction_id, 14_000)
    await hass.async_block_till_done()
    return int(started.transaction_id)


async def test_the_final_cost_goes_to_a_charger_that_shows_it(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    hass.config.currency = "EUR"
    entry = await setup_entry(fixed_price=0.25, session_fee=1)
    async with charger(port_of(entry), "CP-D", cls=DisplayCharger) as cp:
        assert isinstance(cp, DisplayCharger)
        transaction_id = await session(hass, entry, cp)
        await wait_for(lambda: bool(cost_messages(cp)), what="FinalCost")
        [message] = cost_messages(cp)
        assert message["message_id"] == "FinalCost"
        assert json.loads(message["data"]) == {
            "transactionId": transaction_id, "cost": 2.0, "priceText": "4.00 kWh, 2.00 EUR"
        }
        # Messages of that vendor from the charger: the vendor is known, the message is not.
        answer = await cp.send(call.DataTransfer(vendor_id=VENDOR_ID, message_id="RunningCost", data="{}"))
        assert answer.status == "UnknownMessageId"
        answer = await cp.send(call.DataTransfer(vendor_id="com.example", message_id="Hello"))
        assert answer.status == "UnknownVendorId"
        # A charger that refuses it, or fails on it: a log line, nothing else.
        for count, refusal in ((2, "Rejected"), (3, CALLERROR)):
            cp.answers["DataTransfer"] = refusal
            started = await cp.start_transaction(1, "CARD", 20_000)
            await cp.stop_transaction(started.transaction_id, 21_000)
            await wait_for(lambda count=count: len(cost_messages(cp)) == count, what="FinalCost")
            await hass.async_block_till_done(wait_background_tasks=True)


async def test_no_final_cost_for_a_charger_that_does_not_show_it(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(fixed_price=0.25)
    async with charger(port_of(entry), "CP-X", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await session(hass, entry, cp)
        await asyncio.sleep(1.2)  # past the moment FinalCost would go out
        assert cost_messages(cp) == []


async def test_a_reconstructed_session_shows_its_real_cost_once_the_real_stop_comes(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    hass.config.currency = "EUR"
    entry = await setup_entry(fixed_price=0.25)
    central = hub_of(entry).central
    async with charger(port_of(entry), "CP-R", cls=DisplayCharger) as cp:
        assert isinstance(cp, DisplayCharger)
        await cp.boot()
        await cp.status(1, "Charging")
        state = central.chargers[cp.id]
        await wait_for(lambda: "NumberOfConnectors" in state.configuration, what="the configuration")
        started = await cp.start_transaction(1, "CARD", 10_000)
        await cp.boot()  # it rebooted on its own: the transaction is in doubt
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        central.close_overdue_transactions(utcnow() + DEFAULT_GRACE)
        await hass.async_block_till_done()
        record = central.history.get("CP-R", started.transaction_id)
        assert record is not None and not record.stop_seen
        await asyncio.sleep(FINAL_COST_DELAY + 0.2)
        assert cost_messages(cp) == []  # a provisional cost is not the charger's to show
        # Its queued StopTransaction after all: 4 kWh at 0.25.
        await cp.stop_transaction(started.transaction_id, 14_000)
        await hass.async_block_till_done()
        await wait_for(lambda: bool(cost_messages(cp)), what="FinalCost")
        [message] = cost_messages(cp)
        assert json.loads(message["data"])["cost"] == 1.0
