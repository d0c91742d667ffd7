"""Commands from Home Assistant to chargers: actions, switches and buttons (the Core profile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
import yaml

from custom_components.ocpp_cs import services
from custom_components.ocpp_cs.const import DOMAIN

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import CALLERROR, SILENT, ControlCharger
from .helpers import action, device_id, entity_id, has_entity, state, wait_for


async def booted(hass: HomeAssistant, cp: ControlCharger, connectors: int = 2) -> None:
    await cp.boot()
    for connector_id in range(connectors + 1):
        await cp.status(connector_id, "Available")
    await hass.async_block_till_done()


async def test_every_action_against_an_accepting_charger(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-A", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        charger_device = device_id(hass, "CP-A")
        connector_2 = device_id(hass, "CP-A_2")

        assert await action(hass, "reset", device_id=charger_device, type="hard") == {"status": "Accepted"}
        assert ("Reset", {"type": "Hard"}) in cp.received
        assert await action(hass, "unlock_connector", device_id=connector_2) == {"status": "Unlocked"}
        assert ("UnlockConnector", {"connector_id": 2}) in cp.received
        assert await action(hass, "clear_cache", device_id=charger_device) == {"status": "Accepted"}
        answer = await action(hass, "change_availability", device_id=charger_device, connector_id=1, type="inoperative")
        assert answer == {"status": "Accepted"}
        await wait_for(lambda: state(hass, "CP-A_1_available", "switch") == "off", what="connector 1 unavailable")
        answer = await action(hass, "trigger_message", device_id=charger_device, requested_message="Heartbeat")
        assert answer == {"status": "Accepted"}
        answer = await action(hass, "data_transfer", device_id=charger_device, vendor_id="acme", data="hello")
        assert answer == {"status": "Accepted", "data": "echo:hello"}
        answer = await action(hass, "change_configuration", device_id=charger_device, key="HeartbeatInterval", value=60)
        assert answer == {"status": "Accepted"}
        assert ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}) in cp.received
        answer = await action(hass, "get_configuration", device_id=charger_device, keys=["HeartbeatInterval", "Nope"])
        assert answer["unknown_key"] == ["Nope"]
        assert answer["configuration_key"][0]["key"] == "HeartbeatInterval"

        # Remote start on connector 2 (implied by its device), then stop the running transaction.
        assert await action(hass, "remote_start_transaction", device_id=connector_2) == {"status": "Accepted"}
        await wait_for(lambda: state(hass, "CP-A_2_charging", "switch") == "on", what="charging on")
        assert cp.received[-1][0] == "RemoteStartTransaction" or any(
            r == ("RemoteStartTransaction", {"id_tag": "HomeAssistant", "connector_id": 2}) for r in cp.received
        )
        assert await action(hass, "remote_stop_transaction", device_id=connector_2) == {"status": "Accepted"}
        await wait_for(lambda: state(hass, "CP-A_2_charging", "switch") == "off", what="charging off")
        assert state(hass, "CP-A_2_stop_reason") == "remote"


async def test_charging_switch_full_cycle(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(remote_id_tag="HA-CAR")
    async with charger(port_of(entry), "CP-S", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        switch = entity_id(hass, "CP-S_1_charging", "switch")
        assert state(hass, "CP-S_1_charging", "switch") == "off"
        await hass.services.async_call("switch", "turn_on", {"entity_id": switch}, blocking=True)
        # The switch shows what the charger does, not the request: on once the transaction starts.
        await wait_for(lambda: state(hass, "CP-S_1_charging", "switch") == "on", what="transaction started")
        assert state(hass, "CP-S_1_id_tag") == "HA-CAR"
        await hass.services.async_call("switch", "turn_off", {"entity_id": switch}, blocking=True)
        await wait_for(lambda: state(hass, "CP-S_1_charging", "switch") == "off", what="transaction stopped")


async def test_refusals_are_errors_that_name_charger_and_answer(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-R", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        cp.answers.update(
            {
                "Reset": "Rejected",
                "UnlockConnector": "UnlockFailed",
                "RemoteStartTransaction": "Rejected",
                "ChangeConfiguration": "NotSupported",
                "ClearCache": "Rejected",
                "DataTransfer": "UnknownVendorId",
                "TriggerMessage": "NotImplemented",
                "ChangeAvailability": "Rejected",
            }
        )
        dev = device_id(hass, "CP-R")
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("reset", {}, "Rejected"),
            ("unlock_connector", {"connector_id": 1}, "UnlockFailed"),
            ("remote_start_transaction", {}, "Rejected"),
            ("change_configuration", {"key": "Foo", "value": "1"}, "NotSupported"),
            ("clear_cache", {}, "Rejected"),
            ("data_transfer", {"vendor_id": "acme"}, "UnknownVendorId"),
            ("trigger_message", {"requested_message": "status_notification"}, "NotImplemented"),
            ("change_availability", {"type": "inoperative"}, "Rejected"),
        ]
        for name, data, answer in cases:
            with pytest.raises(HomeAssistantError) as raised:
                await action(hass, name, device_id=dev, **data)
            assert not isinstance(raised.value, ServiceValidationError)
            assert raised.value.translation_key == "refused", name
            assert raised.value.translation_placeholders["charge_point_id"] == "CP-R"
            assert raised.value.translation_placeholders["status"] == answer

        cp.answers["ChangeConfiguration"] = "RebootRequired"
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "change_configuration", device_id=dev, key="HeartbeatInterval", value="10")
        assert raised.value.translation_key == "reboot_required"

        # Scheduled is a success; the switch keeps following the reported status.
        cp.answers["ChangeAvailability"] = "Scheduled"
        answer = await action(hass, "change_availability", device_id=dev, connector_id=2, type="inoperative")
        assert answer == {"status": "Scheduled"}
        await hass.async_block_till_done()
        available = hass.states.get(entity_id(hass, "CP-R_2_available", "switch"))
        assert available is not None
        assert available.state == "on"
        assert available.attributes["scheduled"] is True
        await cp.status(2, "Unavailable")
        await hass.async_block_till_done()
        available = hass.states.get(entity_id(hass, "CP-R_2_available", "switch"))
        assert available is not None
        assert available.state == "off"
        assert available.attributes["scheduled"] is False


async def test_callerror_timeout_and_offline(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    assert hub.server is not None
    hub.server.response_timeout = 0.5
    async with charger(port_of(entry), "CP-E", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-E")
        cp.answers["Reset"] = CALLERROR
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "reset", device_id=dev)
        assert raised.value.translation_key == "call_error"
        assert raised.value.translation_placeholders["code"] == "InternalError"

        cp.answers["ClearCache"] = SILENT
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "clear_cache", device_id=dev)
        assert raised.value.translation_key == "timeout"

    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as raised:
        await action(hass, "reset", device_id=dev)
    assert raised.value.translation_key == "not_connected"
    # Its entities are unavailable while it is offline.
    assert state(hass, "CP-E_0_reset", "button") == "unavailable"
    assert state(hass, "CP-E_1_charging", "switch") == "unavailable"


async def test_bad_input_is_a_validation_error(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-V", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-V")
        bad: list[tuple[str, dict[str, Any], str]] = [
            ("reset", {"device_id": "not-a-device"}, "unknown_device"),
            ("unlock_connector", {"device_id": dev, "connector_id": 5}, "invalid_connector"),
            ("unlock_connector", {"device_id": dev, "connector_id": "abc"}, "invalid_field"),
            ("reset", {"device_id": dev, "type": "medium"}, "invalid_field"),
            ("remote_stop_transaction", {"device_id": dev}, "no_transaction"),
            ("unlock_connector", {"device_id": device_id(hass, "CP-V_2"), "connector_id": 1}, "connector_mismatch"),
            ("change_configuration", {"device_id": dev, "key": "K"}, "invalid_field"),
        ]
        for name, data, key in bad:
            with pytest.raises(ServiceValidationError) as raised:
                await hass.services.async_call(DOMAIN, name, data, blocking=True)
            assert raised.value.translation_key == key, (name, data)

        # A charger that reports no RemoteTrigger profile cannot be sent TriggerMessage.
        hub_of(entry).central.chargers["CP-V"].configuration.pop("SupportedFeatureProfiles")
        cp.configuration[2]["value"] = "Core,SmartCharging"
        await action(hass, "get_configuration", device_id=dev)
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "trigger_message", device_id=dev, requested_message="Heartbeat")
        assert raised.value.translation_key == "feature_not_supported"


async def test_connector_the_charger_has_not_reported(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """Refused by default; sent when the caller insists, and the charger's answer decides."""
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-U", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)  # NumberOfConnectors 2
        dev = device_id(hass, "CP-U")
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "unlock_connector", device_id=dev, connector_id=3)
        assert raised.value.translation_key == "invalid_connector"
        assert not any(name == "UnlockConnector" for name, _ in cp.received)

        answer = await action(hass, "unlock_connector", device_id=dev, connector_id=3, allow_unknown_connector=True)
        assert answer == {"status": "Unlocked"}
        assert ("UnlockConnector", {"connector_id": 3}) in cp.received
        cp.answers["UnlockConnector"] = "NotSupported"
        with pytest.raises(HomeAssistantError) as refused:
            await action(hass, "unlock_connector", device_id=dev, connector_id=3, allow_unknown_connector=True)
        assert refused.value.translation_key == "refused"

        # The other connector actions take the field too; a connector the charger then reports appears.
        answer = await action(
            hass, "change_availability", device_id=dev, connector_id=4, type="inoperative", allow_unknown_connector=True
        )
        assert answer == {"status": "Accepted"}
        await wait_for(lambda: has_entity(hass, "CP-U_4_status"), what="connector 4 reported")
        answer = await action(
            hass, "trigger_message", device_id=dev, requested_message="StatusNotification", connector_id=5,
            allow_unknown_connector=True,
        )
        assert answer == {"status": "Accepted"}
        answer = await action(
            hass, "set_charging_profile", device_id=dev, connector_id=5, limit=10, unit="A",
            allow_unknown_connector=True,
        )
        assert answer["status"] == "Accepted"
        assert any(name == "SetChargingProfile" and request["connector_id"] == 5 for name, request in cp.received)
        # Not above the ids a charger's own messages may name.
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "unlock_connector", device_id=dev, connector_id=33, allow_unknown_connector=True)
        assert raised.value.translation_key == "connector_above_maximum"
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "remote_stop_transaction", device_id=dev, connector_id=0)
        assert raised.value.translation_key == "connector_zero"

    # Every action with a connector_id offers the field.
    actions = yaml.safe_load((Path(services.__file__).parent.parent / "services.yaml").read_text(encoding="utf-8"))
    with_connector = {name for name, spec in actions.items() if "connector_id" in (spec or {}).get("fields", {})}
    assert len(with_connector) == 10
    for name in with_connector:
        assert "allow_unknown_connector" in actions[name]["fields"], name
        assert "allow_unknown_connector" in {str(key) for key in services.ACTIONS[name].schema}, name


