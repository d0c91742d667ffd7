"""The actions' less travelled forms: the limit form of set_charging_profile with every optional
field, remote_stop by transaction id, and how the target device is named (or not)."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ocpp_cs import device_trigger
from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, port_of
from .control_charger import ControlCharger
from .helpers import action, device_id
from .test_smart_charging import profiles_sent, ready, with_units


async def test_the_limit_form_with_every_optional_field(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=with_units("A")) as cp:
        assert isinstance(cp, ControlCharger)
        await ready(hass, entry, cp)
        dev, connector_1 = device_id(hass, "CP-1"), device_id(hass, "CP-1_1")

        # A relative charge point limit: no start.
        await action(hass, "set_charging_profile", device_id=dev, limit=20, unit="A", stack_level=1, kind="relative",
                     duration=3600, min_charging_rate=6.04,
                     valid_from=datetime(2030, 1, 1, tzinfo=UTC), valid_to=datetime(2030, 2, 1, tzinfo=UTC))
        profile = profiles_sent(cp)[-1]["profile"]
        assert profile["charging_profile_kind"] == "Relative"
        assert "start_schedule" not in profile["charging_schedule"]
        assert profile["charging_schedule"]["duration"] == 3600
        assert profile["charging_schedule"]["min_charging_rate"] == 6.0
        assert (profile["valid_from"], profile["valid_to"]) == ("2030-01-01T00:00:00.000Z", "2030-02-01T00:00:00.000Z")

        # The running transaction's own limit, as an absolute schedule: it starts now.
        started = await cp.start_transaction(1, "CARD", 0)
        cp.transactions[started.transaction_id] = 1
        await action(hass, "set_charging_profile", device_id=connector_1, limit=10, unit="A", purpose="tx",
                     kind="absolute")
        profile = profiles_sent(cp)[-1]["profile"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == started.transaction_id
        assert profile["charging_profile_kind"] == "Absolute"
        assert "start_schedule" in profile["charging_schedule"]

        # Stopped by its id.
        answer = await action(hass, "remote_stop_transaction", device_id=dev, transaction_id=started.transaction_id)
        assert answer == {"status": "Accepted"}
        assert ("RemoteStopTransaction", {"transaction_id": started.transaction_id}) in cp.received


async def test_how_the_target_device_is_named(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await cp.boot()
        dev = device_id(hass, "CP-1")
        # A list of one device, as the UI's target selector sends it.
        assert await action(hass, "clear_cache", device_id=[dev]) == {"status": "Accepted"}
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "clear_cache")
        assert raised.value.translation_key == "device_required"
        # A device of another integration is no charger.
        other_entry = MockConfigEntry(domain="other")
        other_entry.add_to_hass(hass)
        other = dr.async_get(hass).async_get_or_create(
            config_entry_id=other_entry.entry_id, identifiers={("other", "CP-1")}
        )
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "clear_cache", device_id=other.id)
        assert raised.value.translation_key == "unknown_device"
        # A device this entry does not know (left over), and one of an entry that is not loaded.
        devices = dr.async_get(hass)
        stale = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "CP-GONE")})
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "clear_cache", device_id=stale.id)
        assert raised.value.translation_key == "unknown_device"
        unloaded = await setup_entry()
        assert await hass.config_entries.async_unload(unloaded.entry_id)
        orphan = devices.async_get_or_create(config_entry_id=unloaded.entry_id, identifiers={(DOMAIN, "CP-9")})
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "clear_cache", device_id=orphan.id)
        assert raised.value.translation_key == "unknown_device"
        # A message the charger cannot be asked for.
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "trigger_message", device_id=dev, requested_message="coffee")
        assert raised.value.translation_key == "invalid_field"


async def test_id_tags_named_by_a_device_list_with_a_local_expiry(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        answer = await action(hass, "add_id_tag", device_id=[device_id(hass, "CP-1")], id_tag="CARD",
                              expiry_date="2030-06-01T12:00:00")
    # A time without a zone is Home Assistant's local time.
    local = datetime(2030, 6, 1, 12, tzinfo=dt_util.get_default_time_zone())
    assert answer["expiry_date"] == local.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def test_device_triggers_only_on_chargers_and_their_connectors(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    devices = dr.async_get(hass)
    charger_device = devices.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "CP-1")})
    # Hanging off the charger, but not named after it.
    stray = devices.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "OTHER_1")}, via_device_id=charger_device.id
    )
    assert stray.via_device_id == charger_device.id
    for device in (stray.id, "no-such-device"):
        config = {"platform": "device", "domain": DOMAIN, "device_id": device, "type": "transaction_started"}
        with pytest.raises(InvalidDeviceAutomationConfig) as raised:
            await device_trigger.async_validate_trigger_config(hass, config)
        assert raised.value.translation_key == "trigger_device_not_charger"
