"""Target resolution: the entry, charger and connector an action names, of whichever entry loaded it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.typing import VolDictType
import probatio as vol

from ..const import DOMAIN
from ..engine.central import CentralSystem
from ..engine.state import ChargerState
from ..errors import invalid
from ..ports import Hub
from ..runtime import OcppRuntime
from .fields import ATTR_ALLOW_UNKNOWN_CONNECTOR, ATTR_CONNECTOR_ID, ATTR_DEVICE_ID


def loaded_runtime(hass: HomeAssistant, entry_id: str) -> OcppRuntime | None:
    """Return the runtime data of a loaded entry of this domain, None for any other entry."""
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        if entry.entry_id == entry_id and isinstance(entry.runtime_data, OcppRuntime):
            return entry.runtime_data
    return None


def charger_of_identifier(central: CentralSystem, identifier: str) -> tuple[str, int | None] | None:
    """Return the charger (and connector) a device identifier names: `<id>` or `<id>_<connector>`."""
    if identifier in central.chargers:
        return identifier, None
    charge_point_id, _, suffix = identifier.rpartition("_")
    if charge_point_id in central.chargers and suffix.isdigit():
        return charge_point_id, int(suffix)
    return None


def single_device_id(value: Any) -> str | None:
    """Return the one device id of a `device_id` field (a string or a one-element list)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) and value else None


def validated(action: str, schema: VolDictType | vol.Schema, fields: dict[str, Any]) -> dict[str, Any]:
    """Return an action's fields validated by its schema; a translated error names the problem."""
    try:
        data: dict[str, Any] = (schema if isinstance(schema, vol.Schema) else vol.Schema(schema))(fields)
    except vol.Invalid as err:
        raise invalid("invalid_field", action=action, error=str(err)) from err
    return data


@dataclass(frozen=True, slots=True)
class Target:
    """The charger (and connector) an action names, with its validated fields."""

    runtime: OcppRuntime
    charge_point_id: str
    device_connector_id: int | None
    data: dict[str, Any]

    @property
    def hub(self) -> Hub:
        """Return the hub of the charger's entry."""
        return self.runtime.hub

    @property
    def charger(self) -> ChargerState:
        """Return the charger's state."""
        return self.hub.central.chargers[self.charge_point_id]

    def connector_id(self, *, default: int | None, minimum: int = 1) -> int | None:
        """
        Return the connector: the field, else the connector device, else `default`; validated.

        One the charger has not reported is refused unless the caller allows unknown connectors;
        even then not above the highest id a charger's messages may name (`max_connector_id`).
        """
        explicit = self.data.get(ATTR_CONNECTOR_ID)
        if explicit is not None and self.device_connector_id is not None and explicit != self.device_connector_id:
            raise invalid(
                "connector_mismatch", connector_id=explicit, device_connector_id=self.device_connector_id
            )
        connector_id = explicit if explicit is not None else self.device_connector_id
        if connector_id is None:
            connector_id = default
        if connector_id is None:
            return None
        if connector_id < minimum:
            raise invalid("connector_zero")
        maximum = self.hub.central.max_connector_id(self.charge_point_id)
        if connector_id > maximum:
            raise invalid(
                "connector_above_maximum",
                charge_point_id=self.charge_point_id,
                connector_id=connector_id,
                maximum=maximum,
            )
        known = self.charger.number_of_connectors
        if known > 0 and connector_id > known and not self.data.get(ATTR_ALLOW_UNKNOWN_CONNECTOR):
            raise invalid(
                "invalid_connector", charge_point_id=self.charge_point_id, connector_id=connector_id, connectors=known
            )
        return connector_id

    def require_profile(self, profile: str, action: str) -> None:
        """Refuse an action the charger's SupportedFeatureProfiles says it cannot do."""
        if not self.charger.supports(profile):
            raise invalid(
                "feature_not_supported", charge_point_id=self.charge_point_id, action=action, profile=profile
            )


def resolve_target(hass: HomeAssistant, action: str, schema: VolDictType, service_data: dict[str, Any]) -> Target:
    """Validate the action's fields and find the charger its `device_id` names."""
    device_id = single_device_id(service_data.get(ATTR_DEVICE_ID))
    if device_id is None:
        raise invalid("device_required")
    data = validated(action, schema, {k: v for k, v in service_data.items() if k != ATTR_DEVICE_ID})
    device = dr.async_get(hass).async_get(device_id, include_child_devices=False)
    if device is None:
        raise invalid("unknown_device", device_id=device_id)
    runtime = loaded_runtime(hass, device.config_entry_id) if device.config_entry_id else None
    if runtime is not None:
        for domain, identifier in device.identifiers:
            found = charger_of_identifier(runtime.hub.central, identifier) if domain == DOMAIN else None
            if found is not None:
                return Target(runtime, found[0], found[1], data)
    raise invalid("unknown_device", device_id=device_id)
