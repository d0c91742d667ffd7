"""The key conversion of inbound payloads (engine/payload.py) against the ocpp library's own."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings, strategies as st
from ocpp.charge_point import camel_to_snake_case
import pytest

from custom_components.ocpp_cs.engine import payload
from custom_components.ocpp_cs.engine.payload import snake_case_keys

camel_words = st.lists(st.sampled_from(["id", "Tag", "connector", "Id", "meter", "Value", "x", "URL", "s"]), max_size=4)
keys = st.one_of(camel_words.map("".join), st.text(max_size=8))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, database=None)
@given(json_values)
def test_keys_are_converted_as_the_ocpp_library_converts_them(data: Any) -> None:
    # With no field kept as sent, nested objects and lists are converted all the way down.
    assert snake_case_keys(data, frozenset()) == camel_to_snake_case(data)


def test_a_flood_of_new_keys_is_converted_but_not_all_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payload, "_SNAKE_KEYS", {})
    monkeypatch.setattr(payload, "_SNAKE_KEYS_MAX", 8)
    sent = {f"vendorField{number}": number for number in range(20)}
    assert snake_case_keys(sent) == {f"vendor_field{number}": number for number in range(20)}
    assert len(payload._SNAKE_KEYS) == 8
    # Known and unknown keys alike convert the same way the second time.
    assert snake_case_keys(sent) == {f"vendor_field{number}": number for number in range(20)}
