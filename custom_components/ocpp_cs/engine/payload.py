"""
Fast paths for inbound payloads: the schema check and the key conversion of every message.

`jsonschema` needs about a millisecond for a MeterValues with ten sampled values, more than
everything else a message costs. The OCPP 1.6 schemas use a handful of draft-04 keywords,
so each schema is compiled once into nested checks that answer only "valid or not", with
jsonschema's draft-04 semantics (types as its type checker defines them, `format` ignored).
A payload they pass is valid for jsonschema too; one they fail goes through jsonschema as
before, which names the error (and so the CALLERROR code) exactly as it always did. A schema
with a keyword not listed here is not compiled: its payloads all go through jsonschema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
import numbers
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


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "number": _is_number,
    "null": lambda value: value is None,
}


def tolerated_path(names: Sequence[str]) -> bool:
    """Return True where an `enum` violation is let through: a sampled value's unit (see session.tolerated)."""
    return len(names) > 1 and names[-1] == "unit" and "sampledValue" in names


def compile_schema(root: Mapping[str, Any]) -> Check:
    """Compile a draft-04 schema into a check equivalent to "jsonschema finds no error that is not tolerated"."""
    return _compile(root, root, ())


def _resolve(root: Mapping[str, Any], reference: str) -> Mapping[str, Any]:
    prefix = "#/definitions/"
    if not reference.startswith(prefix):
        raise Unsupported(reference)
    found = (root.get("definitions") or {}).get(reference[len(prefix) :])
    if not isinstance(found, Mapping):
        raise Unsupported(reference)
    return found


def _compile(schema: Mapping[str, Any], root: Mapping[str, Any], names: tuple[str, ...]) -> Check:
    if "$ref" in schema:
        # Draft 4 ignores the siblings of $ref.
        return _compile(_resolve(root, str(schema["$ref"])), root, names)
    typed = _compile_typed(schema, root, names)
    if typed is not None:
        return typed
    checks: list[Check] = []
    for keyword, argument in schema.items():
        if keyword in _ANNOTATIONS or keyword in ("properties", "additionalProperties"):
            continue
        if keyword == "type":
            types = [argument] if isinstance(argument, str) else list(argument)
            if any(name not in _TYPES for name in types):
                raise Unsupported(f"type {argument}")
            type_checks = tuple(_TYPES[name] for name in types)
            checks.append(type_checks[0] if len(type_checks) == 1 else _any_of(type_checks))
        elif keyword == "enum":
            if tolerated_path(names):
                continue
            if not all(isinstance(value, str) for value in argument):
                raise Unsupported("enum of other than strings")
            checks.append(_enum(frozenset(argument)))
        elif keyword == "maxLength":
            checks.append(_max_length(int(argument)))
        elif keyword == "minItems":
            checks.append(_min_items(int(argument)))
        elif keyword == "required":
            checks.append(_required(tuple(argument)))
        elif keyword == "items":
            if not isinstance(argument, Mapping):
                raise Unsupported("items as a list")
            checks.append(_items(_compile(argument, root, names)))
        else:
            raise Unsupported(keyword)
    if "properties" in schema or "additionalProperties" in schema:
        checks.append(_object(schema, root, names))
    return _all_of(tuple(checks))


_STRING_KEYWORDS = frozenset({"type", "maxLength", "enum", "additionalProperties"}) | _ANNOTATIONS
_OBJECT_KEYWORDS = frozenset({"type", "properties", "additionalProperties", "required"}) | _ANNOTATIONS
_ARRAY_KEYWORDS = frozenset({"type", "items", "minItems"}) | _ANNOTATIONS
_SCALAR_KEYWORDS = frozenset({"type", "additionalProperties"}) | _ANNOTATIONS


def _compile_typed(schema: Mapping[str, Any], root: Mapping[str, Any], names: tuple[str, ...]) -> Check | None:
    """
    Compile the usual shapes (one type and its own keywords) into a single check.

    With one type, the keywords of other types are vacuous (jsonschema applies `properties`
    only to objects, `maxLength` only to strings...), and the type check comes first.
    Returns None for anything else (the general compiler takes it).
    """
    kind = schema.get("type")
    keywords = set(schema)
    if kind == "string" and keywords <= _STRING_KEYWORDS:
        limit = schema.get("maxLength")
        enum = schema.get("enum")
        if enum is not None and tolerated_path(names):
            enum = None
        if enum is not None and not all(isinstance(value, str) for value in enum):
            return None
        if limit is None and enum is None:
            return lambda value: isinstance(value, str)
        if enum is None:
            assert limit is not None  # both None returned above
            size = int(limit)
            return lambda value: isinstance(value, str) and len(value) <= size
        allowed = frozenset(enum)
        if limit is None:
            return lambda value: isinstance(value, str) and value in allowed
        size = int(limit)
        return lambda value: isinstance(value, str) and len(value) <= size and value in allowed
    if kind in ("integer", "number", "boolean") and keywords <= _SCALAR_KEYWORDS:
        return _TYPES[kind]
    if kind == "array" and keywords <= _ARRAY_KEYWORDS:
        items = schema.get("items")
        if items is not None and not isinstance(items, Mapping):
            return None
        item_check = _compile(items, root, names) if items is not None else None
        least = int(schema.get("minItems", 0))

        def check_array(value: Any) -> bool:
            if not isinstance(value, list) or len(value) < least:
                return False
            if item_check is not None:
                for item in value:
                    if not item_check(item):
                        return False
            return True

        return check_array
    if kind == "object" and keywords <= _OBJECT_KEYWORDS:
        fields = _object(schema, root, names)
        required = tuple(schema.get("required") or ())

        def check_object(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            for key in required:
                if key not in value:
                    return False
            return fields(value)

        return check_object
    return None


def _any_of(checks: tuple[Check, ...]) -> Check:
    return lambda value: any(check(value) for check in checks)


def _all_of(checks: tuple[Check, ...]) -> Check:
    if not checks:
        return lambda _value: True
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 (a loop is quicker than all() over a generator)
            if not one(value):
                return False
        return True

    return check


def _enum(allowed: frozenset[str]) -> Check:
    # jsonschema's equality: a string equals only an equal string.
    return lambda value: isinstance(value, str) and value in allowed


def _max_length(limit: int) -> Check:
    return lambda value: not isinstance(value, str) or len(value) <= limit


def _min_items(limit: int) -> Check:
    return lambda value: not isinstance(value, list) or len(value) >= limit


def _required(keys: tuple[str, ...]) -> Check:
    return lambda value: not isinstance(value, dict) or all(key in value for key in keys)


def _items(item_check: Check) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        for item in value:  # noqa: SIM110 (a loop is quicker than all() over a generator)
            if not item_check(item):
                return False
        return True

    return check


def _object(schema: Mapping[str, Any], root: Mapping[str, Any], names: tuple[str, ...]) -> Check:
    properties = schema.get("properties") or {}
    property_checks = {
        name: _compile(subschema, root, (*names, name)) for name, subschema in properties.items()
    }
    additional = schema.get("additionalProperties", True)
    if additional not in (True, False):
        raise Unsupported("additionalProperties as a schema")
    closed = additional is False

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            property_check = property_checks.get(key)
            if property_check is None:
                if closed:
                    return False
            elif not property_check(item):
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
    found = _SNAKE_KEYS.get(key)
    if found is None:
        found = next(iter(camel_to_snake_case({key: None})))
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
