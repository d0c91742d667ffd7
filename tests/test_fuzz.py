"""Property-based tests: generated payloads and frames against the validator and a live session.

1. The compiled schema check (engine/payload.py) says "valid" exactly when jsonschema finds no
   error that is not tolerated, for payloads generated from each action's schema with random
   mutations (wrong types, unknown fields, missing fields, odd units).
2. A live charger session over a real WebSocket gets generated frames: OCPP-J arrays with known
   and unknown actions and schema-shaped or random payloads, random JSON, random text and random
   bytes. Every CALL gets exactly one answer with its unique id; nothing else gets more than a
   CALLERROR; no answer is an InternalError (a bug of ours); the session stays up; no exception
   reaches the event loop (the harness checks that).

Both are bounded (a few hundred examples, no deadline) so the suite stays quick; the examples
are not stored between runs.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
import json
from typing import Any

from homeassistant.core import HomeAssistant
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema.exceptions import best_match
from ocpp.messages import MessageType, get_validator
import pytest

from custom_components.ocpp_cs.engine.payload import compile_schema, passes_schema, snake_case_keys
from custom_components.ocpp_cs.engine.schemas import preload
from custom_components.ocpp_cs.engine.session import KNOWN_ACTIONS_FROM_CHARGERS, tolerated
from custom_components.ocpp_cs.engine.v16.translate import parse_meter_values

from .conftest import EntryFactory, hub_of, port_of
from .raw_charger import RawCharger, raw_charger

preload()
SCHEMAS: dict[str, Mapping[str, Any]] = {
    action: get_validator(MessageType.Call, action, "1.6").schema for action in KNOWN_ACTIONS_FROM_CHARGERS
}

# --- strategies -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Timestamps as chargers send them, and not quite.
timestamps = st.one_of(
    st.datetimes(timezones=st.just(None)).map(lambda moment: moment.isoformat() + "Z"),
    st.text(max_size=25),
)


def mostly(usual: st.SearchStrategy[Any], *odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Draw from `usual` about seven times in eight, else from one of `odd`."""
    return st.integers(0, 7).flatmap(lambda roll: usual if roll else st.one_of(*odd))


def from_schema(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by a schema, each of them sometimes something else entirely."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return from_schema(root["definitions"][name], root, depth)
    kind = schema.get("type")
    shaped: st.SearchStrategy[Any]
    if kind == "object":
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        fields = {name: from_schema(sub, root, depth + 1) for name, sub in properties.items()}
        shaped = st.fixed_dictionaries(
            {name: strategy for name, strategy in fields.items() if name in required},
            optional={name: strategy for name, strategy in fields.items() if name not in required},
        )
        # Sometimes a required field is missing, sometimes there is one too many.
        shaped = mostly(
            shaped,
            shaped.flatmap(lambda value: st.sampled_from(sorted(value) or [""]).map(
                lambda key: {k: v for k, v in value.items() if k != key}
            )),
            st.tuples(shaped, st.text(min_size=1, max_size=8), scalars).map(lambda t: {**t[0], t[1]: t[2]}),
        )
    elif kind == "array":
        item = from_schema(schema.get("items") or {}, root, depth + 1)
        least = int(schema.get("minItems", 0))
        shaped = mostly(st.lists(item, min_size=least, max_size=least + 2), st.lists(item, max_size=least))
    elif kind == "string":
        if "enum" in schema:
            shaped = mostly(st.sampled_from(schema["enum"]), st.text(max_size=10))
        elif schema.get("format") == "date-time":
            shaped = timestamps
        else:
            limit = int(schema.get("maxLength", 30))
            shaped = mostly(st.text(max_size=min(limit, 40)), st.text(min_size=limit + 1, max_size=limit + 3))
    elif kind == "integer":
        shaped = mostly(st.integers(-5, 10**6), st.floats(-5, 10, allow_nan=False))
    elif kind == "number":
        shaped = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False))
    elif kind == "boolean":
        shaped = mostly(st.booleans(), st.integers(0, 1))
    else:
        shaped = json_values
    # Deeper values are more numerous: each is junk less often, so that whole payloads stay valid often.
    return st.integers(0, 10 * depth).flatmap(lambda roll: shaped if roll else json_values) if depth else shaped


payloads = {action: from_schema(schema, schema) for action, schema in SCHEMAS.items()}
actions_and_payloads = st.sampled_from(sorted(SCHEMAS)).flatmap(
    lambda action: st.tuples(st.just(action), payloads[action])
)


# --- the validator --------------------------------------------------------------------------------


def jsonschema_says_valid(action: str, payload: Any) -> bool:
    validator = get_validator(MessageType.Call, action, "1.6")
    return best_match(e for e in validator.iter_errors(payload) if not tolerated(e)) is None


def test_every_charger_schema_is_compiled() -> None:
    for action, schema in SCHEMAS.items():
        compile_schema(schema)  # raises Unsupported for a keyword the compiler does not know
        assert passes_schema(action, {}) == jsonschema_says_valid(action, {}), action


@settings(max_examples=400, deadline=None, database=None)
@given(actions_and_payloads)
def test_compiled_check_agrees_with_jsonschema(action_and_payload: tuple[str, Any]) -> None:
    action, payload = action_and_payload
    assert passes_schema(action, payload) == jsonschema_says_valid(action, payload), (action, payload)