async def test_commands_reach_only_the_named_charger(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    first, second = await setup_entry(), await setup_entry()
    async with (
        charger(port_of(first), "CP-1", cls=ControlCharger) as one,
        charger(port_of(second), "CP-2", cls=ControlCharger) as two,
    ):
        assert isinstance(one, ControlCharger) and isinstance(two, ControlCharger)
        await booted(hass, one, 1)
        await booted(hass, two, 1)
        one.received.clear()
        two.received.clear()
        await action(hass, "reset", device_id=device_id(hass, "CP-2"))
        await action(hass, "clear_cache", device_id=device_id(hass, "CP-1"))
        assert [r[0] for r in two.received if r[0] != "TriggerMessage"] == ["Reset"]
        assert [r[0] for r in one.received if r[0] != "TriggerMessage"] == ["ClearCache"]


async def test_configuration_read_after_boot(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(meter_value_sample_interval=30, meter_values_sampled_data="Energy.Active.Import.Register")
    long_value = "x" * 600

    class QuirkyCharger(ControlCharger):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.configuration = [
                {"key": "NumberOfConnectors", "readonly": 1, "value": "3"},
                {"key": "AuthorizeRemoteTxRequests", "readonly": 0, "value": "0"},
                {"key": "LocalAuthorizeOffline", "readonly": "true", "value": "1"},
                {"key": "VendorCertificate", "readonly": True, "value": long_value},
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
            ]
            self.answers["ChangeConfiguration"] = "Rejected"  # tolerated

    async with charger(port_of(entry), "CP-Q", cls=QuirkyCharger) as cp:
        await cp.boot()
        state_of = hub_of(entry).central.chargers["CP-Q"]
        await wait_for(lambda: "VendorCertificate" in state_of.configuration, what="configuration read")
        assert state_of.config_bool("AuthorizeRemoteTxRequests") is False
        assert state_of.config_bool("LocalAuthorizeOffline") is True
        assert state_of.configuration["NumberOfConnectors"].readonly is True
        assert state_of.config_value("VendorCertificate") == long_value
        # NumberOfConnectors creates the connectors (and their entities) at once.
        await wait_for(lambda: state_of.number_of_connectors == 3, what="connectors")
        await hass.async_block_till_done()
        assert has_entity(hass, "CP-Q_3_status")
        # The user's MeterValue settings are pushed; the refusal does not stop anything.
        await wait_for(
            lambda: any(r[0] == "ChangeConfiguration" and r[1]["key"] == "MeterValuesSampledData" for r in cp.received),
            what="sampled data pushed",
        )
        assert ("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"}) in cp.received
        status_trigger = ("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": None})
        await wait_for(lambda: status_trigger in cp.received, what="status triggered")


