"""The DataTransfer messages that show the tariff and the final cost on a charger's display."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
import json

from custom_components.ocpp_cs.engine.costs import (
    final_cost,
    price_text,
    running_cost,
    set_user_price,
    supports_cost_display,
)


def test_final_cost_at_the_end_of_a_session() -> None:
    message = final_cost(42, Decimal("3.305"), Decimal("15.004"), "EUR")
    assert message.payload() == {
        "vendor_id": "org.openchargealliance.costmsg",
        "message_id": "FinalCost",
        "data": message.data,
    }
    assert isinstance(message.data, str)  # OCPP 1.6 DataTransfer data is a string
    assert json.loads(message.data) == {"transactionId": 42, "cost": 3.31, "priceText": "15.00 kWh, 3.31 EUR"}


def test_the_tariff_for_an_id_tag() -> None:
    text = price_text(Decimal("0.2500"), "EUR", fee=Decimal("1"))
    assert text == "0.25 EUR/kWh + 1.00 EUR per session"
    assert price_text(Decimal("0.12345"), "SEK") == "0.1235 SEK/kWh"
    message = set_user_price("CARD1", text)
    assert (message.vendor_id, message.message_id) == ("org.openchargealliance.costmsg", "SetUserPrice")
    assert json.loads(message.data) == {"idToken": "CARD1", "priceText": text}


def test_running_cost() -> None:
    at = datetime(2026, 12, 4, 10, tzinfo=UTC)
    message = running_cost(7, at, 12345.6, Decimal("1.234"))
    assert message.message_id == "RunningCost"
    assert json.loads(message.data) == {
        "transactionId": 7,
        "timestamp": "2026-12-04T10:00:00+00:00",
        "meterValue": 12345,
        "cost": 1.23,
        "state": "Charging",
    }
    assert json.loads(running_cost(7, at, 0, Decimal(0), charging=False).data)["state"] == "Idle"


def test_which_chargers_show_cost() -> None:
    assert supports_cost_display({"CustomDisplayCostAndPrice": "true"})
    assert supports_cost_display({"DataTransferTariffUsage": "1"})  # integer booleans (seed 003)
    assert not supports_cost_display({"DataTransferTariffUsage": "0"})
    assert not supports_cost_display({})
