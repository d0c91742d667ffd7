"""The quality scale file names every rule of the current Home Assistant, and the manifest's tier holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant import components
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import yaml

from custom_components.ocpp_cs import config_flow
from custom_components.ocpp_cs.const import DOMAIN

PACKAGE = Path(config_flow.__file__).resolve().parent

TIERS: dict[str, list[str]] = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow-test-coverage",
        "config-flow", "dependency-transparency", "docs-actions", "docs-conditions",
        "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
        "docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
        "test-before-configure", "test-before-setup", "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner", "log-when-unavailable",
        "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery-update-info", "discovery", "docs-data-update", "docs-examples",
        "docs-known-limitations", "docs-supported-devices", "docs-supported-functions", "docs-troubleshooting",
        "docs-use-cases", "dynamic-devices", "entity-category", "entity-device-class",
        "entity-disabled-by-default", "entity-translations", "exception-translations", "icon-translations",
        "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}
# Rules of the manifest's tier that wait only for README sections (drafted in issue 21): take a
# rule out of this set when its section is in README.md and the rule is marked done.
WAITING_FOR_README: set[str] = set()


def rules() -> dict[str, dict[str, Any]]:
    """Return every rule as {status, comment}."""
    data = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text(encoding="utf-8"))
    return {
        name: value if isinstance(value, dict) else {"status": value}
        for name, value in data["rules"].items()
    }


def manifest() -> dict[str, Any]:
    return dict(json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8")))


def test_every_rule_of_home_assistant_is_named_once_with_a_status() -> None:
    # A platinum integration of Home Assistant core lists every rule.
    core_file = Path(components.__file__).parent / "peblar" / "quality_scale.yaml"
    core = yaml.safe_load(core_file.read_text(encoding="utf-8"))
    every = [rule for tier in TIERS.values() for rule in tier]
    assert sorted(every) == sorted(core["rules"]), "the rules of this Home Assistant changed"
    ours = rules()
    assert sorted(ours) == sorted(every)
    for name, rule in ours.items():
        assert rule["status"] in ("done", "exempt", "todo"), name
        if rule["status"] != "done":
            assert rule.get("comment"), f"{name} is {rule['status']} without a reason"


def test_the_manifest_tier_holds() -> None:
    tier = manifest()["quality_scale"]
    assert tier in TIERS
    names = list(TIERS)
    required = [rule for level in names[: names.index(tier) + 1] for rule in TIERS[level]]
    ours = rules()
    open_rules = {rule for rule in required if ours[rule]["status"] == "todo"}
    assert open_rules <= WAITING_FOR_README, open_rules - WAITING_FOR_README
    # The next tier is not reached yet (else the manifest undersells it).
    if tier != names[-1]:
        following = TIERS[names[names.index(tier) + 1]]
        assert any(ours[rule]["status"] == "todo" for rule in following)


def test_codeowners() -> None:
    owners = manifest()["codeowners"]
    assert owners
    assert all(owner.startswith("@") for owner in owners)


async def test_brand_icon_is_served(hass: HomeAssistant, hass_client: ClientSessionGenerator) -> None:
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    for image in ("icon.png", "icon@2x.png", "logo.png"):
        response = await client.get(f"/api/brands/integration/{DOMAIN}/{image}")
        assert response.status == 200, image
        assert (await response.read()).startswith(b"\x89PNG"), image
