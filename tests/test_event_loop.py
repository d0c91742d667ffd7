"""Nothing an action does blocks the event loop: Home Assistant's blocking-call detection stays quiet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from homeassistant import block_async_io
from homeassistant.core import HomeAssistant
import ocpp.messages
import pytest

from .charger import charger
from .conftest import EntryFactory, port_of
from .firmware_charger import FirmwareCharger
from .helpers import action, device_id, wait_for
from .test_control import booted

BLOCKING_REPORT = "Detected blocking call"


@pytest.fixture
def detect_blocking_calls(
    monkeypatch: pytest.MonkeyPatch,
    disable_block_async_io: None,
    caplog: pytest.LogCaptureFixture,
    config_dir: Path,
) -> Iterator[None]:
    """
    Turn on Home Assistant's detection of blocking calls in the event loop, as a real start does.

    The test plugin leaves it off, and Home Assistant skips file opens when it runs under tests;
    `disable_block_async_io` (the plugin's fixture) turns it off again afterwards. It is turned on
    after the other fixtures (the event loop's thread runs them: their file work would count). The
    `ocpp` library caches the JSON schemas it read for the whole process: the test starts without
    them, as Home Assistant does after a restart.
    """
    monkeypatch.setattr(block_async_io, "_IN_TESTS", False)
    monkeypatch.setattr(ocpp.messages, "_validators", {})
    block_async_io.enable()
    yield
    reports = [
        message
        for when in ("setup", "call")
        for record in caplog.get_records(when)  # type: ignore[arg-type]
        if BLOCKING_REPORT in (message := record.getMessage())
    ]
    assert not reports, "\n\n".join(reports)


class EveryProfileCharger(FirmwareCharger):
    """Answers every command, reports every feature profile."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configuration = [
            {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            {
                "key": "SupportedFeatureProfiles",
                "readonly": True,
                "value": "Core,RemoteTrigger,SmartCharging,Reservation,LocalAuthListManagement,FirmwareManagement",
            },
            {"key": "SupportedFileTransferProtocols", "readonly": True, "value": "FTP,HTTP,HTTPS"},
            {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current"},
            {"key": "ReserveConnectorZeroSupported", "readonly": True, "value": "false"},
        ]


def full_profile(profile_id: int, purpose: str = "TxDefaultProfile", limit: float = 16.5) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 1,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2024-01-01T00:00:00Z",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


@pytest.mark.usefixtures("detect_blocking_calls")
async def test_actions_do_not_block_the_event_loop(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-LOOP", cls=EveryProfileCharger) as cp:
        assert isinstance(cp, EveryProfileCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-LOOP")
        await wait_for(lambda: any(name == "GetConfiguration" for name, _ in cp.received), what="configuration read")
        await hass.async_block_till_done()

        # Smart charging: the full-profile form is checked against the schema with Decimal limits.
        await action(hass, "set_charging_profile", device_id=dev, connector_id=1, charging_profile=full_profile(7))
        await action(hass, "set_charging_profile", device_id=dev, connector_id=0, limit=20, unit="A")
        await action(hass, "set_charging_profile", device_id=dev, connector_id=1, limit=10, unit="A", stack_level=2)
        await action(hass, "get_composite_schedule", device_id=dev, connector_id=1, duration=600)
        await action(hass, "clear_charging_profile", device_id=dev, id=7)
        await action(
            hass,
            "remote_start_transaction",
            device_id=dev,
            connector_id=1,
            charging_profile=full_profile(8, "TxProfile", 12.5),
        )
        # Every action the generic `call` sends is checked against its schema first.
        for name, payload in (
            ("SetChargingProfile", {"connectorId": 2, "csChargingProfiles": full_profile(9, limit=8.5)}),
            ("GetCompositeSchedule", {"connectorId": 2, "duration": 60}),
            ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}),
            ("UnlockConnector", {"connectorId": 2}),
            ("Reset", {"type": "Soft"}),
            ("ClearCache", {}),
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
            ("DataTransfer", {"vendorId": "acme", "data": "x"}),
            ("GetLocalListVersion", {}),
        ):
            await action(hass, "call", device_id=dev, action=name, payload=payload)
        # The other Core, Remote Trigger, Reservation and Local Auth List actions.
        await action(hass, "unlock_connector", device_id=dev, connector_id=2)
        await action(hass, "change_availability", device_id=dev, connector_id=2, type="inoperative")
        await action(hass, "change_configuration", device_id=dev, key="MeterValueSampleInterval", value="60")
        await action(hass, "get_configuration", device_id=dev, keys=["HeartbeatInterval"])
        await action(hass, "trigger_message", device_id=dev, requested_message="StatusNotification")
        await action(hass, "data_transfer", device_id=dev, vendor_id="acme", message_id="m", data="hello")
        await action(hass, "clear_cache", device_id=dev)
        expiry = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
        reserved = await action(hass, "reserve_now", device_id=dev, connector_id=2, id_tag="CARD", expiry_date=expiry)
        await action(hass, "cancel_reservation", device_id=dev, reservation_id=reserved["reservation_id"])
        await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="CARD")
        await action(hass, "send_local_list", device_id=dev)
        await action(hass, "get_local_list_version", device_id=dev)
        # Firmware Management, the security extension, the transaction history.
        await action(hass, "get_diagnostics", device_id=dev, location="ftp://files.example/diagnostics")
        await action(hass, "update_firmware", device_id=dev, location="ftp://files.example/firmware.bin")
        await action(hass, "extended_trigger_message", device_id=dev, requested_message="Heartbeat")
        await action(
            hass, "get_installed_certificate_ids", device_id=dev, certificate_type="central_system_root_certificate"
        )
        await action(hass, "get_transactions", config_entry_id=entry.entry_id)
        await action(hass, "export_transactions", config_entry_id=entry.entry_id)
        await action(hass, "reset", device_id=dev, type="soft")
        await hass.async_block_till_done()
