"""The logbook's words for the integration's events, as real sessions fire them (no recorder needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from homeassistant.core import Event, HomeAssistant
from homeassistant.util import dt as dt_util
from ocpp.v16 import call
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs import logbook
from custom_components.ocpp_cs.const import (
    DOMAIN,
    EVENT_CHARGER_BOOTED,
    EVENT_TRANSACTION_STARTED,
    EVENT_TRANSACTION_STOPPED,
)
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .helpers import wait_for


def describers(hass: HomeAssistant) -> dict[str, Callable[[Event], dict[str, str]]]:
    """Return the integration's event descriptions, as the logbook collects them."""
    found: dict[str, Callable[[Event], dict[str, str]]] = {}

    def describe(domain: str, event_type: str, describe_event: Callable[[Event], dict[str, str]]) -> None:
        assert domain == DOMAIN
        found[event_type] = describe_event

    logbook.async_describe_events(hass, describe)
    return found


async def test_id_tags_without_a_name_and_sessions_without_a_known_start(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    await setup_entry()  # an entry that does not know the charger
    entry = await setup_entry()
    hub_of(entry).central.set_id_tag(IdTag("NONAME"))
    booted = async_capture_events(hass, EVENT_CHARGER_BOOTED)
    started = async_capture_events(hass, EVENT_TRANSACTION_STARTED)
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    async with charger(port_of(entry), "CP-1") as cp:
        await cp.boot()
        begun = await cp.start_transaction(1, "NONAME", 1000)
        await cp.stop_transaction(begun.transaction_id, 1500)
        # A stop for a transaction this central system never saw start, without an id tag.
        await cp.stop_transaction(424242, 2000)
        await wait_for(lambda: len(stopped) == 2, what="both stops")
    describe = describers(hass)
    assert describe[EVENT_CHARGER_BOOTED](booted[0])["message"] == "booted (Sim Sim-22), registration accepted"
    message = describe[EVENT_TRANSACTION_STARTED](started[0])["message"]
    assert message.startswith("started charging on connector 1 with NONAME (transaction")
    assert describe[EVENT_TRANSACTION_STOPPED](stopped[0])["message"].startswith(
        "stopped charging on connector 1: 0.500 kWh in 0 s with NONAME"
    )
    unknown = describe[EVENT_TRANSACTION_STOPPED](stopped[1])["message"]
    assert "in an unknown time with an unknown id tag" in unknown, unknown


async def test_durations_and_stop_reasons_in_words(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    stopped = async_capture_events(hass, EVENT_TRANSACTION_STOPPED)
    end = dt_util.utcnow().replace(microsecond=0)
    # (seconds charged, the reason the charger gives, what the logbook says)
    sessions = [
        (26, "EVDisconnected", "in 26 s with", "stop reason: EV disconnected"),
        (60, "Remote", "in 1 min with", "stop reason: Remote"),
        (725, "PowerLoss", "in 12 min 5 s with", "stop reason: Power loss"),
        (3925, "DeAuthorized", "in 1 h 5 min with", "stop reason: De-authorized"),
        (7200, None, "in 2 h with", "stop reason: Local"),  # no reason given: Local (the spec's default)
    ]
    async with charger(port_of(entry), "CP-WORDS") as cp:
        await cp.boot()
        for seconds, reason, _, _ in sessions:
            begun = await cp.start_transaction(1, "CARD", 0, timestamp=(end - timedelta(seconds=seconds)).isoformat())
            await cp.send(
                call.StopTransaction(
                    transaction_id=begun.transaction_id, meter_stop=100, timestamp=end.isoformat(), reason=reason
                )
            )
        await wait_for(lambda: len(stopped) == len(sessions), what="every stop")
    describe = describers(hass)[EVENT_TRANSACTION_STOPPED]
    for event, (seconds, _, duration, reason_words) in zip(stopped, sessions, strict=True):
        assert event.data["duration"] == seconds
        message = describe(event)["message"]
        assert duration in message, message
        assert reason_words in message, message
        assert "_" not in message.split("stop reason: ")[1], message
