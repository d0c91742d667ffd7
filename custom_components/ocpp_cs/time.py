"""Times: `departure_time` per connector, when the `plan` charging mode must be done (plans.py)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .devices import NewEntities
from .plan_entities import DEPARTURE_TIME, DepartureTimeEntity
from .ports import EntityHub
from .runtime import OcppConfigEntry
from .site import SiteManager

PARALLEL_UPDATES = 0


def build_times(site: SiteManager, hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the departure time of a new connector."""
    if new.meter_keys or new.connector_id == 0:
        return
    yield DepartureTimeEntity(hub, site, new.charge_point_id, new.connector_id, DEPARTURE_TIME)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add a departure time to every connector, now and as connectors appear."""
    runtime = entry.runtime_data
    runtime.hub.register_platform(partial(build_times, runtime.site), async_add_entities)