async def test_charger_that_connects_without_booting_is_asked_to(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    hub_of(entry).boot_grace_seconds = 0.05
    async with charger(port_of(entry), "CP-N", cls=ControlCharger) as cp:
        await wait_for(
            lambda: ("TriggerMessage", {"requested_message": "BootNotification", "connector_id": None}) in cp.received,
            what="BootNotification triggered",
        )


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_buttons(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-B", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp, 1)
        for unique_id, expected in (
            ("CP-B_0_reset", ("Reset", {"type": "Soft"})),
            ("CP-B_0_clear_cache", ("ClearCache", {})),
            ("CP-B_1_unlock", ("UnlockConnector", {"connector_id": 1})),
        ):
            await hass.services.async_call(
                "button", "press", {"entity_id": entity_id(hass, unique_id, "button")}, blocking=True
            )
            assert expected in cp.received
        # Single-connector charger: connector entities sit on the charger device.
        assert has_entity(hass, "CP-B_1_available", "switch")
        assert has_entity(hass, "CP-B_0_available", "switch")


async def test_second_connector_gives_connector_one_its_own_device(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-M", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        cp.configuration = []  # does not tell NumberOfConnectors: connectors appear one by one
        await cp.boot()
        await cp.status(1, "Available")
        await hass.async_block_till_done()
        registry = er.async_get(hass)
        status_1 = registry.async_get(entity_id(hass, "CP-M_1_status"))
        assert status_1 is not None
        assert status_1.device_id == device_id(hass, "CP-M")
        assert hass.states.get(status_1.entity_id).name == "CP-M Connector 1 Status"  # type: ignore[union-attr]

        await cp.status(2, "Available")
        await hass.async_block_till_done()
        status_1 = registry.async_get(entity_id(hass, "CP-M_1_status"))
        assert status_1 is not None
        connector_1 = dr.async_get(hass).async_get(status_1.device_id or "")
        assert connector_1 is not None
        assert connector_1.name == "CP-M Connector 1"
        assert connector_1.via_device_id == device_id(hass, "CP-M")
        assert hass.states.get(status_1.entity_id).name == "CP-M Connector 1 Status"  # type: ignore[union-attr]
        assert status_1.original_name in ("Status", "Connector 1 Status")
        status_2 = registry.async_get(entity_id(hass, "CP-M_2_status"))
        assert status_2 is not None
        assert status_2.device_id == device_id(hass, "CP-M_2")


async def test_call_sends_any_action_checked_against_its_schema(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-C", cls=ControlCharger) as cp:
        assert isinstance(cp, ControlCharger)
        await booted(hass, cp)
        dev = device_id(hass, "CP-C")
        answer = await action(hass, "call", device_id=dev, action="Reset", payload={"type": "Hard"})
        assert answer == {"status": "Accepted"}
        assert ("Reset", {"type": "Hard"}) in cp.received
        answer = await action(
            hass, "call", device_id=dev, action="change_configuration", payload={"key": "K", "value": "1"}
        )
        assert answer == {"status": "Accepted"}
        for data, key, field in (
            ({"action": "BootNotification", "payload": {}}, "unknown_action", None),
            ({"action": "Reset", "payload": {"type": "Medium"}}, "invalid_payload", "type"),
            ({"action": "UnlockConnector", "payload": {"connectorId": "one"}}, "invalid_payload", "connectorId"),
            ({"action": "UnlockConnector", "payload": {}}, "invalid_payload", "payload"),
        ):
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "call", device_id=dev, **data)
            assert raised.value.translation_key == key
            if field:
                assert raised.value.translation_placeholders["field"] == field
        # A CALLERROR from the charger is an error that names it.
        cp.answers["Reset"] = CALLERROR
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "call", device_id=dev, action="Reset", payload={"type": "Soft"})
        assert raised.value.translation_key == "call_error"
        assert raised.value.translation_placeholders["code"] == "InternalError"
