"""Sessions of relayed chargers as the upstream numbers them: a replayed start given a new id,
and a start on a connector whose previous session never stopped."""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import EVENT_TRANSACTION_STARTED, EVENT_TRANSACTION_STOPPED

from .charger import now_iso
from .conftest import EntryFactory, hub_of, port_of
from .helpers import state
from .test_local_controller import boot, relayed
from .upstream import FIRST_TRANSACTION_ID, Upstream, upstream_fixture  # noqa: F401 (the fixture)


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_a_replayed_start_the_upstream_numbers_anew_moves_the_session(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    upstream.state.renumber_replays = True
    entry = await setup_entry(upstream_url=upstream.url)
    central = hub_of(entry).central
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    timestamp = now_iso()
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        first = await cp.start_transaction(1, "CARD", 1000, timestamp=timestamp)
        # The charger missed the answer and sends the same StartTransaction again.
        again = await cp.start_transaction(1, "CARD", 1000, timestamp=timestamp)
        assert (first.transaction_id, again.transaction_id) == (FIRST_TRANSACTION_ID, FIRST_TRANSACTION_ID + 1)
        await hass.async_block_till_done()
        # One session, under the id the charger uses from now on.
        assert list(central.observed_transactions) == [("CP-1", FIRST_TRANSACTION_ID + 1)]
        assert state(hass, "CP-1_1_transaction_id") == str(FIRST_TRANSACTION_ID + 1)
        await cp.stop_transaction(again.transaction_id, 2500)
        await hass.async_block_till_done()
    assert [event.data["transaction_id"] for event in started] == [FIRST_TRANSACTION_ID]
    assert [(event.data["transaction_id"], event.data["energy"]) for event in stopped] == [
        (FIRST_TRANSACTION_ID + 1, 1.5)
    ]


async def test_a_start_on_a_connector_whose_session_never_stopped(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    entry = await setup_entry(upstream_url=upstream.url)
    central = hub_of(entry).central
    async with relayed(port_of(entry), "CP-1") as cp:
        await boot(hass, cp)
        first = await cp.start_transaction(1, "CARD", 1000)
        second = await cp.start_transaction(1, "CARD", 3000)
        await hass.async_block_till_done()
    assert (
        f"CP-1 connector 1: transaction {second.transaction_id} started while {first.transaction_id} "
        "had no StopTransaction yet"
    ) in caplog.text
    connector = central.chargers["CP-1"].connectors[1]
    assert connector.transaction is not None and connector.transaction.transaction_id == second.transaction_id
