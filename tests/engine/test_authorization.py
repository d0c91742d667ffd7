"""The id tag answer policy (authorization.decide), as plain function calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custom_components.ocpp_cs.engine.authorization import (
    PURPOSE_AUTHORIZE,
    PURPOSE_START,
    PURPOSE_STOP,
    UPDATE_DIFFERENTIAL,
    UPDATE_FULL,
    apply_update,
    decide,
    desired_local_list,
    differences,
)
from custom_components.ocpp_cs.engine.state import IdTag, Transaction

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def listed(*tags: IdTag) -> dict[str, IdTag]:
    return {tag.id_tag.casefold(): tag for tag in tags}


def running(id_tag: str, charge_point_id: str = "CP-1", connector_id: int = 1, authorized: bool = True) -> Transaction:
    return Transaction(1, charge_point_id, connector_id, id_tag, 0, NOW, authorized=authorized)


def answer(
    tags: dict[str, IdTag],
    id_tag: str,
    *,
    policy: str = "accept",
    open_transactions: tuple[Transaction, ...] = (),
    purpose: str = PURPOSE_AUTHORIZE,
    charge_point_id: str = "CP-1",
    connector_id: int | None = None,
    transaction: Transaction | None = None,
) -> str:
    info = decide(
        tags, policy, open_transactions, id_tag, charge_point_id,
        purpose=purpose, now=NOW, connector_id=connector_id, transaction=transaction,
    )
    return str(info["status"])


def test_unknown_tags_answer_the_entrys_policy() -> None:
    assert answer({}, "NEW") == "Accepted"
    assert answer({}, "NEW", policy="reject") == "Invalid"


def test_listed_tags_answer_their_own_status_with_expiry_and_parent() -> None:
    expiry = NOW + timedelta(days=1)
    tags = listed(IdTag("CARD", expiry_date=expiry, parent_id_tag="FAMILY"), IdTag("LOST", status="Blocked"))
    info = decide(tags, "reject", (), "card", "CP-1", purpose=PURPOSE_AUTHORIZE, now=NOW)
    assert info == {"status": "Accepted", "expiry_date": "2025-06-02T12:00:00.000Z", "parent_id_tag": "FAMILY"}
    assert answer(tags, "LOST") == "Blocked"
    # A listed tag answers for itself even where unknown tags are accepted.
    assert answer(tags, "LOST", policy="accept") == "Blocked"


def test_an_accepted_tag_past_its_expiry_date_is_expired() -> None:
    tags = listed(IdTag("OLD", expiry_date=NOW - timedelta(seconds=1)))
    assert answer(tags, "OLD") == "Expired"


def test_a_tag_limited_to_other_chargers_is_invalid_here() -> None:
    tags = listed(IdTag("GARAGE", charge_point_ids=("cp-2",)))
    assert answer(tags, "GARAGE", charge_point_id="CP-2") == "Accepted"
    assert answer(tags, "GARAGE", charge_point_id="CP-1") == "Invalid"


def test_a_group_member_may_stop_a_session_on_a_charger_it_may_not_use() -> None:
    tags = listed(IdTag("MUM", parent_id_tag="HOME"), IdTag("KID", parent_id_tag="HOME", charge_point_ids=("CP-2",)))
    session = running("MUM")
    assert answer(tags, "KID", purpose=PURPOSE_STOP, transaction=session) == "Accepted"
    assert answer(tags, "KID", open_transactions=(session,)) == "Accepted"
    assert answer(tags, "KID", purpose=PURPOSE_START, open_transactions=(session,)) == "Invalid"


def test_one_transaction_at_a_time_is_checked_at_start_only() -> None:
    tags = listed(IdTag("CARD"))
    busy = (running("CARD", connector_id=1),)
    assert answer(tags, "CARD", purpose=PURPOSE_START, open_transactions=busy, connector_id=2) == "ConcurrentTx"
    # Authorize answers the tag's status: the charger may ask in order to stop the session.
    assert answer(tags, "CARD", open_transactions=busy) == "Accepted"
    # The same connector: an earlier session whose stop was lost.
    assert answer(tags, "CARD", purpose=PURPOSE_START, open_transactions=busy, connector_id=1) == "Accepted"
    # A start we refused does not hold the tag; a tag that allows several is never limited.
    refused = (running("CARD", connector_id=1, authorized=False),)
    assert answer(tags, "CARD", purpose=PURPOSE_START, open_transactions=refused, connector_id=2) == "Accepted"
    several = listed(IdTag("CARD", single_transaction=False))
    assert answer(several, "CARD", purpose=PURPOSE_START, open_transactions=busy, connector_id=2) == "Accepted"


def test_local_lists_list_every_tag_and_change_by_differences() -> None:
    tags = [IdTag("A"), IdTag("B", charge_point_ids=("CP-2",))]
    wanted = desired_local_list(tags, "CP-1", NOW)
    assert wanted == {
        "a": {"id_tag": "A", "id_tag_info": {"status": "Accepted"}},
        # Offline, the charger must refuse a tag it may not be used on.
        "b": {"id_tag": "B", "id_tag_info": {"status": "Invalid"}},
    }
    held = apply_update({}, UPDATE_FULL, wanted.values())
    assert held == wanted
    later = desired_local_list([IdTag("A", status="Blocked"), IdTag("C")], "CP-1", NOW)
    changes = differences(held, later)
    assert sorted(change["id_tag"] for change in changes) == ["A", "B", "C"]
    assert {"id_tag": "B"} in changes  # no idTagInfo: delete
    assert apply_update(held, UPDATE_DIFFERENTIAL, changes) == later
