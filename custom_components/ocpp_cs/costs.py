"""
What sessions cost, in Home Assistant (issue 18): prices in, a cost on every history record out.

The engine's `CostLedger` (engine/costs/accounting.py) does the sums; this module feeds it:
- prices: the price sensor's state whenever it changes (and its forecast's steps), or the fixed
  price of the options' Prices step;
- readings: each running transaction's energy so far, whenever the engine announces a change of
  its connector. Home Assistant's clock stamps the readings, the price changes and the stop
  alike, so a charger whose clock is off cannot move energy into another price's interval;
- stops: the history's annotator settles a session when its record is made, once: a replayed
  stop gets the settled cost back and adds to no total again. A reconstructed end settles it
  provisionally; its real stop, if it comes, settles it again (the tag's total corrected).
The ledger and the recent prices go to a Store file of their own
(`.storage/ocpp_cs.<entry id>.costs`), so a restart in the middle of a session keeps its
readings. The `session_cost` and `id_tag_cost_<tag>` sensors (cost_sensor.py) register here
and are written when their figure changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import logging
from typing import Any

from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import CONF_FIXED_PRICE, CONF_PRICE_ENTITY, CONF_SESSION_FEE, DOMAIN
from .engine.costs import CostLedger, PriceInterval, SessionCost, current_price, parse_forecast, to_decimal
from .engine.history import HistoryRecord, tag_key
from .engine.persist import DelayedSave
from .engine.records import TransactionId
from .history import flush_when_stopping
from .ports import Hub
from .settings import entry_config

_LOGGER = logging.getLogger(__name__)

COSTS_STORAGE_VERSION = 1
# Readings go into the ledger at most this often per session (and at every price change, pause
# and stop): the energy between two is spread evenly anyway, and a session of ten hours costs a
# few hundred readings to keep, to save and to sum, not thousands.
READING_SPACING = timedelta(seconds=60)
# The ledger is written at most this long after a change. A crash loses at most this much of the
# running sessions' readings (their stops still settle them, from fewer points); the history
# records, with their costs, are written on their own schedule.
COSTS_SAVE_DELAY = 30.0
_NEVER = datetime.min.replace(tzinfo=UTC)
type SessionKey = tuple[str, TransactionId]


@dataclass(frozen=True, slots=True)
class PriceSource:
    """Where an entry's prices come from: a sensor, a fixed price, or nothing (no costs)."""

    entity_id: str | None
    fixed: Decimal | None
    fee: Decimal

    @property
    def enabled(self) -> bool:
        """Return True when sessions are costed."""
        return self.entity_id is not None or self.fixed is not None


def price_source(config: Mapping[str, Any]) -> PriceSource:
    """Read the Prices step's options (a sensor wins over a fixed price)."""
    entity_id = config.get(CONF_PRICE_ENTITY) or None
    fixed = None if entity_id else to_decimal(config.get(CONF_FIXED_PRICE))
    return PriceSource(entity_id, fixed, to_decimal(config.get(CONF_SESSION_FEE)) or Decimal(0))


def currency_of(unit: Any, default: str) -> str:
    """Return the currency of a price unit such as `EUR/kWh`; `default` for `ct/kWh` or none."""
    if isinstance(unit, str):
        code = unit.split("/", 1)[0].strip()
        # An ISO 4217 code; a subunit (ct, öre, p) is converted to the currency, named by HA's setting.
        if len(code) == 3 and code.isalpha() and code.isupper():
            return code
    return default


def costs_store(hub: Hub) -> Store[dict[str, Any]]:
    """Return the Store of an entry's cost ledger."""
    return Store(hub.hass, COSTS_STORAGE_VERSION, f"{DOMAIN}.{hub.entry.entry_id}.costs")


