"""A stored state with loose ends: two open sessions on one connector, sessions of chargers the
state no longer has, a relayed session beside a direct one; and a start for an unknown reservation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from ocpp.v16 import call

from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of


def stored_transaction(
    number: int, charge_point_id: str, connector_id: int, start: str, **extra: Any
) -> dict[str, Any]:
    return {"transaction_id": number, "charge_point_id": charge_point_id, "connector_id": connector_id,
            "id_tag": "CARD", "meter_start": 0, "start": start, **extra}


async def test_a_stored_state_with_loose_ends(
    hass: HomeAssistant, setup_entry: EntryFactory, hass_storage: dict[str, Any]
) -> None:
    entry = await setup_entry()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    hass_storage[f"{DOMAIN}.{entry.entry_id}"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}",
        "data": {
            "next_transaction_id": 1,
            "chargers": [{"charge_point_id": "CP-1", "accepted": True, "connectors": [{"connector_id": 1}]}],
            # Two open sessions on one connector (a stop was lost): the newer is the connector's.
            "open_transactions": [
                stored_transaction(12, "CP-1", 1, start),
                stored_transaction(11, "CP-1", 1, start),
            ],
            # A stopped session on a connector the charger no longer has, one of a removed charger.
            "recent_transactions": [
                stored_transaction(9, "CP-1", 7, start, meter_stop=10, stop=start),
                stored_transaction(8, "CP-GONE", 1, start, meter_stop=10, stop=start),
            ],
            # Relayed sessions: one beside the direct session of connector 1, one of a removed charger.
            "observed_transactions": [
                stored_transaction(5000, "CP-1", 1, start),
                stored_transaction(5001, "CP-GONE", 1, start),
            ],
        },
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    central = hub_of(entry).central
    connector = central.chargers["CP-1"].connectors[1]
    assert connector.transaction is not None and connector.transaction.transaction_id == 12
    assert set(central.open_transactions) == {11, 12}
    assert set(central.observed_transactions) == {("CP-1", 5000), ("CP-GONE", 5001)}
    assert 7 not in central.chargers["CP-1"].connectors
    assert "CP-GONE" not in central.chargers
    # Ids in use are never handed out again.
    assert central.next_transaction_id == 13


async def test_a_start_for_a_reservation_this_central_system_does_not_know(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        answer = await cp.send(
            call.StartTransaction(connector_id=1, id_tag="CARD", meter_start=0, timestamp=now_iso(), reservation_id=77)
        )
        assert answer.id_tag_info["status"] == "Accepted"
    transaction = hub_of(entry).central.open_transactions[answer.transaction_id]
    assert transaction.reservation_id == 77
