"""The history actions' less travelled ways: dates given as objects, exports in the same second,
a session without meter values, and devices that are no charger."""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger, now_iso
from .conftest import EntryFactory, port_of
from .test_history import export, get_transactions

pytestmark = pytest.mark.usefixtures("config_dir")


async def test_dates_as_objects_and_exports_in_the_same_second(
    hass: HomeAssistant, setup_entry: EntryFactory, freezer: FrozenDateTimeFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        started = await cp.start_transaction(1, "CARD", 1000, timestamp=now_iso())
        await cp.stop_transaction(started.transaction_id, 1500)
        # A stop this central system never saw start: no meter start in the export.
        await cp.stop_transaction(4242, 2000)
    await hass.async_block_till_done()
    today = dt_util.now().date()
    # As automations pass them: a date and a date and time, not text.
    found = await get_transactions(hass, config_entry_id=entry.entry_id, start=today, end=today)
    assert [record["transaction_id"] for record in found] == [4242, started.transaction_id]
    found = await get_transactions(
        hass, config_entry_id=entry.entry_id, start=dt_util.now() - timedelta(hours=1),
        end=datetime.combine(today + timedelta(days=1), datetime.min.time()),
    )
    assert len(found) == 2

    freezer.move_to(dt_util.now())  # both exports in the same second
    first, rows, _totals = await export(hass, config_entry_id=entry.entry_id)
    second, _rows, _totals = await export(hass, config_entry_id=entry.entry_id)
    assert second.name == first.name.replace(".csv", "_2.csv")
    unknown_start = next(row for row in rows if row["transaction_id"] == "4242")
    assert unknown_start["meter_start"] == ""


async def test_history_of_devices_that_are_no_charger(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    devices = dr.async_get(hass)
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    # Our entry's device with another integration's identifier only, and a left-over charger device.
    foreign = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={("other", "x")})
    stale = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "CP-GONE")})
    for device in (foreign, stale):
        with pytest.raises(ServiceValidationError) as raised:
            await get_transactions(hass, device_id=device.id)
        assert raised.value.translation_key == "unknown_history_device"
