"""The fields of the charger actions (validated in the handlers, so errors are translated)."""

from __future__ import annotations

from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolDictType
import probatio as vol

from ..engine.smart_charging import (
    KINDS,
    PURPOSES,
    RECURRENCY,
    UNIT_A,
    UNIT_W,
)
from ..engine.v201.authorization_requests import CONNECTOR_TYPES, TOKEN_TYPES
from .fields import (
    ALLOW_UNKNOWN_CONNECTOR,
    ATTR_CONNECTOR_ID,
    CONNECTOR,
    bounded_string,
    transaction_id,
    trigger,
)

# A device model variable as the 2.0.1 actions name it (the station's GetVariables limits).
_VARIABLE: VolDictType = {
    vol.Required("component"): bounded_string(50),
    vol.Required("variable"): bounded_string(50),
    vol.Optional("attribute_type", default="Actual"): vol.In(["Actual", "Target", "MinSet", "MaxSet"]),
    vol.Optional("evse"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=0)),
    vol.Optional("component_instance"): bounded_string(50),
    vol.Optional("instance"): bounded_string(50),
}

CHARGER_SCHEMAS: dict[str, VolDictType] = {
    "remote_start_transaction": {
        vol.Optional("id_tag"): bounded_string(20),
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Optional("charging_profile"): dict,
        vol.Optional("id_token_type"): vol.In(TOKEN_TYPES),
    },
    "remote_stop_transaction": {
        vol.Optional("transaction_id"): transaction_id,
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "unlock_connector": {
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "reset": {
        vol.Optional("type", default="soft"): vol.In(["soft", "hard"]),
        vol.Optional("evse_id"): vol.All(vol.Coerce(int), vol.Range(min=1)),
    },
    "change_availability": {
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("type"): vol.In(["operative", "inoperative"]),
    },
    # 2.0.1 names a variable as `Component[instance]@evse.connector/Variable[instance]` (longer than 50).
    "get_configuration": {vol.Optional("keys"): vol.All(cv.ensure_list, [bounded_string(200)])},
    "change_configuration": {
        vol.Required("key"): bounded_string(200),
        vol.Required("value"): vol.All(cv.string, vol.Length(max=500)),
    },
    "get_variables": {vol.Required("variables"): vol.All(cv.ensure_list, vol.Length(min=1), [_VARIABLE])},
    "set_variables": {
        vol.Required("variables"): vol.All(
            cv.ensure_list,
            vol.Length(min=1),
            [{**_VARIABLE, vol.Required("value"): vol.All(cv.string, vol.Length(max=1000))}],
        )
    },
    "get_base_report": {
        vol.Optional("report_base", default="ConfigurationInventory"): vol.In(
            ["ConfigurationInventory", "FullInventory", "SummaryInventory"]
        )
    },
    "clear_cache": {},
    "trigger_message": {
        vol.Required("requested_message"): trigger,
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "set_charging_profile": {
        vol.Optional("limit"): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("unit", default=UNIT_A): vol.In([UNIT_A, UNIT_W]),
        vol.Optional("purpose"): vol.In(list(PURPOSES)),
        vol.Optional("stack_level"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        vol.Optional("kind"): vol.In(list(KINDS)),
        vol.Optional("recurrency"): vol.In(list(RECURRENCY)),
        vol.Optional("duration"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("valid_from"): cv.datetime,
        vol.Optional("valid_to"): cv.datetime,
        vol.Optional("number_phases"): vol.All(vol.Coerce(int), vol.Range(min=1, max=3)),
        vol.Optional("min_charging_rate"): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("charging_profile"): dict,
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
    },
    "clear_charging_profile": {
        vol.Optional("id"): vol.Coerce(int),
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Optional("purpose"): vol.In(list(PURPOSES)),
        vol.Optional("stack_level"): vol.All(vol.Coerce(int), vol.Range(min=0)),
    },
    "get_composite_schedule": {
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("duration"): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("unit"): vol.In([UNIT_A, UNIT_W]),
    },
    # 16 to 20 bytes: checked by authorization_key_value (the message names the rule).
    "set_charger_password": {vol.Required("password"): cv.string},
    "call": {
        vol.Required("action"): cv.string,
        vol.Optional("payload", default=dict): dict,
    },
    "data_transfer": {
        vol.Required("vendor_id"): bounded_string(255),
        vol.Optional("message_id"): bounded_string(50),
        vol.Optional("data"): cv.string,
    },
    "reserve_now": {
        vol.Optional(ATTR_CONNECTOR_ID): CONNECTOR,
        ALLOW_UNKNOWN_CONNECTOR: cv.boolean,
        vol.Required("id_tag"): bounded_string(20),
        vol.Required("expiry_date"): cv.datetime,
        vol.Optional("parent_id_tag"): bounded_string(20),
        vol.Optional("reservation_id"): vol.All(vol.Coerce(int), vol.Range(min=0)),
        # OCPP 2.0.1 only: the id tag's idToken type and the connector type wanted.
        vol.Optional("id_token_type"): vol.In(list(TOKEN_TYPES)),
        vol.Optional("connector_type"): vol.In(list(CONNECTOR_TYPES)),
    },
    "cancel_reservation": {vol.Required("reservation_id"): vol.All(vol.Coerce(int), vol.Range(min=0))},
    "send_local_list": {
        vol.Optional("update_type", default="full"): vol.All(cv.string, vol.Lower, vol.In(["full", "differential"])),
        vol.Optional("local_authorization_list"): vol.All(cv.ensure_list, [dict]),
        vol.Optional("list_version"): vol.All(vol.Coerce(int), vol.Range(min=1)),
    },
    "get_local_list_version": {},
}
