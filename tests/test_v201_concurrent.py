"""2.0.1 id tokens in TransactionEvents: one transaction at a time per tag, a later token checked as a stop."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from custom_components.ocpp_cs.engine.state import IdTag

from .charger201 import charger201
from .conftest import EntryFactory, hub_of, port_of


async def test_a_v201_token_runs_one_transaction_at_a_time_and_stops_as_a_stop(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    central = hub_of(entry).central
    central.set_id_tag(IdTag("CARD-1"))
    central.set_id_tag(IdTag("CARD-2"))
    async with charger201(port_of(entry), "CS-2") as cs:
        await cs.boot()
        await cs.status(1, "Occupied")
        await cs.status(2, "Occupied")
        first = await cs.transaction_event("Started", "TX-1", "Authorized", id_token="CARD-1", evse_id=1)
        assert first.id_token_info["status"] == "Accepted"
        # The same card on the other EVSE while its session runs: refused, as on a 1.6 charger.
        second = await cs.transaction_event("Started", "TX-2", "Authorized", id_token="CARD-1", evse_id=2)
        assert second.id_token_info["status"] == "ConcurrentTx"
        # Plugged in first, then authorized: the token that starts a session is checked as a start.
        await cs.transaction_event("Started", "TX-3", "CablePluggedIn", evse_id=2)
        late = await cs.transaction_event("Updated", "TX-3", "Authorized", id_token="CARD-1", evse_id=2)
        assert late.id_token_info["status"] == "ConcurrentTx"
        await cs.transaction_event("Ended", "TX-3", "EVDeparted", stopped_reason="EVDisconnected", evse_id=2)
        fourth = await cs.transaction_event("Started", "TX-4", "Authorized", id_token="CARD-2", evse_id=2)
        assert fourth.id_token_info["status"] == "Accepted"
        # CARD-1 ends CARD-2's session: a stop, not a second transaction of CARD-1.
        ended = await cs.transaction_event(
            "Ended", "TX-4", "StopAuthorized", id_token="CARD-1", stopped_reason="Local", evse_id=2
        )
        assert ended.id_token_info["status"] == "Accepted"
        again = await cs.transaction_event("Ended", "TX-1", "StopAuthorized", id_token="CARD-1", stopped_reason="Local")
        assert again.id_token_info["status"] == "Accepted"
