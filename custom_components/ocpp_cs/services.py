"""Actions of the ocpp_cs domain, registered once for every entry.

`device_id` names the charger (or one of its connectors) of whichever entry it belongs to,
so with several entries loaded a command always reaches the charger that was named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import VolDictType
from ocpp.v16.enums import MessageTrigger
import voluptuous as vol

from . import commands
from .const import DOMAIN
from .engine.configuration import PROFILE_REMOTE_TRIGGER
from .engine.state import ChargerState
from .hub import OcppHub

ATTR_DEVICE_ID = "device_id"
ATTR_CONNECTOR_ID = "connector_id"

def _trigger(value: Any) -> str:
    """Accept a MessageTrigger in the spec's spelling or in snake_case."""
    text = str(value).replace("_", "").lower()
    for trigger in MessageTrigger:
        if trigger.value.lower() == text:
            return str(trigger.value)
    raise vol.Invalid(f"must be one of {', '.join(t.value for t in MessageTrigger)}")


def _ci_string(length: int) -> vol.All:
    return vol.All(cv.string, vol.Length(min=1, max=length))


_CONNECTOR = vol.All(vol.Coerce(int), vol.Range(min=0))

SCHEMAS: dict[str, VolDictType] = {
    "remote_start_transaction": {
        vol.Optional("id_tag"): _ci_string(20),
        vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1)),
        vol.Optional("charging_profile"): dict,
    },
    "remote_stop_transaction": {
        vol.Optional("transaction_id"): vol.Coerce(int),
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
    },
    "unlock_connector": {vol.Optional(ATTR_CONNECTOR_ID): vol.All(vol.Coerce(int), vol.Range(min=1))},
    "reset": {vol.Optional("type", default="soft"): vol.In(["soft", "hard"])},
    "change_availability": {
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
        vol.Required("type"): vol.In(["operative", "inoperative"]),
    },
    "get_configuration": {vol.Optional("keys"): vol.All(cv.ensure_list, [_ci_string(50)])},
    "change_configuration": {
        vol.Required("key"): _ci_string(50),
        vol.Required("value"): vol.All(cv.string, vol.Length(max=500)),
    },
    "clear_cache": {},
    "trigger_message": {
        vol.Required("requested_message"): _trigger,
        vol.Optional(ATTR_CONNECTOR_ID): _CONNECTOR,
    },
    "data_transfer": {
        vol.Required("vendor_id"): _ci_string(255),
        vol.Optional("message_id"): _ci_string(50),
        vol.Optional("data"): cv.string,
    },
}


def validation_error(key: str, **placeholders: Any) -> ServiceValidationError:
    """Return a translated ServiceValidationError."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={k: str(v) for k, v in placeholders.items()},
    )


@dataclass(frozen=True, slots=True)
class Target:
    """The charger (and connector) an action names, with its validated fields."""

    hub: OcppHub
    charge_point_id: str
    device_connector_id: int | None
    data: dict[str, Any]

    @property
    def charger(self) -> ChargerState:
        """Return the charger's state."""
        return self.hub.central.chargers[self.charge_point_id]

    def connector_id(self, *, default: int | None, minimum: int = 1) -> int | None:
        """Return the connector: the field, else the connector device, else `default`; validated."""
        explicit = self.data.get(ATTR_CONNECTOR_ID)
        if explicit is not None and self.device_connector_id is not None and explicit != self.device_connector_id:
            raise validation_error(
                "connector_mismatch", connector_id=explicit, device_connector_id=self.device_connector_id
            )
        connector_id = explicit if explicit is not None else self.device_connector_id
        if connector_id is None:
            connector_id = default
        if connector_id is None:
            return None
        known = self.charger.number_of_connectors
        if connector_id < minimum or (known > 0 and connector_id > known):
            raise validation_error(
                "invalid_connector", charge_point_id=self.charge_point_id, connector_id=connector_id, connectors=known
            )
        return connector_id

    def require_profile(self, profile: str, action: str) -> None:
        """Refuse an action the charger's SupportedFeatureProfiles says it cannot do."""
        if not self.charger.supports(profile):
            raise validation_error(
                "feature_not_supported", charge_point_id=self.charge_point_id, action=action, profile=profile
            )