class CostKeeper:
    """Feeds one entry's cost ledger and keeps its cost sensors (see the module docstring)."""

    def __init__(self, hub: Hub) -> None:
        """Bind to the entry's hub; `async_load` restores the ledger and starts following prices."""
        self.hub = hub
        self.ledger = CostLedger()
        self.source = price_source(entry_config(hub.entry))
        self.currency: str = hub.hass.config.currency
        # The price sensor's forecast (empty without one): the plans use it.
        self.forecast: list[PriceInterval] = []
        # Called with each session settled here the first time (the cost display).
        self.on_settled: list[Callable[[HistoryRecord, SessionCost], None]] = []
        # Sensors that show a connector's session cost and an id tag's total (cost_sensor.py).
        self.connector_entities: dict[tuple[str, int], Entity] = {}
        self.tag_entities: dict[str, Entity] = {}
        self._store = costs_store(hub)
        self._writes = DelayedSave(self._save, COSTS_SAVE_DELAY)
        self._unsubscribe_price: CALLBACK_TYPE | None = None
        # The energy last recorded per running session, and since when it has stayed the same:
        # only changes are kept, but a pause is recorded as one, so its energy is not spread
        # over the time before it.
        self._last: dict[SessionKey, Decimal] = {}
        self._flat_since: dict[SessionKey, datetime] = {}
        # The newest reading not in the ledger yet, and when the last one went in (see READING_SPACING).
        self._pending: dict[SessionKey, tuple[datetime, Decimal]] = {}
        self._recorded_at: dict[SessionKey, datetime] = {}

    @property
    def enabled(self) -> bool:
        """Return True when the entry has a price source."""
        return self.source.enabled

    async def async_load(self) -> None:
        """Restore the ledger and the recent prices; follow the price source and the engine."""
        data = await self._store.async_load() or {}
        self.ledger.restore(data.get("ledger") or {})
        for at, price in data.get("prices") or ():
            self.ledger.prices.record(datetime.fromisoformat(at), Decimal(price))
        self.apply_options()
        self.hub.central.history.set_annotator(self._annotate)
        self.hub.on_change.append(self._changed)

    async def async_flush(self) -> None:
        """Stop following the price sensor and write the ledger now (unload or stop)."""
        if self._unsubscribe_price is not None:
            self._unsubscribe_price()
            self._unsubscribe_price = None
        for key in list(self._pending):
            self._flush(key)
        await self._writes.flush()

    @callback
    def apply_options(self) -> None:
        """Follow the Prices step's options (a new price holds from now on)."""
        self.source = source = price_source(entry_config(self.hub.entry))
        self.ledger.fee = source.fee
        if self._unsubscribe_price is not None:
            self._unsubscribe_price()
            self._unsubscribe_price = None
        self.forecast = []
        self.currency = self.hub.hass.config.currency
        if source.fixed is not None:
            self.ledger.prices.record(dt_util.utcnow(), source.fixed)
        elif source.entity_id is not None:
            self._unsubscribe_price = async_track_state_change_event(
                self.hub.hass, source.entity_id, self._price_event
            )
            self._price_state(self.hub.hass.states.get(source.entity_id))

    @callback
    def _price_event(self, event: Event[EventStateChangedData]) -> None:
        self._price_state(event.data["new_state"])

    def _price_state(self, state: State | None) -> None:
        """Record the sensor's price from now on and take its forecast (unavailable: the last price holds)."""
        if state is None:
            return
        unit = state.attributes.get("unit_of_measurement")
        price = current_price(state.state, state.attributes, unit)
        if price is None:
            return
        self.currency = currency_of(unit, self.hub.hass.config.currency)
        now = dt_util.utcnow()
        forecast = parse_forecast(state.attributes, unit)
        # Only the forecast's future steps: the past is what the sensor said then.
        self.ledger.prices.record_timeline([interval for interval in forecast if interval.start > now])
        # The readings so far went before the change: the energy after it is priced anew.
        for key in list(self._pending):
            self._flush(key)
        self.ledger.prices.record(now, price)
        self._writes.schedule()
        # The plans compare it with the one they planned with (plans.py).
        self.forecast = forecast

    # --- sessions ---------------------------------------------------------------------------

    @callback
    def _changed(self, charge_point_id: str, connector_id: int, keys: frozenset[str]) -> None:
        """Record a running session's energy; refresh the connector's cost sensor."""
        if not self.enabled:
            return
        charger = self.hub.central.chargers.get(charge_point_id)
        connector = charger.connectors.get(connector_id) if charger is not None else None
        if connector is None:
            return
        transaction = connector.transaction
        if transaction is not None:
            key = (charge_point_id, transaction.transaction_id)
            now = dt_util.utcnow()
            if not self.ledger.is_open(key):
                if self.ledger.settled(key) is not None:
                    return
                id_tag = tag_key(transaction.id_tag) if transaction.id_tag else None
                # The charger's start unless its clock is ahead of ours (readings come on our clock).
                self.ledger.start(key, min(transaction.start or now, now), 0, id_tag)
            if not self._reading(key, now, Decimal(str(transaction.energy_wh() or 0))) and "transaction" not in keys:
                return
        self._write(charge_point_id, connector_id)

    def _reading(self, key: SessionKey, now: datetime, energy: Decimal) -> bool:
        """Note a running session's energy now; return True when it went into the ledger."""
        last = self._last.get(key)
        if energy == last:
            self._flat_since.setdefault(key, now)
            return False
        flat = self._flat_since.pop(key, None)
        if flat is not None and last is not None:
            # A pause ended: where it began is a reading, or its energy would be spread over it.
            self._flush(key)
            self._pending[key] = (flat, last)
            self._flush(key)
        self._last[key] = energy
        self._pending[key] = (now, energy)
        if now - self._recorded_at.get(key, _NEVER) < READING_SPACING:
            return False
        self._flush(key)
        return True

    def _flush(self, key: SessionKey) -> None:
        """Put a session's newest reading into the ledger."""
        pending = self._pending.pop(key, None)
        if pending is not None:
            self.ledger.reading(key, *pending)
            self._recorded_at[key] = pending[0]
            self._writes.schedule()

    def _annotate(self, record: HistoryRecord) -> None:
        """Settle a session as its history record is made: the record carries its cost."""
        if not self.enabled:
            return
        key = record.key
        energy = Decimal(str(record.energy_wh or 0))
        self._flush(key)
        last, flat = self._last.pop(key, None), self._flat_since.pop(key, None)
        self._recorded_at.pop(key, None)
        if last is not None and flat is not None:
            self.ledger.reading(key, flat, last)
        # A record whose end was reconstructed is settled provisionally: the real stop, if it comes,
        # replaces the record and settles it again with its energy (the tag's total corrected).
        resettled = record.stop_seen and self.ledger.is_provisional(key)
        result = self.ledger.stop(key, dt_util.utcnow(), energy, final=record.stop_seen)
        if result is None:
            # Never seen running here (a stop without its start, or no ledger kept): its own ends.
            ends = {}
            if record.start is not None and record.stop is not None and record.stop > record.start:
                ends = {record.start: Decimal(0), record.stop: energy}
            id_tag = tag_key(record.id_tag) if record.id_tag else None
            result = self.ledger.reconstruct(key, ends, id_tag, final=record.stop_seen)
        record.cost = float(result.cost)
        record.currency = self.currency
        self._writes.schedule()
        if not (result.first or resettled):
            return
        if result.id_tag is not None and (sensor := self.tag_entities.get(result.id_tag)):
            sensor.async_write_ha_state()
        if resettled:
            self._write(record.charge_point_id, record.connector_id)
        if record.stop_seen:
            # Settled for good (a provisional settlement is not: the charger is told the real cost).
            for listener in self.on_settled:
                listener(record, result)

    # --- reading ----------------------------------------------------------------------------

    def session_cost(self, charge_point_id: str, connector_id: int) -> SessionCost | None:
        """Return the cost of a connector's running session, else of its last one (if known here)."""
        charger = self.hub.central.chargers.get(charge_point_id)
        connector = charger.connectors.get(connector_id) if charger is not None else None
        if connector is None:
            return None
        transaction = connector.transaction or connector.last_transaction
        if transaction is None:
            return None
        key = (charge_point_id, transaction.transaction_id)
        return self.ledger.running_cost(key) or self.ledger.settled(key)

    def tag_cost(self, id_tag: str) -> Decimal:
        """Return what an id tag's sessions cost in all."""
        return self.ledger.tag_cost(tag_key(id_tag))

    def _write(self, charge_point_id: str, connector_id: int) -> None:
        sensor = self.connector_entities.get((charge_point_id, connector_id))
        if sensor is not None and sensor.hass is not None:
            sensor.async_write_ha_state()

    async def _save(self) -> None:
        prices = self.ledger.prices
        prices.forget_before(self.ledger.open_since() or dt_util.utcnow())
        await self._store.async_save(
            {
                "ledger": self.ledger.snapshot(),
                "prices": [[at.isoformat(), str(price)] for at, price in sorted(prices.steps.items())],
            }
        )


async def async_setup_costs(hub: Hub) -> CostKeeper:
    """Load an entry's cost ledger (before its history, whose missed stops it settles)."""
    keeper = CostKeeper(hub)
    await keeper.async_load()
    flush_when_stopping(hub, keeper.async_flush)
    return keeper


async def async_remove_costs(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's cost ledger."""
    await Store[dict[str, Any]](hass, COSTS_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.costs").async_remove()
