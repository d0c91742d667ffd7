"""ocpp_cs: an OCPP 1.6J central system inside Home Assistant."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
import logging
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr, issue_registry as ir
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType

from . import boot, security, transfer_views
from .const import DOMAIN, SERVER_OPTIONS, STORAGE_VERSION
from .cost_display import CostDisplay
from .costs import async_remove_costs, async_setup_costs, price_source
from .engine.central import CentralSystem
from .errors import error, translated
from .expiry import setup_engine_clock
from .history import async_remove_history, async_setup_entry_history
from .hub import OcppHub
from .local_controller import LocalController
from .local_list import LocalListSync
from .plans import PlanKeeper
from .reservations import ReservationTimers
from .runtime import OcppConfigEntry, OcppRuntime
from .services import async_setup_services
from .services.targets import charger_of_identifier
from .settings import entry_config
from .site import SiteManager
from .smart_charging import LimitController
from .troubleshooting import setup_troubleshooting

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TIME,
    Platform.UPDATE,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, for every entry."""
    transfer_views.async_setup(hass)
    async_setup_services(hass)
    return True


# One function, read top to bottom: the order of the steps (state, history, server, clock,
# platforms) is what matters.
async def async_setup_entry(hass: HomeAssistant, entry: OcppConfigEntry) -> bool:
    """Load the state, open the port and create the entities."""
    def other_centrals() -> list[CentralSystem]:
        return [
            other.runtime_data.hub.central
            for other in hass.config_entries.async_loaded_entries(DOMAIN)
            if other.entry_id != entry.entry_id and isinstance(other.runtime_data, OcppRuntime)
        ]

    hub = OcppHub(hass, entry, other_centrals)
    limits = LimitController(hub)
    local_controller = LocalController(hub, limits)
    hub.on_accepted_boot.append(partial(boot.after_accepted_boot, hub, limits))
    hub.on_connected.append(partial(boot.on_connected, hub, limits))
    await hub.async_load()
    # Costs before the history: the stops the history adds on loading are costed too.
    costs = await async_setup_costs(hub)
    history = await async_setup_entry_history(hub)
    setup_troubleshooting(hub)
    runtime = OcppRuntime(
        hub=hub,
        limits=limits,
        local_controller=local_controller,
        local_lists=LocalListSync(hub),
        reservations=ReservationTimers(hub),
        history=history,
        site=SiteManager(hub, limits, PlanKeeper(hub, costs)),
        costs=costs,
        cost_display=CostDisplay(hub, costs),
    )
    runtime.reservations.reschedule()
    # A repair issue when the wss:// certificate is missing or expires (now and daily).
    await security.async_setup_certificate_checks(hass, entry)
    try:
        await hub.async_start(await local_controller.async_start())
    except OSError as err:
        config = entry_config(entry)
        raise translated(
            "cannot_listen", ConfigEntryNotReady, host=config.get("host"), port=config.get("port"), error=err
        ) from err
    entry.runtime_data = runtime
    entry.async_on_unload(setup_engine_clock(hass, hub.central))
    _follow_stop_and_options(hass, entry, runtime)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    hub.populate()
    # After the platforms: the selects and numbers have restored each connector's mode.
    runtime.site.start()
    return True


def _follow_stop_and_options(hass: HomeAssistant, entry: OcppConfigEntry, runtime: OcppRuntime) -> None:
    """Stop with Home Assistant; apply option changes live, or reload for the server's own options."""
    hub = runtime.hub
    server_config = {key: entry_config(entry).get(key) for key in SERVER_OPTIONS}
    costs_enabled = runtime.costs.enabled

    async def _stop_on_ha_stop(_event: Event) -> None:
        await runtime.async_stop()

    # Not async_listen_once: unloading the entry after the stop (the test harness does) would
    # remove a listener that is gone, which Home Assistant logs as an error.
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, _stop_on_ha_stop))

    async def _options_updated(hass: HomeAssistant, entry: OcppConfigEntry) -> None:
        # Policies apply live; only a change of what the server binds to needs a reload,
        # so chargers stay connected when the user edits id tags or policies.
        # The cost sensors exist only with a price source: turning costs on or off reloads too.
        if {key: entry_config(entry).get(key) for key in SERVER_OPTIONS} != server_config or (
            price_source(entry_config(entry)).enabled != costs_enabled
        ):
            # The fallback of chargers raised with the entry's profile goes into the state the
            # unload writes (a new certificate and profile 3 saved together must not lock them out).
            hub.follow_default_security_profile(entry_config(entry))
            hass.config_entries.async_schedule_reload(entry.entry_id)
        else:
            hub.apply_options()
            runtime.site.apply_options()
            runtime.costs.apply_options()

    entry.async_on_unload(entry.add_update_listener(_options_updated))


async def async_unload_entry(hass: HomeAssistant, entry: OcppConfigEntry) -> bool:
    """Close every connection, stop listening and write the state."""
    # Chargers first: a message arriving while the platforms unload would add entities to
    # a platform that is already gone.
    await entry.runtime_data.async_stop()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: OcppConfigEntry) -> None:
    """Forget a removed entry: its stored state and its pending-charger repair issues."""
    await Store[dict[str, Any]](hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}").async_remove()
    await async_remove_history(hass, entry.entry_id)
    await async_remove_costs(hass, entry.entry_id)
    registry = ir.async_get(hass)
    for (domain, issue_id), issue in list(registry.issues.items()):
        if domain == DOMAIN and (issue.data or {}).get("entry_id") == entry.entry_id:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: OcppConfigEntry, device: DeviceEntry
) -> bool:
    """
    Let the user remove a charger that is not connected (it is forgotten), or a stale device.

    The entry's own device carries the entry-wide entities, and a connector goes with its
    charger: both are refused while the entry knows them, with a message that says why.
    """
    hub = entry.runtime_data.hub
    for domain, identifier in device.identifiers:
        if domain != DOMAIN:
            continue
        if identifier == entry.entry_id:
            raise error("remove_entry_device", entry=entry.title)
        charger = hub.central.chargers.get(identifier)
        if charger is not None:
            if charger.connected:
                raise error("remove_connected_charger", charge_point_id=identifier)
            _remove_connector_devices(hass, entry, identifier, [c for c in charger.connectors if c > 0])
            hub.forget_charger(identifier)
            continue
        # A connector's device hangs off its charger's; a stale charger named like a connector
        # (`garage_2` beside `garage`) does not.
        found = charger_of_identifier(hub.central, identifier)
        if device.via_device_id is not None and found is not None:
            raise error("remove_connector_device", charge_point_id=found[0], connector_id=found[1])
    return True


def _remove_connector_devices(
    hass: HomeAssistant, entry: OcppConfigEntry, charge_point_id: str, connector_ids: Iterable[int]
) -> None:
    """Remove the connector devices of a charger that is forgotten (they would be left orphaned)."""
    registry = dr.async_get(hass)
    for connector_id in connector_ids:
        device = registry.async_get_device_by_identifier((DOMAIN, f"{charge_point_id}_{connector_id}"), entry.entry_id)
        if device is not None:
            registry.async_remove_device(device.id)
