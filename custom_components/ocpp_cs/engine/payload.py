"""
Fast paths for inbound payloads: the schema check and the key conversion of every message.

`jsonschema` needs about a millisecond for a MeterValues with ten sampled values, more than
everything else a message costs. The OCPP 1.6 request schemas are built from a few shapes: a
closed object (`additionalProperties: false`) with `properties` and `required`; an array with
`items` and `minItems`; a string with `maxLength` or an `enum`; an integer; `$ref`s to
`definitions`. A schema made only of these is compiled once into nested checks that answer only
"valid or not", with jsonschema's draft-04 semantics (types as its type checker defines them,
`format` ignored). A payload they pass is valid for jsonschema too; one they fail goes through
jsonschema as before, which names the error (and so the CALLERROR code) exactly as it always
did. A schema with any other shape (the `multipleOf` of the charging limits) is not compiled:
its payloads all go through jsonschema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import MessageType

from .schemas import validator

type Check = Callable[[Any], bool]

# Keywords that carry no constraint for draft-04 validation without a format checker.
_ANNOTATIONS = frozenset({"$schema", "$id", "id", "title", "description", "format", "definitions", "default"})


class Unsupported(Exception):
    """The schema uses something the compiler does not handle; jsonschema does it all."""


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def tolerated_path(names: Sequence[str]) -> bool:
    """Return True where an `enum` violation is let through: a sampled value's unit (see session.tolerated)."""
    return len(names) > 1 and names[-1] == "unit" and "sampledValue" in names


def compile_schema(root: Mapping[str, Any]) -> Check:
    """Compile a draft-04 schema into a check equivalent to "jsonschema finds no error that is not tolerated"."""
    return _compile(root, root, ())


# `additionalProperties` is vacuous on other than objects (the OCPP schemas put it on strings).
_STRING_KEYWORDS = frozenset({"type", "maxLength", "enum", "additionalProperties"}) | _ANNOTATIONS
_OBJECT_KEYWORDS = frozenset({"type", "properties", "additionalProperties", "required"}) | _ANNOTATIONS
_ARRAY_KEYWORDS = frozenset({"type", "items", "minItems"}) | _ANNOTATIONS
_INTEGER_KEYWORDS = frozenset({"type", "additionalProperties"}) | _ANNOTATIONS


def _compile(schema: Mapping[str, Any], root: Mapping[str, Any], names: tuple[str, ...]) -> Check:
    """
    Compile one shape (one type and its own keywords) into a single check, the type check first.

    Raises Unsupported for any other shape.
    """
    if "$ref" in schema:
        # Draft 4 ignores the siblings of $ref. A reference elsewhere than to the root's
        # definitions raises KeyError: the schema is not compiled (_check_for).
        return _compile(root["definitions"][str(schema["$ref"]).removeprefix("#/definitions/")], root, names)
    kind = schema.get("type")
    keywords = set(schema)
    if kind == "string" and keywords <= _STRING_KEYWORDS:
        return _string(schema, names)
    if kind == "integer" and keywords <= _INTEGER_KEYWORDS:
        return _is_integer
    if kind == "array" and keywords <= _ARRAY_KEYWORDS and isinstance(schema.get("items"), Mapping):
        return _array(_compile(schema["items"], root, names), int(schema.get("minItems", 0)))
    if kind == "object" and keywords <= _OBJECT_KEYWORDS and schema.get("additionalProperties") is False:
        return _object(schema, root, names)
    raise Unsupported(f"{kind}: {sorted(keywords)}")


def _string(schema: Mapping[str, Any], names: tuple[str, ...]) -> Check:
    limit = schema.get("maxLength")
    enum = schema.get("enum")
    if enum is not None and not tolerated_path(names):
        # jsonschema's equality: a string equals only an equal string; one too long is refused.
        allowed = frozenset(value for value in enum if limit is None or len(value) <= int(limit))
        return lambda value: isinstance(value, str) and value in allowed
    if limit is not None:
        size = int(limit)
        return lambda value: isinstance(value, str) and len(value) <= size
    return lambda value: isinstance(value, str)


def _array(item_check: Check, least: int) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, list) or len(value) < least:
            return False
        for item in value:  # noqa: SIM110 (a loop is quicker than all() over a generator)
            if not item_check(item):
                return False
        return True

    return check


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], names: tuple[str, ...]) -> Check:
    properties = schema.get("properties") or {}
    property_checks = {name: _compile(subschema, root, (*names, name)) for name, subschema in properties.items()}
    required = tuple(schema.get("required") or ())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():
            property_check = property_checks.get(key)
            if property_check is None or not property_check(item):
                return False
        return True

    return check


@lru_cache(maxsize=128)
def _check_for(action: str) -> Check | None:
    try:
        # Read (a blocking file read) by schemas.preload in the executor beforehand.
        schema = validator(MessageType.Call, action).schema
        return compile_schema(schema)
    except (Unsupported, OSError, ValueError, TypeError, KeyError):
        return None


def passes_schema(action: str, payload: Any) -> bool:
    """
    Return True when the payload of a charger's CALL is valid for its OCPP 1.6 schema.

    False means "let jsonschema look": the payload may still be valid (a schema that is not
    compiled), and jsonschema names the error when it is not.
    """
    check = _check_for(action)
    return check is not None and check(payload)


# --- keys: camelCase -> snake_case -------------------------------------------------------------

_SNAKE_KEYS: dict[str, str] = {}
# Keys come from validated payloads (closed schemas), so few are ever seen; the bound is a guard.
_SNAKE_KEYS_MAX = 4096


def _snake_key(key: str) -> str:
    """Convert a key not seen before (and remember it while there is room)."""
    found: str = next(iter(camel_to_snake_case({key: None})))
    if len(_SNAKE_KEYS) < _SNAKE_KEYS_MAX:
        _SNAKE_KEYS[key] = found
    return found


# Fields whose contents handlers take as the charger sent them (camelCase inside): the sampled
# values of MeterValues and StopTransaction (meter.parse_meter_values reads both spellings).
# Converting the ten sampled values of every MeterValues cost more than parsing the frame.
AS_SENT = frozenset({"meterValue", "transactionData"})


_CONVERT_ALL: frozenset[str] = frozenset()


def snake_case_keys(data: Any, as_sent: frozenset[str] = AS_SENT) -> Any:
    """
    Return `ocpp.charge_point.camel_to_snake_case(data)`, with the key conversion remembered.

    The contents of the `as_sent` fields of the top level keep their keys.
    """
    if isinstance(data, dict):
        known = _SNAKE_KEYS
        return {
            (known.get(key) or _snake_key(key)): (
                snake_case_keys(value, _CONVERT_ALL) if isinstance(value, dict | list) and key not in as_sent else value
            )
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [snake_case_keys(value, _CONVERT_ALL) if isinstance(value, dict | list) else value for value in data]
    return data
