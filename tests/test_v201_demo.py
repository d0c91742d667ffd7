"""The demo charger's OCPP 2.0.1 station (scripts/demo_charger --ocpp 2.0.1) against the integration."""

from __future__ import annotations

import asyncio
import contextlib

from homeassistant.core import HomeAssistant

from .conftest import EntryFactory, hub_of, port_of
from .helpers import state, wait_for
from .test_quirks_table import load_script


async def test_demo_station_plays_sessions(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    demo = load_script("demo_station201.py")
    entry = await setup_entry()
    central = hub_of(entry).central
    stopping = asyncio.Event()
    station = asyncio.get_running_loop().create_task(
        demo.run_station(
            f"ws://127.0.0.1:{port_of(entry)}/ocpp/demo-201", "demo-201",
            evses=2, speed=600, headers=None, stopping=stopping,
        )
    )
    try:
        await wait_for(lambda: sum(1 for r in central.history if r.charge_point_id == "demo-201") >= 2,
                       timeout=30, what="two demo sessions")
    finally:
        stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(station, 10)
    # (Home Assistant settles only once the station stopped: it never pauses at speed 600.)
    await hass.async_block_till_done()
    assert state(hass, "demo-201_0_ocpp_version") == "2.0.1"
    assert central.chargers["demo-201"].config_value("SampledDataCtrlr/TxUpdatedInterval") == "10"
    record = next(r for r in central.history if r.charge_point_id == "demo-201")
    assert isinstance(record.transaction_id, str)
    assert record.id_tag == "DEMO-TAG"
    # 11.04 kW for 600 simulated seconds.
    assert central.chargers["demo-201"].connectors[record.connector_id].stopped_energy_wh >= 1840
