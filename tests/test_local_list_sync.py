"""Keeping chargers' local authorization lists in step: who is left alone, failures, and changes
made while a charger is being synchronised."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
import pytest

from .auth_charger import AuthCharger, boot_and_read
from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import CALLERROR
from .helpers import action, device_id, wait_for
from .test_local_list import add_tags, sent_lists


def versions_asked(cp: AuthCharger) -> int:
    return sum(1 for name, _ in cp.received if name == "GetLocalListVersion")


async def test_chargers_left_alone_and_a_sync_that_fails(
    hass: HomeAssistant, setup_entry: EntryFactory, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await setup_entry(sync_local_list=True, new_chargers="pending")
    hub = hub_of(entry)
    async with charger(port_of(entry), "CP-P", cls=AuthCharger) as pending:
        assert isinstance(pending, AuthCharger)
        assert (await pending.boot()).status == "Pending"
        # Nothing listed, a charger at version 0: nothing to send, not even to the accepted.
        await add_tags(hass, entry.entry_id, "ALICE")
        await hass.async_block_till_done(wait_background_tasks=True)
        # A pending charger is not asked for its list.
        assert versions_asked(pending) == 0
        assert sent_lists(pending) == []

        # Accepted, it is; a charger that fails GetLocalListVersion is not synchronised, and it is said.
        caplog.set_level(logging.WARNING)
        pending.answers["GetLocalListVersion"] = CALLERROR
        hub.accept_pending("CP-P")
        await boot_and_read(hass, entry, pending)
        await wait_for(lambda: "CP-P: local authorization list not synchronised" in caplog.text, what="warning")
        assert sent_lists(pending) == []


async def test_a_charger_at_version_zero_and_nothing_listed_gets_nothing(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry(sync_local_list=True)
    async with charger(port_of(entry), "CP-1", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        await wait_for(lambda: versions_asked(cp) == 1, what="version asked")
        await hass.async_block_till_done(wait_background_tasks=True)
        assert sent_lists(cp) == []
        assert "CP-1" not in hub_of(entry).central.auth.local_lists


class SlowVersionCharger(AuthCharger):
    """Answers GetLocalListVersion only when the test lets it (meanwhile it hears nothing else)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.go = asyncio.Event()
        self.go.set()

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self) -> Any:
        self.received.append(("GetLocalListVersion", {}))
        await self.go.wait()
        return call_result.GetLocalListVersion(list_version=self.list_version)


async def test_a_change_during_a_sync_is_sent_after_it(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(sync_local_list=True)
    await add_tags(hass, entry.entry_id, "ALICE")
    async with charger(port_of(entry), "CP-1", cls=SlowVersionCharger) as cp:
        assert isinstance(cp, SlowVersionCharger)
        await boot_and_read(hass, entry, cp)
        await wait_for(lambda: set(cp.local_list) == {"ALICE"}, what="the list after boot")
        await hass.async_block_till_done(wait_background_tasks=True)
        cp.go.clear()
        await add_tags(hass, entry.entry_id, "BOB")
        await wait_for(lambda: versions_asked(cp) == 2, what="the sync under way")
        await add_tags(hass, entry.entry_id, "CAROL")  # while the charger has not answered
        cp.go.set()
        await wait_for(lambda: set(cp.local_list) == {"ALICE", "BOB", "CAROL"}, what="every tag")
        await hass.async_block_till_done(wait_background_tasks=True)
        # The sync ran once more for the change made during it.
        assert versions_asked(cp) == 3


async def test_a_parent_id_tag_too_long_is_refused(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-1", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "send_local_list", device_id=device_id(hass, "CP-1"), local_authorization_list=[
                {"id_tag": "A", "id_tag_info": {"status": "Accepted", "parent_id_tag": "P" * 21}}
            ])
        assert raised.value.translation_key == "invalid_local_list"
        assert raised.value.translation_placeholders is not None
        assert raised.value.translation_placeholders["error"] == "parent_id_tag has up to 20 characters"
