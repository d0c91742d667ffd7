"""A session's cost on the charger's display (issue 18): FinalCost after each stop, where understood.

A charger understands it when its quirk profile says so (`cost_display`) or its configuration
says so (`CustomDisplayCostAndPrice` or `DataTransferTariffUsage` true; engine/costs/display.py
has what the seeds and the OCA pricing customization say). The message goes out a moment after
the stop is recorded, so that the charger has the StopTransaction's answer first: it shows the
cost of a session it knows has ended. A charger that refuses it, or has gone, only costs a log line.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
import logging

from homeassistant.exceptions import HomeAssistantError
from ocpp.v16 import call

from .commands import async_call
from .costs import CostKeeper
from .engine.costs import CostMessage, SessionCost, final_cost, supports_cost_display
from .engine.costs.display import SUPPORT_KEYS
from .engine.history import HistoryRecord
from .engine.state import ChargerState
from .ports import Hub

_LOGGER = logging.getLogger(__name__)

# Seconds between recording a stop and showing its cost (the answer goes out in between).
FINAL_COST_DELAY = 1.0


def shows_cost(charger: ChargerState) -> bool:
    """Return True when a charger shows costs (its quirk profile or its configuration says so)."""
    configuration = {key: charger.config_value(key) or "" for key in SUPPORT_KEYS}
    return charger.quirks.cost_display or supports_cost_display(configuration)


class CostDisplay:
    """Sends FinalCost to the chargers that show it, after each session the cost keeper settles."""

    def __init__(self, hub: Hub, costs: CostKeeper) -> None:
        """Follow the sessions the cost keeper settles."""
        self.hub = hub
        self.costs = costs
        costs.on_settled.append(self._settled)

    def _settled(self, record: HistoryRecord, result: SessionCost) -> None:
        charger = self.hub.central.chargers.get(record.charge_point_id)
        if charger is None or not charger.connected or not shows_cost(charger):
            return
        if not isinstance(record.transaction_id, int):
            return  # the 1.6 cost messages carry our integer ids; a 2.0.1 station has CostUpdated
        message = final_cost(record.transaction_id, result.cost, result.energy_wh / Decimal(1000), self.costs.currency)
        self.hub.entry.async_create_background_task(
            self.hub.hass, self._send(record.charge_point_id, message), f"ocpp_cs final cost {record.key}"
        )

    async def _send(self, charge_point_id: str, message: CostMessage) -> None:
        await asyncio.sleep(FINAL_COST_DELAY)
        try:
            answer = await async_call(self.hub, charge_point_id, call.DataTransfer(**message.payload()))
        except HomeAssistantError as err:
            _LOGGER.info("%s: the session's cost was not shown: %s", charge_point_id, err)
            return
        if answer.status != "Accepted":
            _LOGGER.info("%s: the charger answered %s to %s", charge_point_id, answer.status, message.message_id)
