"""OCPP 2.0.1 charging stations: negotiation, boot policies, heartbeat, statuses, the device and its errors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError
from ocpp.v16 import call as call16
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, NegotiationError

from custom_components.ocpp_cs import commands
from custom_components.ocpp_cs.engine.negotiation import choose_subprotocol

from .charger import charger
from .charger201 import charger201
from .conftest import EntryFactory, hub_of, port_of
from .flow_helpers import configure, form_values, options_step
from .helpers import action, call_frame, device_id, find_device, has_entity, state
from .upstream import Upstream, upstream_fixture  # noqa: F401 (the fixture)


async def test_boot_heartbeat_and_statuses_on_the_same_entities(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(heartbeat_interval=120)
    async with charger201(port_of(entry), "CS-1") as cs:
        boot = await cs.boot(serial_number="SN-201", firmware_version="2.1", modem={"iccid": "8949", "imsi": "2620"})
        assert (boot.status, boot.interval) == ("Accepted", 120)
        assert abs((datetime.fromisoformat(boot.current_time) - datetime.now(UTC)).total_seconds()) < 60
        await hass.async_block_till_done()
        device = find_device(hass, "CS-1")
        assert device is not None
        assert (device.manufacturer, device.model, device.serial_number, device.sw_version) == (
            "Sim201", "Sim-201", "SN-201", "2.1",
        )
        assert hub_of(entry).central.chargers["CS-1"].boot.imsi == "2620"
        assert state(hass, "CS-1_0_ocpp_version") == "2.0.1"
        assert state(hass, "CS-1_0_connected", "binary_sensor") == "on"

        beat = await cs.heartbeat()
        assert abs((datetime.fromisoformat(beat.current_time) - datetime.now(UTC)).total_seconds()) < 60
        # EVSE 1 is what connector 1 of a 1.6 charger is: the same unique ids and states.
        for reported, shown in (
            ("Available", "available"),
            ("Occupied", "preparing"),
            ("Reserved", "reserved"),
            ("Unavailable", "unavailable"),
            ("Faulted", "faulted"),
        ):
            await cs.status(1, reported)
            await hass.async_block_till_done()
            assert state(hass, "CS-1_1_status") == shown
        assert state(hass, "CS-1_1_error_code") == "no_error"
        # Diagnostics carry the version with the charger's state.
        assert hub_of(entry).central.chargers["CS-1"].to_dict()["ocpp_version"] == "2.0.1"


@pytest.mark.parametrize(("policy", "expected"), [("pending", "Pending"), ("reject", "Rejected")])
async def test_new_charger_policy_applies_to_2_0_1(
    hass: HomeAssistant, setup_entry: EntryFactory, policy: str, expected: str
) -> None:
    entry = await setup_entry(new_chargers=policy)
    async with charger201(port_of(entry), "CS-P") as cs:
        boot = await cs.boot()
        assert (boot.status, boot.interval) == (expected, 300)
        # Until it is accepted, only BootNotification is answered (B02.FR.09, B03.FR.08).
        with pytest.raises(OCPPError) as refused:
            await cs.heartbeat()
        assert refused.value.code == "SecurityError"
        assert not has_entity(hass, "CS-P_0_connected", "binary_sensor")


async def test_callerrors_name_what_the_spec_names(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger201(port_of(entry), "CS-E") as cs:
        # No NotifyReport of its own while raw frames are exchanged.
        cs.answers["GetBaseReport"] = "NotSupported"
        await cs.boot()
        for frame, code in (
            (call_frame("FlyToTheMoon", {}), "NotImplemented"),
            # A 1.6 action is no 2.0.1 action.
            (call_frame("StartTransaction", {"connectorId": 1}), "NotImplemented"),
            # A 2.0.1 action a CSMS does not take from a station.
            (call_frame("Get15118EVCertificate", {}), "NotSupported"),
            (call_frame("Heartbeat", []), "FormationViolation"),
            (call_frame("StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Available"}),
             "OccurrenceConstraintViolation"),
            (call_frame("StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Dancing",
                                               "timestamp": "2026-01-01T00:00:00Z"}), "PropertyConstraintViolation"),
            (call_frame("StatusNotification", {"evseId": 999, "connectorId": 1, "connectorStatus": "Available",
                                               "timestamp": "2026-01-01T00:00:00Z"}), "PropertyConstraintViolation"),
            (call_frame("Heartbeat", {"extra": 1}), "FormationViolation"),
        ):
            answer = await cs.raw(frame)
            assert isinstance(answer, CallError), frame
            assert answer.error_code == code, frame


async def test_negotiation_prefers_2_0_1_unless_the_charger_is_pinned_to_1_6(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    both = ["ocpp1.6", "ocpp2.0.1"]
    async with charger201(port, "CS-N", subprotocols=both) as cs:
        await cs.boot()
        await hass.async_block_till_done()
    # The Charger settings step pins it to 1.6; its next connection offering both is 1.6.
    form = await options_step(hass, entry, "charger_settings")
    details = await configure(hass, form["flow_id"], {"charger": "CS-N"})
    values = form_values(details)
    assert values["ocpp_version"] == "auto"
    await configure(hass, details["flow_id"], {**values, "ocpp_version": "1.6"})
    assert hub_of(entry).central.chargers["CS-N"].ocpp_version_choice == "1.6"
    async with charger(port, "CS-N", subprotocols=both) as cp:
        assert cp.connection.subprotocol == "ocpp1.6"
        await cp.boot()
        await hass.async_block_till_done()
        assert state(hass, "CS-N_0_ocpp_version") == "1.6"
    # Offering only the other version is still served (a firmware change must not lock it out).
    async with charger201(port, "CS-N") as cs:
        await cs.boot()
        await hass.async_block_till_done()
        assert state(hass, "CS-N_0_ocpp_version") == "2.0.1"
    with pytest.raises(ValueError, match="unknown OCPP version"):
        hub_of(entry).central.set_ocpp_version_choice("CS-N", "3.0")
    # Neither version offered: refused at the handshake.
    with pytest.raises((InvalidStatus, NegotiationError)):
        async with connect(f"ws://127.0.0.1:{port}/ocpp/CS-X", subprotocols=["ocpp2.1"], open_timeout=5):  # type: ignore[list-item]
            pass


def test_choose_subprotocol() -> None:
    assert choose_subprotocol(["ocpp1.6", "ocpp2.0.1"]) == "ocpp2.0.1"
    assert choose_subprotocol(["ocpp1.6", "ocpp2.0.1"], "1.6") == "ocpp1.6"
    assert choose_subprotocol(["ocpp1.6"], "2.0.1") == "ocpp1.6"
    assert choose_subprotocol(["ocpp2.0.1"], "2.0.1") == "ocpp2.0.1"
    assert choose_subprotocol(["ocpp2.1"]) is None


async def test_a_mixed_site_and_1_6_actions_refused_for_2_0_1(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    async with charger(port, "CP-16") as cp, charger201(port, "CS-201") as cs:
        await cp.boot()
        await cs.boot()
        await cp.status(1, "Charging")
        await cs.status(1, "Occupied")
        await hass.async_block_till_done()
        assert (state(hass, "CP-16_0_ocpp_version"), state(hass, "CS-201_0_ocpp_version")) == ("1.6", "2.0.1")
        assert (state(hass, "CP-16_1_status"), state(hass, "CS-201_1_status")) == ("charging", "preparing")
        # An action with its 2.0.1 form sends it (tests/test_v201_actions.py); one without: a clear
        # error, and no 1.6 message reaches the station.
        assert await action(hass, "reset", device_id=device_id(hass, "CS-201")) == {"status": "Accepted"}
        assert ("Reset", {"type": "OnIdle"}) in cs.received
        # Every action has its 2.0.1 form now; a 1.6 request without one (here a raw GetConfiguration,
        # which the get_configuration action replaces by GetVariables) is refused before sending.
        with pytest.raises(HomeAssistantError) as raised:
            await commands.async_call(hub_of(entry), "CS-201", call16.GetConfiguration())
        assert raised.value.translation_key == "not_for_v201"
        assert "not available for OCPP 2.0.1 chargers yet" in str(raised.value)
        frames = hub_of(entry).central.message_logs.log_for("CS-201").entries()
        assert frames and all('"GetConfiguration"' not in str(frame) for frame in frames)


async def test_basic_auth_applies_to_2_0_1(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(password="s3cret-pass")
    port = port_of(entry)
    with pytest.raises(InvalidStatus, match="401"):
        async with charger201(port, "CS-S"):
            pass
    token = base64.b64encode(b"CS-S:s3cret-pass").decode()
    async with charger201(port, "CS-S", additional_headers={"Authorization": f"Basic {token}"}) as cs:
        assert (await cs.boot()).status == "Accepted"


async def test_local_controller_mode_relays_1_6_and_serves_2_0_1_when_not_relayed(
    hass: HomeAssistant, setup_entry: EntryFactory, upstream: Upstream
) -> None:
    entry = await setup_entry(upstream_url=upstream.url)
    port = port_of(entry)
    # Relayed (the default): the upstream speaks 1.6 with it, so 1.6 is chosen.
    async with charger(port, "CS-R", subprotocols=["ocpp1.6", "ocpp2.0.1"]) as cp:
        assert cp.connection.subprotocol == "ocpp1.6"
        assert (await cp.boot()).status == "Accepted"
    assert upstream.state.paths == ["/backend/CS-R"]
    # Relaying turned off: served here, as 2.0.1.
    hub_of(entry).central.set_relay_settings("CS-R", relayed=False, upstream_password=None)
    async with charger201(port, "CS-R", subprotocols=["ocpp1.6", "ocpp2.0.1"]) as cs:
        assert (await cs.boot()).status == "Accepted"
    assert upstream.state.paths == ["/backend/CS-R"]
