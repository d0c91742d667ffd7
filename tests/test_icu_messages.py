"""Every string the frontend shows parses as an ICU message (else it shows "Translation error").

The frontend formats every translation with intl-messageformat, whose parser reads `<...>` as a
tag and `{...}` as an argument: `ws://<host>:<port>/` or `{id_tag, id_tag_info: {...}}` in a
help text put "Translation error: INVALID_TAG" on screen instead of the text. The parser here is
FormatJS's own (the one behind intl-messageformat), so an error it reports is one the UI shows.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from typing import Any

from icu_messageformat_parser import parse
import pytest
import yaml

PACKAGE = Path(__file__).resolve().parent.parent / "custom_components" / "ocpp_cs"
TRANSLATIONS = sorted((PACKAGE / "translations").glob("*.json"))


def leaves(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (path, string) for every string under a JSON/YAML node."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def service_texts(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (path, string) for the names and descriptions in services.yaml (what the UI shows)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"name", "description"} and isinstance(value, str):
                yield f"{path}.{key}", value
            else:
                yield from service_texts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from service_texts(value, f"{path}[{index}]")


def icu_errors(texts: Iterator[tuple[str, str]]) -> list[str]:
    """Return "path: error (text)" for each text that the ICU parser refuses."""
    errors = []
    for path, text in texts:
        try:
            parse(text)
        except ValueError as err:
            errors.append(f"{path}: {err} ({text!r})")
    return errors


def test_there_are_translations() -> None:
    assert [path.name for path in TRANSLATIONS] == ["en.json"]


@pytest.mark.parametrize("translation", TRANSLATIONS, ids=lambda path: path.name)
def test_translations_parse_as_icu_messages(translation: Path) -> None:
    data = json.loads(translation.read_text(encoding="utf-8"))
    texts = list(leaves(data, translation.stem))
    assert len(texts) > 1000  # the whole file was read, not a part of it
    assert icu_errors(iter(texts)) == []


def test_services_yaml_parses_as_icu_messages() -> None:
    data = yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8"))
    texts = list(service_texts(data, "services"))
    assert icu_errors(iter(texts)) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Chargers connect to ws://<Home Assistant host>:<port>/<charge point id>.", "INVALID_TAG"),
        ("Connects to {url}/<charge point id>", "INVALID_TAG"),
        ("The file is kept under <config>/ocpp_cs/diagnostics/.", "UNCLOSED_TAG"),
        ("Else items {id_tag, id_tag_info: {status, expiry_date}}.", "INVALID_ARGUMENT_TYPE"),
        ("An unbalanced { brace", "EXPECT_ARGUMENT_CLOSING_BRACE"),
    ],
)
def test_the_parser_refuses_what_the_frontend_refuses(text: str, code: str) -> None:
    """The check above would pass on anything if the parser took everything: it does not.

    The codes are the ones the frontend showed ("Translation error: INVALID_TAG").
    """
    [error] = icu_errors(iter([("example", text)]))
    assert error.startswith(f"example: {code} ")


@pytest.mark.parametrize(
    "text",
    [
        "Chargers connect to ws://HOST:PORT/ID: HOST is Home Assistant's address.",
        "Connector {connector_id} belongs to charger {charge_point_id}.",
        "Settings > System > Network",
        "{connector}Power phase 1",
    ],
)
def test_the_parser_takes_plain_text_and_placeholders(text: str) -> None:
    assert icu_errors(iter([("example", text)])) == []


def test_services_yaml_texts_are_found() -> None:
    """service_texts finds names and descriptions at any depth (services.yaml has few today)."""
    node = {"reset": {"name": "Reset", "fields": {"type": {"description": "Soft <or> hard"}}}}
    assert list(service_texts(node, "services")) == [
        ("services.reset.name", "Reset"),
        ("services.reset.fields.type.description", "Soft <or> hard"),
    ]
    assert len(icu_errors(service_texts(node, "services"))) == 1
