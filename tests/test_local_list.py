"""Local authorization lists: full, differential, chunked, versions across a restart, answers, sync."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from ocpp.routing import on
from ocpp.v16.enums import Action
import pytest

from .auth_charger import AuthCharger, boot_and_read
from .charger import charger
from .conftest import EntryFactory, hub_of, port_of
from .control_charger import CALLERROR
from .helpers import action, device_id, wait_for


def sent_lists(cp: AuthCharger) -> list[dict[str, Any]]:
    return [request for name, request in cp.received if name == "SendLocalList"]


async def add_tags(hass: HomeAssistant, entry_id: str, *tags: str, **fields: Any) -> None:
    for tag in tags:
        await action(hass, "add_id_tag", config_entry_id=entry_id, id_tag=tag, **fields)


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_full_list_in_chunks_then_differential_after_a_restart(
    hass: HomeAssistant, setup_entry: EntryFactory
) -> None:
    entry = await setup_entry()
    port = port_of(entry)
    await add_tags(hass, entry.entry_id, "T1", "T2", "T3", "T4")
    await add_tags(hass, entry.entry_id, "T5", status="blocked", parent_id_tag="P")
    # T6 may not be used on this charger: its local list holds it as Invalid.
    await add_tags(hass, entry.entry_id, "T6", charge_point_ids=["ELSEWHERE"])
    async with charger(port, "CP-L", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        cp.set_config("SendLocalListMaxLength", "4")
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-L")

        answer = await action(hass, "send_local_list", device_id=dev)
        assert answer == {"status": "Accepted", "list_version": 2, "update_type": "full", "messages": 2}
        messages = sent_lists(cp)
        assert [(m["update_type"], m["list_version"], len(m["entries"])) for m in messages] == [
            ("Full", 1, 4),
            ("Differential", 2, 2),
        ]
        assert cp.list_version == 2
        assert set(cp.local_list) == {"T1", "T2", "T3", "T4", "T5", "T6"}
        assert cp.local_list["T5"] == {"status": "Blocked", "parent_id_tag": "P"}
        assert cp.local_list["T6"] == {"status": "Invalid"}
        assert await action(hass, "get_local_list_version", device_id=dev) == {"list_version": 2}

    # Home Assistant restarts: what the charger holds and its version are remembered.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    record = hub_of(entry).central.auth.local_lists["CP-L"]
    assert record.version == 2
    assert len(record.entries) == 6

    await action(hass, "remove_id_tag", config_entry_id=entry.entry_id, id_tag="T1")
    await add_tags(hass, entry.entry_id, "T2", status="blocked")
    await add_tags(hass, entry.entry_id, "T7")
    async with charger(port, "CP-L", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        cp.local_list = {f"T{n}": {"status": "Accepted"} for n in range(1, 7)}
        cp.list_version = 2
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-L")
        answer = await action(hass, "send_local_list", device_id=dev, update_type="Differential")
        assert answer == {"status": "Accepted", "list_version": 3, "update_type": "differential", "messages": 1}
        (message,) = sent_lists(cp)
        changes = {entry["id_tag"]: entry.get("id_tag_info") for entry in message["entries"]}
        assert changes == {"T1": None, "T2": {"status": "Blocked"}, "T7": {"status": "Accepted"}}
        assert "T1" not in cp.local_list
        assert cp.local_list["T2"] == {"status": "Blocked"}
        assert cp.list_version == 3

        # Nothing changed since: a differential update is empty (it only moves the version).
        answer = await action(hass, "send_local_list", device_id=dev, update_type="differential")
        assert answer["list_version"] == 4
        assert sent_lists(cp)[-1]["entries"] == []


@pytest.mark.usefixtures("entities_enabled_by_default")
async def test_explicit_list_and_version(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    async with charger(port_of(entry), "CP-X", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-X")
        answer = await action(
            hass,
            "send_local_list",
            device_id=dev,
            list_version=40,
            local_authorization_list=[
                {"id_tag": "A", "id_tag_info": {"status": "Accepted", "expiry_date": "2031-01-01T00:00:00+00:00"}},
                {"idTag": "B", "idTagInfo": {"status": "blocked", "parentIdTag": "G"}},
            ],
        )
        assert answer["list_version"] == 40
        assert cp.local_list == {
            "A": {"status": "Accepted", "expiry_date": "2031-01-01T00:00:00.000Z"},
            "B": {"status": "Blocked", "parent_id_tag": "G"},
        }
        answer = await action(
            hass,
            "send_local_list",
            device_id=dev,
            update_type="differential",
            local_authorization_list=[{"id_tag": "A"}, {"id_tag": "C", "id_tag_info": {"status": "Accepted"}}],
        )
        assert answer["list_version"] == 41
        assert set(cp.local_list) == {"B", "C"}
        assert set(hub_of(entry).central.auth.local_lists["CP-X"].entries) == {"b", "c"}

        bad_lists: list[list[Any]] = [
            [{"id_tag": "A"}],  # a full update needs id_tag_info
            [{"id_tag": "X" * 21, "id_tag_info": {"status": "Accepted"}}],
            [{"id_tag": "A", "id_tag_info": {"status": "Maybe"}}],
            [{"id_tag": "A", "id_tag_info": {"status": "Accepted"}}, {"id_tag": "a", "id_tag_info": {"status": "X"}}],
            [{"id_tag": "A", "id_tag_info": {"status": "Accepted", "expiry_date": "tomorrow"}}],
            [{"id_tag": "A", "id_tag_info": "Accepted"}],
        ]
        for bad in bad_lists:
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, "send_local_list", device_id=dev, local_authorization_list=bad)
            assert raised.value.translation_key == "invalid_local_list", bad
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "send_local_list", device_id=dev, local_authorization_list=["A"])
        assert raised.value.translation_key == "invalid_field"
        cp.set_config("LocalAuthListMaxLength", "1")
        await action(hass, "get_configuration", device_id=dev)
        with pytest.raises(ServiceValidationError) as raised:
            await action(hass, "send_local_list", device_id=dev, update_type="differential",
                         local_authorization_list=[{"id_tag": "D", "id_tag_info": {"status": "Accepted"}}])
        assert raised.value.translation_key == "local_list_too_long"


async def test_answers_failed_not_supported_version_mismatch(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tags(hass, entry.entry_id, "ONE", "TWO")
    async with charger(port_of(entry), "CP-F", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        dev = device_id(hass, "CP-F")
        await action(hass, "send_local_list", device_id=dev)
        assert cp.list_version == 1

        # The charger's list changed behind our back (another central system, a reset): its
        # version is ahead, a differential update is answered VersionMismatch, the full list follows.
        cp.list_version = 7
        await add_tags(hass, entry.entry_id, "THREE")
        cp.received.clear()
        answer = await action(hass, "send_local_list", device_id=dev, update_type="differential")
        assert [(m["update_type"], m["list_version"]) for m in sent_lists(cp)] == [("Differential", 2), ("Full", 8)]
        assert answer == {"status": "Accepted", "list_version": 8, "update_type": "full", "messages": 2}
        assert set(cp.local_list) == {"ONE", "TWO", "THREE"}
        assert hub_of(entry).central.auth.local_lists["CP-F"].version == 8

        for status in ("Failed", "NotSupported"):
            cp.answers["SendLocalList"] = status
            with pytest.raises(HomeAssistantError) as raised:
                await action(hass, "send_local_list", device_id=dev)
            assert raised.value.translation_key == "refused"
            assert raised.value.translation_placeholders["status"] == status
        # Nothing was accepted: the record still says version 8.
        assert hub_of(entry).central.auth.local_lists["CP-F"].version == 8
        cp.answers["SendLocalList"] = CALLERROR
        with pytest.raises(HomeAssistantError) as raised:
            await action(hass, "send_local_list", device_id=dev)
        assert raised.value.translation_key == "call_error"

        # Without the profile, the actions are refused before anything is sent.
        cp.set_config("SupportedFeatureProfiles", "Core,Reservation")
        await action(hass, "get_configuration", device_id=dev)
        for name in ("send_local_list", "get_local_list_version"):
            with pytest.raises(ServiceValidationError) as raised:
                await action(hass, name, device_id=dev)
            assert raised.value.translation_key == "feature_not_supported"


async def test_chunk_refused_midway_keeps_the_record_right(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tags(hass, entry.entry_id, "A", "B", "C")

    class FailsSecond(AuthCharger):
        @on(Action.send_local_list)
        async def on_send_local_list(self, list_version: int, update_type: str, **rest: Any) -> Any:
            self.answers["SendLocalList"] = "Failed" if update_type == "Differential" else "Accepted"
            return await super().on_send_local_list(list_version, update_type, **rest)

    async with charger(port_of(entry), "CP-C", cls=FailsSecond) as cp:
        assert isinstance(cp, AuthCharger)
        cp.set_config("SendLocalListMaxLength", "2")
        await boot_and_read(hass, entry, cp)
        with pytest.raises(HomeAssistantError):
            await action(hass, "send_local_list", device_id=device_id(hass, "CP-C"))
    record = hub_of(entry).central.auth.local_lists["CP-C"]
    assert record.version == 1
    assert set(record.entries) == {"a", "b"}


async def test_sync_keeps_chargers_in_step(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(sync_local_list=True)
    await add_tags(hass, entry.entry_id, "ALICE", "BOB")
    port = port_of(entry)
    async with charger(port, "CP-S", cls=AuthCharger) as cp, charger(port, "CP-OLD", cls=AuthCharger) as old:
        assert isinstance(cp, AuthCharger) and isinstance(old, AuthCharger)
        old.set_config("SupportedFeatureProfiles", "Core,RemoteTrigger")
        # Booting: the charger's version (0) is not ours (none yet): the full list.
        await boot_and_read(hass, entry, cp)
        await boot_and_read(hass, entry, old)
        await wait_for(lambda: set(cp.local_list) == {"ALICE", "BOB"}, what="full list after boot")
        assert [m["update_type"] for m in sent_lists(cp)] == ["Full"]

        # A tag changes: only the change is sent.
        await add_tags(hass, entry.entry_id, "BOB", status="blocked")
        await wait_for(lambda: cp.local_list.get("BOB") == {"status": "Blocked"}, what="differential")
        assert [m["update_type"] for m in sent_lists(cp)] == ["Full", "Differential"]
        await action(hass, "remove_id_tag", config_entry_id=entry.entry_id, id_tag="ALICE")
        await wait_for(lambda: "ALICE" not in cp.local_list, what="removal")
        version = cp.list_version
        # A charger without the profile is never sent a list.
        assert sent_lists(old) == []
        assert ("GetLocalListVersion", {}) not in old.received

    # The charger lost its list (e.g. a factory reset) and boots: its version differs, full list.
    async with charger(port, "CP-S", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        await wait_for(lambda: cp.local_list == {"BOB": {"status": "Blocked"}}, what="full list again")
        assert [(m["update_type"], m["list_version"]) for m in sent_lists(cp)] == [("Full", version + 1)]

        # Booting again with our version and nothing changed: nothing is sent.
        cp.received.clear()
        await boot_and_read(hass, entry, cp)
        await wait_for(lambda: ("GetLocalListVersion", {}) in cp.received, what="version asked")
        await hass.async_block_till_done(wait_background_tasks=True)
        assert sent_lists(cp) == []


async def test_sync_off_by_default_and_turned_on(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    await add_tags(hass, entry.entry_id, "CARD")
    async with charger(port_of(entry), "CP-O", cls=AuthCharger) as cp:
        assert isinstance(cp, AuthCharger)
        await boot_and_read(hass, entry, cp)
        await add_tags(hass, entry.entry_id, "OTHER")
        await hass.async_block_till_done(wait_background_tasks=True)
        assert sent_lists(cp) == []
        hass.config_entries.async_update_entry(entry, options={**entry.options, "sync_local_list": True})
        await hass.async_block_till_done()
        await wait_for(lambda: set(cp.local_list) == {"CARD", "OTHER"}, what="sync once turned on")
        # A charger that has no local list (-1) is left alone.
        cp.answers["GetLocalListVersion"] = -1
        cp.received.clear()
        await add_tags(hass, entry.entry_id, "THIRD")
        await wait_for(lambda: ("GetLocalListVersion", {}) in cp.received, what="version asked")
        await hass.async_block_till_done(wait_background_tasks=True)
        assert sent_lists(cp) == []
