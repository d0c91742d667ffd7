"""
Event entities: `id_tag` per connector, so automations can react to an RFID card.

Every id tag a charger presents fires `presented`, then `accepted` or `rejected` by the answer
we gave, with the id tag in the attributes: once per card swipe. A swipe the charger authorized
with Authorize comes again in its StartTransaction (OCPP 1.6 4.1, 4.8); that second message with
the same tag and the same answer fires nothing more (automations and the logbook see the swipe
once). A StartTransaction without an Authorize before it (a charger's local list or cache) fires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import time
from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import EVENT_ID_TAG_PRESENTED
from .devices import NewEntities
from .engine.state import ChargerState
from .entity import OcppEntity, OcppEntityDescription
from .ports import EntityHub
from .runtime import OcppConfigEntry

PARALLEL_UPDATES = 0

EVENT_PRESENTED = "presented"
EVENT_ACCEPTED = "accepted"
EVENT_REJECTED = "rejected"
# How long after an Authorize its StartTransaction counts as the same swipe. The charger sends it
# once the cable is in and the EV ready; 1.6's ConnectionTimeOut (a typical 60-180 s) bounds that.
SAME_SWIPE_SECONDS = 300.0


@dataclass(frozen=True, kw_only=True)
class OcppEventDescription(EventEntityDescription, OcppEntityDescription):
    """An event entity of a connector."""


ID_TAG = OcppEventDescription(
    key="id_tag",
    translation_key="id_tag",
    event_types=[EVENT_PRESENTED, EVENT_ACCEPTED, EVENT_REJECTED],
    always_available=True,
)


def connectors_for(charger: ChargerState, connector_id: int | None) -> set[int]:
    """
    Return the connectors an id tag was presented at.

    StartTransaction names its connector; Authorize does not (OCPP 1.6): then the only
    connector, else the one connector waiting in Preparing, else every connector.
    """
    if connector_id is not None:
        return {connector_id}
    connectors = {c.connector_id for c in charger.connectors.values() if c.connector_id > 0}
    if len(connectors) <= 1:
        return connectors or {1}
    preparing = {
        c.connector_id for c in charger.connectors.values() if c.connector_id > 0 and c.status == "Preparing"
    }
    return preparing if len(preparing) == 1 else connectors


class IdTagEvent(OcppEntity, EventEntity):
    """Fires when an id tag is presented at the connector, and whether it was accepted."""

    entity_description: OcppEventDescription
    # The last Authorize shown here (id tag, answer, monotonic time), until its StartTransaction.
    _authorized: tuple[str, str, float] | None = None

    async def async_added_to_hass(self) -> None:
        """Listen for the presented id tags of this charger."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.hass.bus.async_listen(EVENT_ID_TAG_PRESENTED, self._presented, event_filter=self._is_mine)
        )

    @callback
    def _is_mine(self, event_data: Any) -> bool:
        return bool(event_data.get("charge_point_id") == self.charge_point_id)

    @callback
    def _presented(self, event: Event[Any]) -> None:
        charger = self.hub.central.chargers.get(self.charge_point_id)
        if charger is None or self.connector_id not in connectors_for(charger, event.data.get("connector_id")):
            return
        id_tag = str(event.data["id_tag"])
        status = str(event.data.get("status"))
        source = "authorize" if event.data.get("connector_id") is None else "start_transaction"
        if not self._new_swipe(id_tag, status, source):
            return
        listed = self.hub.central.id_tags.get(id_tag.casefold())
        attributes = {"id_tag": id_tag, "status": status, "name": listed.name if listed else None, "source": source}
        self._trigger_event(EVENT_PRESENTED, attributes)
        self.write_state()
        self._trigger_event(EVENT_ACCEPTED if status == "accepted" else EVENT_REJECTED, attributes)
        self.write_state()


    def _new_swipe(self, id_tag: str, status: str, source: str) -> bool:
        """Return False for the StartTransaction of a swipe this entity already showed (its Authorize)."""
        now = time.monotonic()
        if source == "authorize":
            self._authorized = (id_tag.casefold(), status, now)
            return True
        authorized, self._authorized = self._authorized, None
        return not (
            authorized is not None
            and authorized[:2] == (id_tag.casefold(), status)
            and now - authorized[2] < SAME_SWIPE_SECONDS
        )


def build_events(hub: EntityHub, new: NewEntities) -> Iterable[Entity]:
    """Return the event entities for what appeared (one per connector)."""
    if new.meter_keys or new.connector_id == 0:
        return
    yield IdTagEvent(hub, new.charge_point_id, new.connector_id, ID_TAG)


async def async_setup_entry(
    hass: HomeAssistant, entry: OcppConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the event entities now and for connectors that appear later."""
    entry.runtime_data.hub.register_platform(build_events, async_add_entities)
