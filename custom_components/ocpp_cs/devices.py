"""Devices and entities of an entry's chargers: made as chargers, connectors and measurands appear."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .engine.central import CentralSystem
from .engine.state import BootInfo, ChargerState
from .ports import EntityHub


@dataclass(frozen=True, slots=True)
class NewEntities:
    """What appeared: a charger (connector 0), a connector, or meter keys on a connector."""

    charge_point_id: str
    connector_id: int
    meter_keys: tuple[str, ...] = ()


# The central system's own device (entry_device_info).
ENTRY_DEVICE_MANUFACTURER = "ocpp_cs"
ENTRY_DEVICE_MODEL = "OCPP 1.6J central system"

type EntityFactory = Callable[[EntityHub, NewEntities], Iterable[Entity]]


def connector_name_prefix(connector_id: int) -> str:
    """Return the `{connector}` placeholder of a connector's entities on the charger device."""
    return f"Connector {connector_id} "


class HubDevices:
    """The hub's device and entity bookkeeping (hub.OcppHub is made of it)."""

    hass: HomeAssistant
    entry: ConfigEntry[Any]
    central: CentralSystem
    _factories: list[tuple[EntityFactory, AddConfigEntryEntitiesCallback]]
    _populated: set[str]
    # Shared by the dozens of entities of one device (read-only once made): memory per charger.
    _device_infos: dict[tuple[str, int], tuple[tuple[Any, ...], DeviceInfo]]
    _placeholders: dict[str, dict[str, str]]

    # The hub's: tells a connector's entities what changed.
    _notify: Callable[[str, int, frozenset[str]], None]

    def _as_entity_hub(self) -> EntityHub:
        """Return the hub as its entities' factories see it (hub.OcppHub is one)."""
        return cast(EntityHub, self)

    def connector_on_own_device(self, charge_point_id: str, connector_id: int) -> bool:
        """Return True when a connector has a device of its own (chargers with 2+ connectors)."""
        charger = self.central.chargers.get(charge_point_id)
        return connector_id > 0 and charger is not None and charger.number_of_connectors > 1

    def name_prefix(self, charge_point_id: str, connector_id: int) -> str:
        """Return the prefix of a connector entity's name that sits on the charger device."""
        if connector_id == 0 or self.connector_on_own_device(charge_point_id, connector_id):
            return ""
        return connector_name_prefix(connector_id)

    def translation_placeholders(self, charge_point_id: str, connector_id: int) -> dict[str, str]:
        """Return the name placeholders of a connector's entities (one dict per prefix, shared)."""
        prefix = self.name_prefix(charge_point_id, connector_id)
        return self._placeholders.setdefault(prefix, {"connector": prefix})

    def device_info(self, charge_point_id: str, connector_id: int) -> DeviceInfo:
        """Return the device of a charger or connector (the same object for its entities)."""
        charger = self.central.chargers.get(charge_point_id)
        boot = charger.boot if charger else None
        own_device = self.connector_on_own_device(charge_point_id, connector_id)
        signature = (
            own_device,
            (boot.vendor, boot.model, boot.serial_number, boot.firmware_version) if boot else None,
        )
        key = (charge_point_id, connector_id if own_device else 0)
        cached = self._device_infos.get(key)
        if cached is not None and cached[0] == signature and self._charger_device_exists(cached[1]):
            return cached[1]
        info = self._make_device_info(charge_point_id, connector_id, boot, own_device=own_device)
        self._device_infos[key] = (signature, info)
        return info

    def _charger_device_exists(self, info: DeviceInfo) -> bool:
        """Return False when a connector's info links to a charger device that was removed since."""
        via = info.get("via_device_id")
        return via is None or dr.async_get(self.hass).async_get(via, include_child_devices=False) is not None

    def _make_device_info(
        self, charge_point_id: str, connector_id: int, boot: BootInfo | None, *, own_device: bool
    ) -> DeviceInfo:
        info = DeviceInfo(
            identifiers={(DOMAIN, charge_point_id)},
            name=charge_point_id,
            manufacturer=boot.vendor if boot else None,
            model=boot.model if boot else None,
            serial_number=boot.serial_number if boot else None,
            sw_version=boot.firmware_version if boot else None,
        )
        if not own_device:
            return info
        # A connector's device links to its charger's by registry id, so the charger's device
        # is made first (it normally exists already: connector 0's entities come first).
        registry = dr.async_get(self.hass)
        charger_device = registry.async_get_device_by_identifier((DOMAIN, charge_point_id), self.entry.entry_id)
        if charger_device is None:
            charger_device = registry.async_get_or_create(config_entry_id=self.entry.entry_id, **info)
        return DeviceInfo(
            identifiers={(DOMAIN, f"{charge_point_id}_{connector_id}")},
            name=f"{charge_point_id} Connector {connector_id}",
            manufacturer=info.get("manufacturer"),
            model=info.get("model"),
            via_device_id=charger_device.id,
        )

    def entry_device_info(self) -> DeviceInfo:
        """Return the central system's own device, which carries entry-wide entities.

        A service, not hardware: named after the entry (which names its port), made by this
        integration, so its page does not say "unknown manufacturer" beside the chargers'.
        """
        return DeviceInfo(
            identifiers={(DOMAIN, self.entry.entry_id)},
            name=self.entry.title,
            manufacturer=ENTRY_DEVICE_MANUFACTURER,
            model=ENTRY_DEVICE_MODEL,
            entry_type=dr.DeviceEntryType.SERVICE,
        )

    @callback
    def register_platform(self, factory: EntityFactory, add_entities: AddConfigEntryEntitiesCallback) -> None:
        """Add a platform's entities for what is known, and for whatever appears later."""
        self._factories.append((factory, add_entities))
        for charger in self.central.chargers.values():
            if charger.charge_point_id in self._populated:
                add_entities(list(self._entities_for_charger(factory, charger)))

    def _entities_for_charger(self, factory: EntityFactory, charger: ChargerState) -> Iterable[Entity]:
        cp_id = charger.charge_point_id
        for connector in list(charger.connectors.values()):
            hub = self._as_entity_hub()
            yield from factory(hub, NewEntities(cp_id, connector.connector_id))
            if connector.meters:
                yield from factory(hub, NewEntities(cp_id, connector.connector_id, tuple(connector.meters)))

    @callback
    def populate(self) -> None:
        """Create entities for every accepted charger in the restored state."""
        for charger in self.central.chargers.values():
            if charger.accepted:
                self._populate_charger(charger)

    def _populate_charger(self, charger: ChargerState) -> None:
        if charger.charge_point_id in self._populated:
            return
        self._populated.add(charger.charge_point_id)
        for factory, add_entities in self._factories:
            add_entities(list(self._entities_for_charger(factory, charger)))

    def _add(self, new: NewEntities) -> None:
        if new.charge_point_id not in self._populated:
            return
        for factory, add_entities in self._factories:
            entities = list(factory(self._as_entity_hub(), new))
            if entities:
                add_entities(entities)

    def _update_device(self, charger: ChargerState) -> None:
        registry = dr.async_get(self.hass)
        device = registry.async_get_device_by_identifier((DOMAIN, charger.charge_point_id), self.entry.entry_id)
        if device is None:
            return
        boot = charger.boot
        registry.async_update_device(
            device.id,
            manufacturer=boot.vendor,
            model=boot.model,
            serial_number=boot.serial_number,
            sw_version=boot.firmware_version,
        )

    def _move_first_connector(self, charge_point_id: str) -> None:
        """Give connector 1 its own device and move its entities: a second connector appeared.

        The "Connector 1 " part of their names moves to the device's name. Entities in Home
        Assistant rename themselves on the "placement" notice (their state and the registry's
        original name); registry entries of entities that are not added (disabled ones) are
        renamed here, or they would show "Connector 1 ..." on the connector's device until the
        next start registers them again. A name the user gave (the registry's `name`) is theirs
        and is left alone.
        """
        device_registry = dr.async_get(self.hass)
        info = self.device_info(charge_point_id, 1)
        device = device_registry.async_get_or_create(config_entry_id=self.entry.entry_id, **info)
        entity_registry = er.async_get(self.hass)
        unique_prefix = f"{charge_point_id}_1_"
        old_name_prefix = connector_name_prefix(1)
        for entity in er.async_entries_for_config_entry(entity_registry, self.entry.entry_id):
            if not entity.unique_id.startswith(unique_prefix):
                continue
            changes: dict[str, Any] = {}
            if entity.device_id != device.id:
                changes["device_id"] = device.id
            original_name = entity.original_name
            if original_name is not None and original_name.startswith(old_name_prefix):
                changes["original_name"] = original_name.removeprefix(old_name_prefix)
            if changes:
                entity_registry.async_update_entity(entity.entity_id, **changes)
        self._notify(charge_point_id, 1, frozenset({"placement"}))