def resolve_target(hass: HomeAssistant, action: str, service_data: dict[str, Any]) -> Target:
    """Validate the action's fields and find the charger its `device_id` names."""
    device_id = service_data.get(ATTR_DEVICE_ID)
    if isinstance(device_id, list) and len(device_id) == 1:
        device_id = device_id[0]
    if not isinstance(device_id, str) or not device_id:
        raise validation_error("device_required")
    fields = {k: v for k, v in service_data.items() if k != ATTR_DEVICE_ID}
    try:
        data = vol.Schema(SCHEMAS[action])(fields)
    except vol.Invalid as err:
        raise validation_error("invalid_field", action=action, error=str(err)) from err
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise validation_error("unknown_device", device_id=device_id)
    hubs: list[OcppHub] = [
        entry.runtime_data
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
        if entry.entry_id in device.config_entries
    ]
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        for hub in hubs:
            chargers = hub.central.chargers
            if identifier in chargers:
                return Target(hub, identifier, None, data)
            charge_point_id, _, suffix = identifier.rpartition("_")
            if charge_point_id in chargers and suffix.isdigit():
                return Target(hub, charge_point_id, int(suffix), data)
    raise validation_error("unknown_device", device_id=device_id)


# --- handlers -------------------------------------------------------------------------------

type Handler = Callable[[Target], Awaitable[dict[str, Any]]]


async def _remote_start(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=1)
    return await commands.remote_start(
        target.hub, target.charge_point_id, connector_id, target.data.get("id_tag"), target.data.get("charging_profile")
    )


async def _remote_stop(target: Target) -> dict[str, Any]:
    transaction_id = target.data.get("transaction_id")
    if transaction_id is None:
        connector_id = target.connector_id(default=None)
        open_transactions = [
            c.transaction
            for c in target.charger.connectors.values()
            if c.transaction is not None and (connector_id is None or c.connector_id == connector_id)
        ]
        if not open_transactions:
            raise validation_error("no_transaction", charge_point_id=target.charge_point_id)
        transaction_id = max(open_transactions, key=lambda t: t.transaction_id).transaction_id
    return await commands.remote_stop(target.hub, target.charge_point_id, int(transaction_id))


async def _unlock(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=1)
    assert connector_id is not None
    return await commands.unlock_connector(target.hub, target.charge_point_id, connector_id)


async def _reset(target: Target) -> dict[str, Any]:
    return await commands.reset(target.hub, target.charge_point_id, target.data["type"] == "hard")


async def _change_availability(target: Target) -> dict[str, Any]:
    connector_id = target.connector_id(default=0, minimum=0)
    assert connector_id is not None
    operative = target.data["type"] == "operative"
    return await commands.change_availability(target.hub, target.charge_point_id, connector_id, operative)


async def _get_configuration(target: Target) -> dict[str, Any]:
    return await commands.get_configuration(target.hub, target.charge_point_id, target.data.get("keys"))


async def _change_configuration(target: Target) -> dict[str, Any]:
    return await commands.change_configuration(
        target.hub, target.charge_point_id, target.data["key"], target.data["value"]
    )


async def _clear_cache(target: Target) -> dict[str, Any]:
    return await commands.clear_cache(target.hub, target.charge_point_id)


async def _trigger_message(target: Target) -> dict[str, Any]:
    target.require_profile(PROFILE_REMOTE_TRIGGER, "trigger_message")
    connector_id = target.connector_id(default=None, minimum=0)
    return await commands.trigger_message(
        target.hub, target.charge_point_id, target.data["requested_message"], connector_id or None
    )


async def _data_transfer(target: Target) -> dict[str, Any]:
    return await commands.data_transfer(
        target.hub,
        target.charge_point_id,
        target.data["vendor_id"],
        target.data.get("message_id"),
        target.data.get("data"),
    )


HANDLERS: dict[str, Handler] = {
    "remote_start_transaction": _remote_start,
    "remote_stop_transaction": _remote_stop,
    "unlock_connector": _unlock,
    "reset": _reset,
    "change_availability": _change_availability,
    "get_configuration": _get_configuration,
    "change_configuration": _change_configuration,
    "clear_cache": _clear_cache,
    "trigger_message": _trigger_message,
    "data_transfer": _data_transfer,
}


async def _async_handle(hass: HomeAssistant, action: str, call: ServiceCall) -> ServiceResponse:
    target = resolve_target(hass, action, dict(call.data))
    answer = await HANDLERS[action](target)
    return answer if call.return_response else None


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action once; fields are validated in the handler (translated errors)."""
    for action in HANDLERS:
        hass.services.async_register(
            DOMAIN, action, partial(_async_handle, hass, action), supports_response=SupportsResponse.OPTIONAL
        )
