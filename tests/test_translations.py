"""Every key the code uses has a string in translations/en.json (the UI shows raw keys otherwise)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
import importlib.util
from pathlib import Path
import re
import string
from typing import Any

from homeassistant.helpers import selector
from ocpp.v16.enums import Location, Measurand, Phase
import probatio as vol
import yaml

from custom_components.ocpp_cs import config_flow
from custom_components.ocpp_cs.const import NEW_CHARGERS_OPTIONS, UNKNOWN_ID_TAGS_OPTIONS
from custom_components.ocpp_cs.engine.meter import meter_key
from custom_components.ocpp_cs.engine.state import ID_TAG_STATUSES, IdTag
from custom_components.ocpp_cs.engine.util import snake

from .flow_helpers import strings

PACKAGE = Path(config_flow.__file__).resolve().parent
EN = strings()


def tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / name).read_text(encoding="utf-8"))


# The config and options flows, their forms and the options flow's id tag steps (a mixin).
FLOW_MODULES = ("config_flow.py", "flow_forms.py", "options_flow.py", "options_id_tags.py")


def flow_tree() -> ast.Module:
    """The flow modules as one module, with the id tag steps inside OcppOptionsFlow."""
    body: list[ast.stmt] = [node for name in FLOW_MODULES for node in tree(name).body]
    classes = {node.name: node for node in body if isinstance(node, ast.ClassDef)}
    classes["OcppOptionsFlow"].body.extend(classes["IdTagSteps"].body)
    return ast.Module(body=[node for node in body if node is not classes["IdTagSteps"]], type_ignores=[])


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def class_node(module: ast.Module, name: str) -> ast.ClassDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise AssertionError(f"no class {name}")


def step_ids(cls: ast.ClassDef) -> set[str]:
    return {
        node.name.removeprefix("async_step_")
        for node in cls.body
        if isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("async_step_")
    }


def keyword_strings(node: ast.AST, function: str, keyword: str) -> Iterator[str]:
    """String constants passed as `keyword=` to calls of `function` (a method or a name) under node."""
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if called != function:
            continue
        for kw in call.keywords:
            if kw.arg == keyword and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                yield kw.value.value


def error_strings(node: ast.AST) -> set[str]:
    """Constants assigned as `errors[...] = "..."` under node, and the errors bind_problem returns."""
    found = set()
    for function in ast.walk(node):
        if isinstance(function, ast.FunctionDef) and function.name == "bind_problem":
            found |= {
                ret.value.value
                for ret in ast.walk(function)
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant) and ret.value.value
            }
    for assign in ast.walk(node):
        if isinstance(assign, ast.Assign) and isinstance(assign.value, ast.Constant):
            for target in assign.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "errors"
                    and isinstance(assign.value.value, str)
                ):
                    found.add(assign.value.value)
    return found


def function_node(module: ast.Module, name: str) -> ast.AST:
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    raise AssertionError(f"no function {name}")


# --- config flow ---------------------------------------------------------------------------


def test_config_flow_steps_errors_and_aborts() -> None:
    module = flow_tree()
    config, options = EN["config"], EN["options"]
    flow, options_flow = class_node(module, "OcppConfigFlow"), class_node(module, "OcppOptionsFlow")

    assert step_ids(flow) <= set(config["step"])
    assert step_ids(options_flow) <= set(options["step"])
    for section in (config["step"], options["step"]):
        for step_id, step in section.items():
            assert step.get("title"), f"step {step_id} has no title"

    # validate_settings serves both flows; the id tag checks only the options flow.
    shared = error_strings(function_node(module, "validate_settings")) | error_strings(
        function_node(module, "bind_problem")
    )
    assert {"port_in_use", "port_configured", "cannot_bind", "port_not_allowed"} <= shared
    assert shared <= set(config["error"]), shared - set(config["error"])
    assert error_strings(module) <= set(options["error"]), error_strings(module) - set(options["error"])

    config_aborts = set(keyword_strings(flow, "async_abort", "reason")) | {
        "already_configured",  # _abort_if_unique_id_configured
        "reconfigure_successful",
    }
    assert config_aborts <= set(config["abort"])
    options_aborts = set(keyword_strings(options_flow, "async_abort", "reason"))
    assert options_aborts >= {"not_loaded", "no_id_tags", "unknown_id_tag", "no_chargers"}
    assert options_aborts <= set(options["abort"])


def test_options_menu() -> None:
    module = flow_tree()
    menus = [
        call
        for call in ast.walk(module)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "async_show_menu"
    ]
    assert len(menus) == 1
    options = next(kw.value for kw in menus[0].keywords if kw.arg == "menu_options")
    # The steps in order, filtered to those that can apply: `[step for step in (...) if ...]`.
    assert isinstance(options, ast.ListComp)
    steps = options.generators[0].iter
    assert isinstance(steps, ast.Tuple)
    menu = {element.value for element in steps.elts if isinstance(element, ast.Constant)}
    assert menu == set(EN["options"]["step"]["init"]["menu_options"])
    assert menu <= set(EN["options"]["step"])


def schema_fields(schema: vol.Schema) -> set[str]:
    return {str(key) for key in schema.schema}


def test_form_fields_have_labels() -> None:
    config, options = EN["config"]["step"], EN["options"]["step"]
    fields = schema_fields(config_flow.settings_schema({}))
    assert fields <= set(config["user"]["data"]), fields - set(config["user"]["data"])
    # The options flow shows them in sections (flow_forms.SETTINGS_SECTIONS), labelled there.
    settings_labels = {field for part in options["settings"]["sections"].values() for field in part["data"]}
    assert fields <= settings_labels, fields - settings_labels
    assert set(config["user"]["data_description"]) <= fields
    assert {"host", "port"} <= set(config["reconfigure"]["data"])

    flow = config_flow.OcppOptionsFlow()
    add = schema_fields(flow._id_tag_schema(None))
    edit = schema_fields(flow._id_tag_schema(IdTag("CARD")))
    assert add <= set(options["add_id_tag"]["data"])
    assert edit <= set(options["edit_id_tag_details"]["data"])
    assert "id_tag" in options["edit_id_tag"]["data"]
    assert "id_tags" in options["remove_id_tag"]["data"]
    assert placeholders(options["edit_id_tag_details"]["title"]) <= {"id_tag"}


def select_selectors(schema: vol.Schema) -> Iterator[selector.SelectSelector]:
    for value in schema.schema.values():
        if isinstance(value, selector.SelectSelector):
            yield value


def test_selector_options() -> None:
    selectors = list(select_selectors(config_flow.settings_schema({})))
    selectors += select_selectors(config_flow.OcppOptionsFlow()._id_tag_schema(None))
    keys = set()
    for select in selectors:
        if select.config.get("custom_value"):
            continue  # open choices (e.g. charge point ids) have no fixed options to translate
        key = select.config.get("translation_key")
        assert key, "a fixed-choice select needs a translation_key"
        keys.add(key)
        values = {o if isinstance(o, str) else o["value"] for o in select.config["options"]}
        assert values == set(EN["selector"][key]["options"]), key
    assert keys == {"new_chargers", "unknown_id_tags", "status", "security_profile"}
    assert set(EN["selector"]["new_chargers"]["options"]) == set(NEW_CHARGERS_OPTIONS)
    assert set(EN["selector"]["unknown_id_tags"]["options"]) == set(UNKNOWN_ID_TAGS_OPTIONS)
    assert set(EN["selector"]["status"]["options"]) == {snake(status) for status in ID_TAG_STATUSES}


# --- repairs -------------------------------------------------------------------------------


def test_pending_charger_issue() -> None:
    hub = tree("hub.py")
    keys = set(keyword_strings(hub, "async_create_issue", "translation_key"))
    assert keys == {"pending_charger"}
    issue = EN["issues"]["pending_charger"]
    assert issue["title"]
    given = {"charge_point_id", "entry"}  # hub.charger_pending's translation_placeholders
    assert placeholders(issue["title"]) <= given

    repairs = tree("repairs.py")
    fix_flow = issue["fix_flow"]
    assert step_ids(class_node(repairs, "AcceptChargerFlow")) - {"init"} <= set(fix_flow["step"])
    assert set(keyword_strings(repairs, "async_abort", "reason")) <= set(fix_flow["abort"])
    confirm = fix_flow["step"]["confirm"]
    assert confirm["title"] and confirm["description"]
    assert placeholders(confirm["title"]) | placeholders(confirm["description"]) <= given


# --- exceptions ----------------------------------------------------------------------------


def _translated_exception_helpers(module: ast.Module) -> set[str]:
    """Functions that build a translated exception from their first parameter (`error(key, **kw)`)."""
    helpers = set()
    for node in ast.walk(module):
        if not isinstance(node, ast.FunctionDef) or not node.args.args:
            continue
        first = node.args.args[0].arg
        for call in ast.walk(node):
            if not isinstance(call, ast.Call):
                continue
            kwargs = {kw.arg: kw.value for kw in call.keywords}
            key = kwargs.get("translation_key")
            if "translation_domain" in kwargs and isinstance(key, ast.Name) and key.id == first:
                helpers.add(node.name)
    return helpers


def exception_uses() -> Iterator[tuple[str, str, set[str] | None]]:
    """(file, key, placeholders given or None when unknown) for every translated exception raised."""
    modules = {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")
    }
    helpers: set[str] = set()
    for module in modules.values():
        helpers |= _translated_exception_helpers(module)
    for name, module in modules.items():
        for call in ast.walk(module):
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            kwargs = {kw.arg: kw.value for kw in call.keywords}
            if "translation_domain" in kwargs:
                key = kwargs.get("translation_key")
                if not isinstance(key, ast.Constant):
                    continue  # the helpers themselves
                given = kwargs.get("translation_placeholders")
                names = (
                    {k.value for k in given.keys if isinstance(k, ast.Constant)}
                    if isinstance(given, ast.Dict)
                    else None
                )
                yield name, str(key.value), names
            elif called in helpers and call.args and isinstance(call.args[0], ast.Constant):
                splat = any(kw.arg is None for kw in call.keywords)
                yield name, str(call.args[0].value), None if splat else {str(k) for k in kwargs}


def test_exception_keys_have_messages() -> None:
    uses = list(exception_uses())
    keys = {key for _, key, _ in uses}
    assert "cannot_listen" in keys
    messages = EN["exceptions"]
    missing = sorted(f"{file}: {key}" for file, key, _ in uses if key not in messages)
    assert not missing, missing
    for file, key, given in uses:
        assert messages[key]["message"], key
        if given is not None:
            needed = placeholders(messages[key]["message"])
            assert needed <= given, f"{file}: {key} lacks placeholders {needed - given}"


def test_every_message_is_used() -> None:
    """Strings nobody uses are dead weight (and hide renamed keys)."""
    keys = {key for _, key, _ in exception_uses()}
    # Keys passed through variables (e.g. a mapping of statuses) are found by grep.
    source = "\n".join(path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py"))
    unused = [key for key in EN["exceptions"] if key not in keys and not re.search(rf"[\"']{key}[\"']", source)]
    assert not unused, unused


# --- services ------------------------------------------------------------------------------


def test_services_have_names_and_field_strings() -> None:
    services_yaml: dict[str, Any] = yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8"))
    texts = EN.get("services", {})
    for service, spec in services_yaml.items():
        assert service in texts, f"service {service} has no strings"
        assert texts[service].get("name") and texts[service].get("description"), service
        for field in (spec or {}).get("fields", {}):
            field_texts = texts[service].get("fields", {}).get(field)
            assert field_texts and field_texts.get("name"), f"{service}.{field} has no name"
    assert set(texts) <= set(services_yaml), set(texts) - set(services_yaml)


# --- meter sensors -------------------------------------------------------------------------


def _generator() -> Any:
    script = PACKAGE.parent.parent / "scripts" / "gen_translations.py"
    spec = importlib.util.spec_from_file_location("gen_translations", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_meter_key_has_a_plain_name() -> None:
    """Every measurand x phase x location OCPP 1.6 can send is named, as scripts/gen_translations.py writes it."""
    sensors = EN["entity"]["sensor"]
    for measurand in Measurand:
        for phase in [None, *Phase]:
            for location in [None, *Location]:
                key = meter_key(measurand.value, phase.value if phase else None, location.value if location else None)
                name = sensors[key]["name"]
                # The charger device names a connector's entities "Connector N ..." (single-connector chargers).
                assert name.startswith("{connector}"), key
                assert placeholders(name) == {"connector"}, key
                assert "." not in name and "_" not in name, key  # no spec identifiers left
    assert _generator().meter_names().items() <= sensors.items(), "run scripts/gen_translations.py"
    named = {key: sensors[key]["name"].removeprefix("{connector}") for key in sensors}
    assert named["energy_active_import_register"] == "Lifetime energy"
    assert named["energy_active_export_register"] == "Lifetime energy exported"
    assert named["energy_active_import_interval"] == "Interval energy"
    assert named["power_active_import"] == "Power"
    assert named["power_offered"] == "Offered power"
    assert named["current_import_l1"] == "Current phase 1"
    assert named["current_offered"] == "Offered current"
    assert named["voltage_l1_n"] == "Voltage phase 1"
    assert named["voltage_l1_l2"] == "Voltage phase 1-2"
    assert named["soc"] == "State of charge"
    assert named["temperature"] == "Temperature"
    assert named["temperature_body"] == "Body temperature"
    assert named["temperature_cable"] == "Cable temperature"
    assert named["temperature_inlet"] == "Inlet temperature"
    assert named["power_factor"] == "Power factor"
    assert named["frequency"] == "Frequency"
    assert named["rpm"] == "Fan speed"
    assert named["session_energy"] == "Session energy"
    assert named["energy"] == "Charged energy"