@settings(max_examples=200, deadline=None, database=None)
@given(payloads["MeterValues"])
def test_compiled_check_agrees_with_jsonschema_on_meter_values(payload: Any) -> None:
    # The hot path: deep payloads, odd units (tolerated), odd values and contexts.
    assert passes_schema("MeterValues", payload) == jsonschema_says_valid("MeterValues", payload), payload


# --- a live session -------------------------------------------------------------------------------


@st.composite
def frames(draw: st.DrawFn) -> list[str | bytes]:
    """One to five frames a charger might send, well-formed or not."""
    result: list[str | bytes] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.integers(0, 9))
        if kind <= 4:  # a CALL of a charger action, its payload shaped by the schema (or not)
            action, payload = draw(actions_and_payloads)
            result.append(json.dumps([2, f"id-{len(result)}", action, payload]))
        elif kind == 5:  # an action that is not the charger's, or not OCPP's
            action = draw(st.one_of(st.sampled_from(["Reset", "GetConfiguration", "SetChargingProfile"]), st.text()))
            result.append(json.dumps([2, f"id-{len(result)}", action, draw(json_values)]))
        elif kind == 6:  # OCPP-J-ish arrays of any shape
            result.append(json.dumps(draw(st.lists(json_values, max_size=6))))
        elif kind == 7:
            result.append(json.dumps(draw(json_values)))
        elif kind == 8:
            result.append(draw(st.text(max_size=40)))
        else:
            result.append(draw(st.binary(max_size=40)))
    return result


def is_call(frame: str | bytes) -> str | None:
    """Return the unique id of a frame our server takes for a CALL (type 2, a string id)."""
    try:
        message = json.loads(frame)
    except ValueError:
        return None
    if (
        isinstance(message, list)
        and len(message) > 1
        and message[0] == 2
        and not isinstance(message[0], bool)
        and isinstance(message[1], str)
    ):
        return message[1]
    return None


async def exchange(cp: RawCharger, sent: list[str | bytes], number: int) -> None:
    """Send the frames and a final Heartbeat; check the answers against the frames."""
    before = len(cp.answers)
    for frame in sent:
        await cp.send(frame)
    sentinel = f"sentinel-{number}"
    await cp.send(json.dumps([2, sentinel, "Heartbeat", {}]))
    async with asyncio.timeout(20):
        while not any(answer[1] == sentinel for answer in cp.answers[before:] if len(answer) > 1):
            await cp.wait_answers(len(cp.answers) + 1)
    answers = cp.answers[before:]
    assert answers[-1][:2] == [3, sentinel], answers[-1]
    answers = answers[:-1]
    calls = Counter(unique_id for frame in sent if (unique_id := is_call(frame)) is not None)
    answered = Counter(answer[1] for answer in answers if answer[1] in calls)
    assert answered == calls, (sent, answers)
    others = [answer for answer in answers if answer[1] not in calls]
    assert len(others) <= len(sent) - sum(calls.values()), (sent, answers)
    assert all(answer[0] == 4 for answer in others), (sent, answers)
    assert not [a for a in answers if a[0] == 4 and a[2] == "InternalError"], (sent, answers)


@pytest.mark.timeout(300)
async def test_generated_frames_against_a_live_session(hass: HomeAssistant, setup_entry: EntryFactory) -> None:
    entry = await setup_entry()
    hub = hub_of(entry)
    hub.boot_grace_seconds = 3600
    # Asyncio's debug mode (the harness's) makes each example several times slower.
    loop = asyncio.get_running_loop()
    loop.set_debug(False)
    examples = iter(range(1_000_000))
    async with raw_charger(port_of(entry), "CP-FUZZ") as cp, raw_charger(port_of(entry), "CP-BYSTANDER") as other:
        answer = await cp.call("boot", "BootNotification", {"chargePointVendor": "Fuzz", "chargePointModel": "F"})
        assert answer[2]["status"] == "Accepted"

        @settings(
            max_examples=200, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frames())
        def check(sent: list[str | bytes]) -> None:
            asyncio.run_coroutine_threadsafe(exchange(cp, sent, next(examples)), loop).result(60)

        # Hypothesis drives from a thread; the frames go through this loop's real WebSocket.
        await loop.run_in_executor(None, check)
        assert "CP-FUZZ" in hub.central.sessions
        assert (await other.call("h", "Heartbeat", {}))[0] == 3


def test_sampled_values_keep_their_keys_and_parse_in_either_spelling() -> None:
    sent = {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [
            {"value": "7.5", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        ]}],
    }
    converted = snake_case_keys(sent)
    assert converted == {"connector_id": 1, "transaction_id": 7, "meter_value": sent["meterValue"]}
    # Other nested objects are converted all the way down.
    assert snake_case_keys({"idTagInfo": {"parentIdTag": "P"}}) == {"id_tag_info": {"parent_id_tag": "P"}}
    now = datetime.now(UTC)
    as_sent = parse_meter_values(converted["meter_value"], now)
    snake = parse_meter_values(
        [{"timestamp": "2026-01-01T00:00:00Z", "sampled_value": sent["meterValue"][0]["sampledValue"]}], now
    )
    assert as_sent == snake
    assert as_sent[0][0] == "current_import_l1"
    assert as_sent[0][1].value == 7.5
