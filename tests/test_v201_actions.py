"""Actions on OCPP 2.0.1 stations: each sends the 2.0.1 request for the same intent and answers as for 1.6."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from .charger import charger
from .charger201 import Sim201Charger, charger201
from .conftest import EntryFactory, port_of
from .control_charger import ControlCharger
from .helpers import action, device_id
from .test_control import booted as booted16


async def booted(hass: HomeAssistant, cs: Sim201Charger, evses: int = 2) -> None:
    await cs.boot()
    for evse_id in range(1, evses + 1):
        await cs.status(evse_id, "Available")
    await hass.async_block_till_done()


def sent(cs: Sim201Charger, name: str) -> list[dict[str, Any]]:
    """Every request of one action the station received, in order."""
    return [payload for action_name, payload in cs.received if action_name == name]


async def test_core_actions_send_their_201_requests(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-1") as cs:
        await booted(hass, cs)
        station, evse_2 = device_id(hass, "CS-1"), device_id(hass, "CS-1_2")

        cs.answers["transaction_id"] = "TX-remote"
        answer = await action(hass, "remote_start_transaction", device_id=evse_2, id_tag="CARD-9")
        assert answer == {"status": "Accepted", "transaction_id": "TX-remote"}
        (start,) = sent(cs, "RequestStartTransaction")
        assert start == {
            "id_token": {"id_token": "CARD-9", "type": "Central"},
            "remote_start_id": start["remote_start_id"],
            "evse_id": 2,
        }
        assert isinstance(start["remote_start_id"], int)
        cs.answers["transaction_id"] = None
        answer = await action(
            hass, "remote_start_transaction", device_id=evse_2, id_tag="04A2B3C4", id_token_type="ISO14443"
        )
        assert answer == {"status": "Accepted"}
        assert sent(cs, "RequestStartTransaction")[1]["id_token"] == {"id_token": "04A2B3C4", "type": "ISO14443"}
        assert sent(cs, "RequestStartTransaction")[1]["remote_start_id"] != start["remote_start_id"]

        assert await action(hass, "remote_stop_transaction", device_id=station, transaction_id="TX-remote") == {
            "status": "Accepted"
        }
        assert sent(cs, "RequestStopTransaction") == [{"transaction_id": "TX-remote"}]

        assert await action(hass, "unlock_connector", device_id=evse_2) == {"status": "Unlocked"}
        assert sent(cs, "UnlockConnector") == [{"evse_id": 2, "connector_id": 1}]

        assert await action(hass, "reset", device_id=station, type="hard") == {"status": "Accepted"}
        assert await action(hass, "reset", device_id=station) == {"status": "Accepted"}
        assert sent(cs, "Reset") == [{"type": "Immediate"}, {"type": "OnIdle"}]

        cs.answers["ChangeAvailability"] = "Scheduled"
        answer = await action(hass, "change_availability", device_id=evse_2, type="inoperative")
        assert answer == {"status": "Scheduled"}
        cs.answers["ChangeAvailability"] = "Accepted"
        await action(hass, "change_availability", device_id=station, type="operative")
        assert sent(cs, "ChangeAvailability") == [
            {"operational_status": "Inoperative", "evse": {"id": 2}},
            {"operational_status": "Operative"},
        ]

        assert await action(hass, "clear_cache", device_id=station) == {"status": "Accepted"}
        assert sent(cs, "ClearCache") == [{}]


async def test_trigger_message_names_map_to_201(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-T") as cs:
        await booted(hass, cs)
        station, evse_1 = device_id(hass, "CS-T"), device_id(hass, "CS-T_1")
        before = len(sent(cs, "TriggerMessage"))
        for name in ("DiagnosticsStatusNotification", "sign_charge_point_certificate", "Heartbeat"):
            assert await action(hass, "trigger_message", device_id=station, requested_message=name) == {
                "status": "Accepted"
            }
        await action(hass, "trigger_message", device_id=evse_1, requested_message="StatusNotification")
        await action(hass, "trigger_message", device_id=evse_1, requested_message="MeterValues")
        assert sent(cs, "TriggerMessage")[before:] == [
            {"requested_message": "LogStatusNotification", "evse": None},
            {"requested_message": "SignChargingStationCertificate", "evse": None},
            {"requested_message": "Heartbeat", "evse": None},
            {"requested_message": "StatusNotification", "evse": {"id": 1, "connector_id": 1}},
            {"requested_message": "MeterValues", "evse": {"id": 1}},
        ]


async def test_remote_stop_of_the_running_transaction_and_refusals(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-S") as cs:
        await booted(hass, cs)
        evse_1 = device_id(hass, "CS-S_1")
        await cs.transaction_event("Started", "7f3a-0001", "CablePluggedIn", charging_state="EVConnected")
        await hass.async_block_till_done()
        # No transaction id given: the EVSE's running one, as the station's string.
        assert await action(hass, "remote_stop_transaction", device_id=evse_1) == {"status": "Accepted"}
        assert sent(cs, "RequestStopTransaction") == [{"transaction_id": "7f3a-0001"}]

        cs.answers["RequestStopTransaction"] = "Rejected"
        with pytest.raises(HomeAssistantError) as refused:
            await action(hass, "remote_stop_transaction", device_id=evse_1)
        assert refused.value.translation_key == "refused"
        cs.answers["UnlockConnector"] = "OngoingAuthorizedTransaction"
        with pytest.raises(HomeAssistantError) as unlock:
            await action(hass, "unlock_connector", device_id=evse_1)
        assert unlock.value.translation_placeholders["status"] == "OngoingAuthorizedTransaction"


async def test_remote_stop_of_a_station_picks_its_latest_session(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-N") as cs:
        await booted(hass, cs)
        # Its own ids: the later session's sorts first.
        await cs.transaction_event("Started", "zz-older", "CablePluggedIn", evse_id=1, timestamp="2026-12-04T10:00:00Z")
        await cs.transaction_event("Started", "aa-newer", "CablePluggedIn", evse_id=2, timestamp="2026-12-04T11:00:00Z")
        await hass.async_block_till_done()
        assert await action(hass, "remote_stop_transaction", device_id=device_id(hass, "CS-N")) == {
            "status": "Accepted"
        }
        assert sent(cs, "RequestStopTransaction") == [{"transaction_id": "aa-newer"}]


async def test_remote_start_with_a_profile_sends_a_201_tx_profile(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-P") as cs:
        await booted(hass, cs)
        profile = {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}]},
        }
        answer = await action(
            hass, "remote_start_transaction", device_id=device_id(hass, "CS-P_1"), charging_profile=profile
        )
        assert answer == {"status": "Accepted"}
        (start,) = sent(cs, "RequestStartTransaction")
        assert start["id_token"]["type"] == "Central"
        assert start["charging_profile"] == {
            "id": 7,
            "stack_level": 1,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "charging_schedule": [
                {"id": 7, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 10}]}
            ],
        }


async def test_evse_reset_and_transaction_event_trigger_are_201_only(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-R") as cs:
        await booted(hass, cs)
        station = device_id(hass, "CS-R")
        assert await action(hass, "reset", device_id=station, type="hard", evse_id=2) == {"status": "Accepted"}
        assert sent(cs, "Reset") == [{"type": "Immediate", "evse_id": 2}]
        before = len(sent(cs, "TriggerMessage"))
        answer = await action(
            hass, "trigger_message", device_id=device_id(hass, "CS-R_1"), requested_message="transaction_event"
        )
        assert answer == {"status": "Accepted"}
        assert sent(cs, "TriggerMessage")[before:] == [{"requested_message": "TransactionEvent", "evse": {"id": 1}}]

    async with charger(port_of(entry), "CP-16", cls=ControlCharger) as cp:
        await booted16(hass, cp)
        charger_device = device_id(hass, "CP-16")
        received = len(cp.received)
        with pytest.raises(ServiceValidationError) as evse_reset:
            await action(hass, "reset", device_id=charger_device, evse_id=1)
        assert evse_reset.value.translation_key == "v201_only"
        with pytest.raises(ServiceValidationError) as trigger:
            await action(hass, "trigger_message", device_id=charger_device, requested_message="TransactionEvent")
        assert trigger.value.translation_placeholders["what"] == "TransactionEvent"
        with pytest.raises(ServiceValidationError) as typed:
            await action(hass, "remote_start_transaction", device_id=charger_device, id_token_type="Local")
        assert typed.value.translation_placeholders["what"] == "id_token_type"
        with pytest.raises(ServiceValidationError) as string_id:
            await action(hass, "remote_stop_transaction", device_id=charger_device, transaction_id="TX-1")
        assert string_id.value.translation_key == "v201_only"
        # Nothing was sent; the 1.6 reset of a connector's device still resets the whole charger.
        assert len(cp.received) == received
        assert await action(hass, "reset", device_id=device_id(hass, "CP-16_1")) == {"status": "Accepted"}
        assert ("Reset", {"type": "Soft"}) in cp.received
