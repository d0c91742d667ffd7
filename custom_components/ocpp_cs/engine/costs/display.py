"""The DataTransfer that puts a session's cost on a charger's display.

What the seeds say: the charge-controller documentation (seed 004, configuration key table)
lists `DataTransferTariffUsage`, "Enables the DataTransfer messages that allow to show Tariff
and Total Usage Information", with the warning that a backend which does not support them makes
every authorization fail. The seeds name neither the vendorId, the messageId nor the data.

So the messages built here are the published, open form of the same feature: the Open Charge
Alliance's "OCPP & California Pricing Requirements" customization for OCPP 1.6, which open
implementations (EVerest libocpp, CitrineOS, MicroOcpp) share: DataTransfer with vendorId
`org.openchargealliance.costmsg`, messageId `SetUserPrice` (the tariff, for an id tag),
`RunningCost` (during a session) and `FinalCost` (after it), and `data` a JSON *string* (the
1.6 DataTransfer `data` field is a string). A charger advertises it with the read-only
configuration key `CustomDisplayCostAndPrice`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
import json
from typing import Any

from .accounting import CENT

VENDOR_ID = "org.openchargealliance.costmsg"
SET_USER_PRICE = "SetUserPrice"
RUNNING_COST = "RunningCost"
FINAL_COST = "FinalCost"
# Configuration keys that say a charger shows cost: the OCA key, and seed 004's vendor key.
SUPPORT_KEYS = ("CustomDisplayCostAndPrice", "DataTransferTariffUsage")


@dataclass(frozen=True, slots=True)
class CostMessage:
    """A DataTransfer.req to send: the three fields of OCPP 1.6 section 6.15."""

    vendor_id: str
    message_id: str
    data: str

    def payload(self) -> dict[str, Any]:
        """Return the request as the ocpp library's `call.DataTransfer(**payload)` takes it."""
        return {"vendor_id": self.vendor_id, "message_id": self.message_id, "data": self.data}


def _amount(value: Decimal) -> float:
    """Return money as a JSON number with at most two decimals (what the display shows)."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _data(fields: dict[str, Any]) -> str:
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def price_text(price_per_kwh: Decimal, currency: str, fee: Decimal = Decimal(0)) -> str:
    """Return the tariff as a line a display shows, e.g. `0.25 EUR/kWh + 1.00 EUR per session`."""
    text = f"{price_per_kwh.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP).normalize():f} {currency}/kWh"
    if fee:
        text += f" + {fee.quantize(CENT, rounding=ROUND_HALF_UP)} {currency} per session"
    return text


def set_user_price(id_tag: str, text: str) -> CostMessage:
    """Return the tariff message for an id tag (sent after it is authorized)."""
    return CostMessage(VENDOR_ID, SET_USER_PRICE, _data({"idToken": id_tag, "priceText": text}))


def running_cost(
    transaction_id: int, timestamp: datetime, meter_wh: float, cost: Decimal, *, charging: bool = True
) -> CostMessage:
    """Return the running-cost message for a session in progress."""
    fields = {
        "transactionId": transaction_id,
        "timestamp": timestamp.isoformat(),
        "meterValue": int(meter_wh),
        "cost": _amount(cost),
        "state": "Charging" if charging else "Idle",
    }
    return CostMessage(VENDOR_ID, RUNNING_COST, _data(fields))


def final_cost(transaction_id: int, cost: Decimal, energy_kwh: Decimal, currency: str) -> CostMessage:
    """Return the total-usage message sent when a session ends: its cost and a line to show."""
    kwh = energy_kwh.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{kwh} kWh, {cost.quantize(CENT, rounding=ROUND_HALF_UP)} {currency}"
    return CostMessage(
        VENDOR_ID, FINAL_COST, _data({"transactionId": transaction_id, "cost": _amount(cost), "priceText": text})
    )


def supports_cost_display(configuration: Mapping[str, str]) -> bool:
    """Return True when a charger's configuration says it shows cost (a key set to true or 1)."""
    return any(configuration.get(key, "").strip().lower() in ("true", "1") for key in SUPPORT_KEYS)
