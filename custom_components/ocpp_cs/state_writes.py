"""
Coalesced state writes for entities whose values can arrive many times a second.

A charger sends MeterValues every few seconds in normal operation, but some send them as
fast as they are answered (or replay hundreds after being offline), and a busy site has
thousands of meter sensors. Each state write costs Home Assistant far more than the message
that caused it (the state machine, the event bus, the recorder's database row), so a meter
sensor writes at most once per `spacing`: the first change after a quiet spell is written at
once; changes that follow within the spacing become one write at its end, with the newest
value. No value is lost: the engine keeps every reading, and the last one is always written.

The spacing is `interval` (half a second), or longer when the entry has so many coalescing
entities that they could write more than `budget` states a second between them: 200 chargers
with 11 meter sensors each write every 11 s at most. Whatever the number of chargers and
however fast they send, the entry's meter writes stay within the budget.

Due writes are done a few at a time (`CHUNK`), letting the event loop run between chunks: a
thousand writes falling due together must not hold up the answers to the chargers (each write
is ~0.1 ms of Home Assistant's time; a thousand at once was a 100 ms stall).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN


class CoalescingEntity(Protocol):
    """An entity whose writes are coalesced (entity.OcppEntity): what StateWrites uses of it."""

    hass: Any
    platform: Any
    last_state_write: float

    def write_state_if_changed(self, *, force: bool = False) -> None:
        """Write the state unless it is what was written last."""

# Seconds between two writes of one meter sensor (at least).
DEFAULT_INTERVAL = 0.5
# State writes a second that all coalescing entities of an entry may make between them.
DEFAULT_BUDGET = 200.0
# Writes due within this fraction of the spacing, but no more than BATCH_SECONDS, are done
# together (fewer wake-ups; a wider window bunches writes that were spread out) ...
_BATCH = 0.2
BATCH_SECONDS = 0.05
# ... at most this many in one turn of the event loop.
CHUNK = 20


class StateWrites:
    """Per entry: the pending writes of coalescing entities and the task that does them."""

    def __init__(
        self, hass: HomeAssistant, interval: float = DEFAULT_INTERVAL, budget: float = DEFAULT_BUDGET
    ) -> None:
        """Create an idle coalescer."""
        self.hass = hass
        self.interval = interval
        self.budget = budget
        self._entities: set[CoalescingEntity] = set()
        self._due: dict[CoalescingEntity, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def spacing(self) -> float:
        """Return the seconds between two writes of one coalescing entity."""
        return max(self.interval, len(self._entities) / self.budget)

    @callback
    def register(self, entity: CoalescingEntity) -> None:
        """Count a coalescing entity (added to Home Assistant)."""
        self._entities.add(entity)

    @callback
    def unregister(self, entity: CoalescingEntity) -> None:
        """Forget an entity that goes away, and its pending write."""
        self._entities.discard(entity)
        self._due.pop(entity, None)

    @callback
    def request(self, entity: CoalescingEntity) -> None:
        """Write the entity's state now, or at the end of its spacing when it wrote recently."""
        if entity in self._due or self._stopped:
            return
        now = self.hass.loop.time()
        due = entity.last_state_write + self.spacing
        if due <= now:
            entity.write_state_if_changed()
            return
        self._due[entity] = due
        if self._task is None:
            # A tracked task (not a timer): `async_block_till_done` waits for pending writes.
            self._task = self.hass.async_create_task(self._flush(), f"{DOMAIN} state writes", eager_start=False)

    @callback
    def cancel(self, entity: CoalescingEntity) -> None:
        """Forget a pending write (the entity writes now, or goes away)."""
        self._due.pop(entity, None)

    @callback
    def stop(self) -> None:
        """Drop every pending write and end the task (the entry unloads)."""
        self._stopped = True
        self._due.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def pending(self) -> int:
        """Return how many writes are waiting."""
        return len(self._due)

    async def _flush(self) -> None:
        loop = self.hass.loop
        try:
            while self._due:
                first = min(self._due.values())
                await asyncio.sleep(max(0.0, first - loop.time()))
                horizon = loop.time() + min(self.spacing * _BATCH, BATCH_SECONDS)
                ready = [entity for entity, due in self._due.items() if due <= horizon]
                ready.sort(key=self._due.__getitem__)
                for start in range(0, len(ready), CHUNK):
                    if start:
                        await asyncio.sleep(0)  # let the chargers' messages in
                    for entity in ready[start : start + CHUNK]:
                        # Written meanwhile (an entity that writes now cancels its pending write),
                        # and asked again since, for later than this window?
                        due = self._due.get(entity)
                        if due is None or due > horizon:
                            continue
                        del self._due[entity]
                        if entity.hass is not None and entity.platform is not None:
                            entity.write_state_if_changed()
        finally:
            if self._task is asyncio.current_task():
                self._task = None
