"""Authorization answers: allow and block lists, blocked tags, ConcurrentTx, charger limits, parent id tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.ocpp_cs.const import EVENT_ID_TAG_PRESENTED
from custom_components.ocpp_cs.engine.state import IdTag

from .charger import charger, now_iso
from .conftest import EntryFactory, hub_of, port_of
from .helpers import action


def status_of(answer: object) -> str:
    info = answer.id_tag_info  # type: ignore[attr-defined]
    assert info is not None
    return str(info["status"])


async def test_block_list_site(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """Authorize all except a block list: unknown tags accepted, listed Blocked tags refused."""
    entry = await setup_entry(unknown_id_tags="accept")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="STOLEN", status="blocked")
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)
    async with charger(port_of(entry), "CP-B") as cp:
        await cp.boot()
        assert status_of(await cp.authorize("ANYONE")) == "Accepted"
        assert status_of(await cp.authorize("stolen")) == "Blocked"
        start = await cp.start_transaction(1, "STOLEN", 0)
        assert status_of(start) == "Blocked"
        stop = await cp.stop_transaction(start.transaction_id, 10, reason="DeAuthorized", id_tag="STOLEN")
        assert status_of(stop) == "Blocked"
        start = await cp.start_transaction(1, "ANYONE", 10)
        assert status_of(start) == "Accepted"
    await hass.async_block_till_done()
    assert [(e.data["id_tag"], e.data["status"]) for e in presented] == [
        ("ANYONE", "accepted"), ("stolen", "blocked"), ("STOLEN", "blocked"), ("ANYONE", "accepted"),
    ]


async def test_allow_list_site(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    """Authorize none except an allow list: only listed Accepted tags are accepted."""
    entry = await setup_entry(unknown_id_tags="reject")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="ALICE", parent_id_tag="HOME")
    async with charger(port_of(entry), "CP-A") as cp:
        await cp.boot()
        answer = await cp.authorize("alice")
        assert answer.id_tag_info == {"status": "Accepted", "parent_id_tag": "HOME"}
        assert status_of(await cp.authorize("MALLORY")) == "Invalid"
        refused = await cp.start_transaction(1, "MALLORY", 0)
        assert status_of(refused) == "Invalid"
        # The charger decides what to do with it (StopTransactionOnInvalidId); it is recorded.
        assert refused.transaction_id in hub_of(entry).central.open_transactions
        stop = await cp.stop_transaction(refused.transaction_id, 0, reason="DeAuthorized", id_tag="MALLORY")
        assert status_of(stop) == "Invalid"
        stop = await cp.stop_transaction(refused.transaction_id + 1000, 0)
        assert stop.id_tag_info is None


async def test_tag_blocked_after_the_start(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="CARD", name="Company car")
    async with charger(port_of(entry), "CP-X") as cp:
        await cp.boot()
        started_at = now_iso()
        start = await cp.start_transaction(1, "CARD", 1000, timestamp=started_at)
        assert status_of(start) == "Accepted"

        answer = await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="card", status="blocked")
        # Only the given fields change: the name stays.
        assert (answer["id_tag"], answer["status"], answer["name"]) == ("CARD", "blocked", "Company car")
        # A StartTransaction replayed after the block (the charger was offline) is Blocked now ...
        replay = await cp.start_transaction(1, "CARD", 1000, timestamp=started_at)
        assert replay.transaction_id == start.transaction_id
        assert status_of(replay) == "Blocked"
        # ... and so is the stop with that tag; the charger's StopTransactionOnInvalidId decides.
        stop = await cp.stop_transaction(start.transaction_id, 2000, reason="DeAuthorized", id_tag="CARD")
        assert status_of(stop) == "Blocked"
        assert status_of(await cp.start_transaction(2, "CARD", 2000)) == "Blocked"


async def test_expired_and_invalid_statuses(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(days=1)
    hub = hub_of(entry)
    hub.central.set_id_tag(IdTag("OLD", expiry_date=past))
    hub.central.set_id_tag(IdTag("NEW", expiry_date=future))
    hub.central.set_id_tag(IdTag("GONE", status="Invalid"))
    async with charger(port_of(entry), "CP-E") as cp:
        await cp.boot()
        assert status_of(await cp.authorize("OLD")) == "Expired"
        answer = await cp.authorize("NEW")
        assert answer.id_tag_info["status"] == "Accepted"
        assert answer.id_tag_info["expiry_date"].startswith(future.strftime("%Y-%m-%dT%H:%M"))
        assert status_of(await cp.authorize("GONE")) == "Invalid"
        assert status_of(await cp.start_transaction(1, "OLD", 0)) == "Expired"


async def test_one_transaction_per_tag(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="accept")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="SOLO")
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="FLEET", single_transaction=False)
    presented = async_capture_events(hass, EVENT_ID_TAG_PRESENTED)
    port = port_of(entry)
    async with charger(port, "CP-1") as one, charger(port, "CP-2") as two:
        await one.boot()
        await two.boot()
        first = await one.start_transaction(1, "SOLO", 0)
        assert status_of(first) == "Accepted"
        # Just asking answers the tag's status: ConcurrentTx is "only relevant for a
        # StartTransaction.req" (spec 7.2), and a charger may ask about the card to stop with it.
        assert status_of(await one.authorize("SOLO")) == "Accepted"
        assert status_of(await two.authorize("solo")) == "Accepted"
        # Another connector or another charger starting: ConcurrentTx.
        second = await one.start_transaction(2, "SOLO", 0)
        assert status_of(second) == "ConcurrentTx"
        assert status_of(await two.start_transaction(1, "SOLO", 0)) == "ConcurrentTx"
        # A replay of the first start is not a second transaction.
        # The same connector starting again (its stop was lost) is not concurrent either.
        assert status_of(await one.start_transaction(1, "SOLO", 50)) == "Accepted"

        # A tag that allows several transactions, and tags not on the list, are never ConcurrentTx.
        assert status_of(await one.start_transaction(3, "FLEET", 0)) == "Accepted"
        assert status_of(await two.start_transaction(2, "FLEET", 0)) == "Accepted"
        assert status_of(await one.start_transaction(4, "VISITOR", 0)) == "Accepted"
        assert status_of(await two.start_transaction(3, "VISITOR", 0)) == "Accepted"

        # Once every SOLO transaction has stopped, SOLO may start again.
        for transaction_id, transaction in list(hub_of(entry).central.open_transactions.items()):
            if transaction.id_tag == "SOLO":
                session = one if transaction.charge_point_id == "CP-1" else two
                await session.stop_transaction(transaction_id, 100)
        assert status_of(await two.authorize("SOLO")) == "Accepted"
        assert status_of(await two.start_transaction(4, "SOLO", 0)) == "Accepted"
    await hass.async_block_till_done()
    assert "concurrent_tx" in {e.data["status"] for e in presented}


async def test_tag_limited_to_chargers(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="accept")
    await action(
        hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="GARAGE", charge_point_ids=["CP-HOME"]
    )
    port = port_of(entry)
    async with charger(port, "CP-HOME") as home, charger(port, "CP-WORK") as work:
        await home.boot()
        await work.boot()
        assert status_of(await home.authorize("GARAGE")) == "Accepted"
        assert status_of(await work.authorize("GARAGE")) == "Invalid"
        assert status_of(await work.start_transaction(1, "GARAGE", 0)) == "Invalid"
        # Charge point ids compare without regard to case, like id tags.
        await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="GARAGE", charge_point_ids=["cp-work"])
        assert status_of(await work.authorize("GARAGE")) == "Accepted"
        assert status_of(await home.authorize("GARAGE")) == "Invalid"


async def test_parent_id_tags_form_a_group(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    entry_id = entry.entry_id
    await action(hass, "add_id_tag", config_entry_id=entry_id, id_tag="MUM", parent_id_tag="FAMILY")
    await action(hass, "add_id_tag", config_entry_id=entry_id, id_tag="DAD", parent_id_tag="FAMILY")
    # KID may only use the garage charger; NEIGHBOUR is in another group.
    await action(
        hass, "add_id_tag", config_entry_id=entry_id, id_tag="KID", parent_id_tag="family", charge_point_ids=["CP-G"]
    )
    await action(hass, "add_id_tag", config_entry_id=entry_id, id_tag="NEIGHBOUR", parent_id_tag="OTHER")
    port = port_of(entry)
    async with charger(port, "CP-H") as home, charger(port, "CP-G") as garage:
        await home.boot()
        await garage.boot()
        mums = await home.start_transaction(1, "MUM", 0)
        assert mums.id_tag_info == {"status": "Accepted", "parent_id_tag": "FAMILY"}
        # DAD has a transaction of his own on the garage charger.
        dads = await garage.start_transaction(1, "DAD", 0)
        assert status_of(dads) == "Accepted"

        # At the home charger, where MUM charges, DAD and KID may present their cards to stop
        # her transaction: accepted with the parent id tag, so the charger can compare groups.
        answer = await home.authorize("DAD")
        assert answer.id_tag_info == {"status": "Accepted", "parent_id_tag": "FAMILY"}
        assert (await home.authorize("KID")).id_tag_info == {"status": "Accepted", "parent_id_tag": "family"}
        assert status_of(await home.authorize("NEIGHBOUR")) == "Accepted"
        # Elsewhere their own limits hold: one transaction at a time at StartTransaction.
        async with charger(port, "CP-W") as work:
            await work.boot()
            assert status_of(await work.authorize("KID")) == "Invalid"
            assert status_of(await work.authorize("DAD")) == "Accepted"
            assert status_of(await work.start_transaction(1, "DAD", 0)) == "ConcurrentTx"

        # KID stops MUM's transaction at the home charger: Accepted, with the group.
        stop = await home.stop_transaction(mums.transaction_id, 500, reason="Local", id_tag="KID")
        assert stop.id_tag_info == {"status": "Accepted", "parent_id_tag": "family"}
        # A blocked member gets Blocked however it is grouped.
        await action(hass, "add_id_tag", config_entry_id=entry_id, id_tag="DAD", status="blocked")
        stop = await garage.stop_transaction(dads.transaction_id, 500, reason="Local", id_tag="DAD")
        assert stop.id_tag_info == {"status": "Blocked", "parent_id_tag": "FAMILY"}


async def test_presented_unknown_tags_are_kept(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry(unknown_id_tags="reject")
    async with charger(port_of(entry), "CP-U") as cp:
        await cp.boot()
        for number in range(12):
            await cp.authorize(f"NEW-{number}")
        await cp.authorize("NEW-3")  # presented again: the newest now
        await cp.start_transaction(1, "NEW-11", 0)
    presented = [p.id_tag for p in hub_of(entry).central.auth.presented]
    assert len(presented) == 10
    assert presented[-2:] == ["NEW-3", "NEW-11"]
    assert "NEW-0" not in presented and "NEW-1" not in presented
    assert hub_of(entry).central.auth.presented[-1].status == "Invalid"

    # Kept across a restart; adding one to the list takes it off.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = hub_of(entry)
    assert [p.id_tag for p in hub.central.auth.presented] == presented
    await action(hass, "add_id_tag", config_entry_id=entry.entry_id, id_tag="new-3")
    assert "NEW-3" not in [p.id_tag for p in hub.central.auth.presented]
