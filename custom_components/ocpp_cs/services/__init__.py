"""Actions of the ocpp_cs domain: one static table, registered once in `async_setup`.

`device_id` names the charger (or one of its connectors) of whichever entry it belongs to,
so with several entries loaded a command always reaches the charger that was named. Fields
are validated in the handlers (not by Home Assistant) so that every error is translated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.helpers.typing import VolDictType
import probatio as vol

from ..const import DOMAIN
from ..errors import translate_errors
from ..ports import Hub
from . import authorization, charger, charging_profiles, firmware, history, id_tags, security, statements
from .firmware import FIRMWARE_SCHEMAS
from .history import Selection, resolve_selection
from .id_tags import ID_TAG_SCHEMAS, resolve_hub
from .schemas import CHARGER_SCHEMAS
from .security import SECURITY_SCHEMAS
from .targets import Target, resolve_target, validated


@dataclass(frozen=True, slots=True)
class ChargerAction:
    """An action for one charger or connector (`device_id`)."""

    schema: VolDictType
    handler: Callable[[Target], Awaitable[dict[str, Any]]]
    response: SupportsResponse = SupportsResponse.OPTIONAL

    async def run(self, hass: HomeAssistant, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Find the charger, validate the fields and send."""
        return await self.handler(resolve_target(hass, name, self.schema, data))


@dataclass(frozen=True, slots=True)
class EntryAction:
    """An action on an entry's id tag list (`config_entry_id`, or a `device_id` of the entry)."""

    schema: vol.Schema
    handler: Callable[[Hub, dict[str, Any]], dict[str, Any]]
    response: SupportsResponse = SupportsResponse.OPTIONAL

    async def run(self, hass: HomeAssistant, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate the fields, find the entry and edit its list."""
        fields = validated(name, self.schema, data)
        return self.handler(resolve_hub(hass, fields), fields)


@dataclass(frozen=True, slots=True)
class HistoryAction:
    """An action on the charging history of an entry, charger or connector."""

    handler: Callable[[HomeAssistant, Selection], Awaitable[dict[str, Any]]]
    response: SupportsResponse = SupportsResponse.OPTIONAL

    async def run(self, hass: HomeAssistant, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """Validate the filters, find what they select and answer."""
        return await self.handler(hass, resolve_selection(hass, name, data))


type Action = ChargerAction | EntryAction | HistoryAction | statements.StatementAction


# The fields of every charger action, by feature.
_CHARGER_FIELDS: Mapping[str, VolDictType] = {**CHARGER_SCHEMAS, **FIRMWARE_SCHEMAS, **SECURITY_SCHEMAS}


def _charger(
    name: str,
    handler: Callable[[Target], Awaitable[dict[str, Any]]],
    response: SupportsResponse = SupportsResponse.OPTIONAL,
) -> ChargerAction:
    return ChargerAction(_CHARGER_FIELDS[name], handler, response)


# Every action of the domain, read top to bottom; nothing adds to it later.
ACTIONS: Mapping[str, Action] = MappingProxyType(
    {
        # Core profile, configuration and the charger's password (charger.py).
        "remote_start_transaction": _charger("remote_start_transaction", charger.remote_start),
        "remote_stop_transaction": _charger("remote_stop_transaction", charger.remote_stop),
        "unlock_connector": _charger("unlock_connector", charger.unlock),
        "reset": _charger("reset", charger.reset),
        "change_availability": _charger("change_availability", charger.change_availability),
        "get_configuration": _charger("get_configuration", charger.get_configuration),
        "change_configuration": _charger("change_configuration", charger.change_configuration),
        # The OCPP 2.0.1 device model (charger.py; commands201.py).
        "get_variables": _charger("get_variables", charger.get_variables, SupportsResponse.ONLY),
        "set_variables": _charger("set_variables", charger.set_variables),
        "get_base_report": _charger("get_base_report", charger.get_base_report, SupportsResponse.ONLY),
        "clear_cache": _charger("clear_cache", charger.clear_cache),
        "trigger_message": _charger("trigger_message", charger.trigger_message),
        "data_transfer": _charger("data_transfer", charger.data_transfer),
        "call": _charger("call", charger.call_action),
        "set_charger_password": _charger("set_charger_password", charger.set_charger_password),
        # Smart charging (charging_profiles.py).
        "set_charging_profile": _charger("set_charging_profile", charging_profiles.set_charging_profile),
        "clear_charging_profile": _charger("clear_charging_profile", charging_profiles.clear_charging_profile),
        "get_composite_schedule": _charger("get_composite_schedule", charging_profiles.get_composite_schedule),
        # Reservations and local authorization lists (authorization.py).
        "reserve_now": _charger("reserve_now", authorization.reserve_now),
        "cancel_reservation": _charger("cancel_reservation", authorization.cancel_reservation),
        "send_local_list": _charger("send_local_list", authorization.send_local_list),
        "get_local_list_version": _charger("get_local_list_version", authorization.get_local_list_version),
        # Firmware Management and the security extension's logs (firmware.py).
        "get_diagnostics": _charger("get_diagnostics", firmware.get_diagnostics),
        "update_firmware": _charger("update_firmware", firmware.update_firmware),
        "signed_update_firmware": _charger("signed_update_firmware", firmware.signed_update_firmware),
        "get_log": _charger("get_log", firmware.get_log),
        # The security extension's certificates (security.py).
        "install_certificate": _charger("install_certificate", security.install_certificate),
        "certificate_signed": _charger("certificate_signed", security.certificate_signed),
        "get_installed_certificate_ids": _charger(
            "get_installed_certificate_ids", security.get_installed_certificate_ids
        ),
        "delete_certificate": _charger("delete_certificate", security.delete_certificate),
        "extended_trigger_message": _charger("extended_trigger_message", security.extended_trigger_message),
        # The entry's id tags (id_tags.py).
        "add_id_tag": EntryAction(ID_TAG_SCHEMAS["add_id_tag"], id_tags.add_id_tag),
        "remove_id_tag": EntryAction(ID_TAG_SCHEMAS["remove_id_tag"], id_tags.remove_id_tag),
        # Charging history (history.py).
        "get_transactions": HistoryAction(history.get_transactions, SupportsResponse.ONLY),
        "export_transactions": HistoryAction(history.export_transactions),
        # Costs (statements.py).
        "get_statement": statements.StatementAction(),
    }
)


@translate_errors
async def _async_handle(hass: HomeAssistant, name: str, call: ServiceCall) -> ServiceResponse:
    answer = await ACTIONS[name].run(hass, name, dict(call.data))
    return answer if call.return_response else None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action once, for every entry."""
    for name, action in ACTIONS.items():
        handle = partial(_async_handle, hass, name)
        hass.services.async_register(DOMAIN, name, handle, supports_response=action.response)
