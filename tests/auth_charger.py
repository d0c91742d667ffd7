"""A charger with the Local Auth List Management and Reservation profiles, and scenario helpers."""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from .conftest import hub_of
from .control_charger import ControlCharger
from .helpers import wait_for

PROFILES = "Core,LocalAuthListManagement,Reservation,RemoteTrigger,SmartCharging"


class AuthCharger(ControlCharger):
    """Reports the Local Auth List Management and Reservation profiles and their keys."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.local_list = {}
        self.reservations = {}
        self.set_config("SupportedFeatureProfiles", PROFILES)
        self.set_config("LocalAuthListEnabled", "true", readonly=False)
        self.set_config("LocalAuthListMaxLength", "100")
        self.set_config("SendLocalListMaxLength", "100")
        self.set_config("ReserveConnectorZeroSupported", "false")

    def set_config(self, key: str, value: str, *, readonly: bool = True) -> None:
        """Set a configuration key the charger reports in GetConfiguration."""
        self.configuration = [item for item in self.configuration if item["key"] != key]
        self.configuration.append({"key": key, "readonly": readonly, "value": value})

    def set_connectors(self, number: int) -> None:
        """Report `number` connectors (NumberOfConnectors)."""
        self.set_config("NumberOfConnectors", str(number))




async def boot_and_read(
    hass: HomeAssistant, entry: MockConfigEntry, cp: ControlCharger, connectors: int = 1, status: str = "Available"
) -> None:
    """Boot, report every connector's status and wait until the configuration was read."""
    await cp.boot()
    for connector_id in range(connectors + 1):
        await cp.status(connector_id, status)
    charger = hub_of(entry).central.chargers[cp.id]
    await wait_for(lambda: "SupportedFeatureProfiles" in charger.configuration, what="configuration read")
    await hass.async_block_till_done()
