"""Durable saves: shared ones (one write covers every change made before it started) and delayed ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging

_LOGGER = logging.getLogger(__name__)


class SharedSave:
    """
    Run `save` for callers that must not continue before their change is on disk.

    A caller's change is made before it calls `save()`, so any write that *starts* after the
    call covers it. While a write runs, later callers wait for the next one, which starts
    when the running one ends and takes its snapshot then: a hundred chargers starting
    transactions at the same moment cost two writes, not a hundred (each a snapshot of the
    whole state).
    """

    def __init__(self, save: Callable[[], Awaitable[None]]) -> None:
        """Wrap the function that snapshots and writes the state."""
        self._save = save
        self._next: asyncio.Future[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self.writes = 0

    async def save(self) -> None:
        """Return once a write that started after this call has finished (raise if it failed)."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        waiting = self._next
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())
        # Shielded: a caller that is cancelled (its charger went away) must not cancel the write.
        await asyncio.shield(waiting)

    async def _run(self) -> None:
        try:
            while (current := self._next) is not None:
                self._next = None
                try:
                    self.writes += 1
                    await self._save()
                except asyncio.CancelledError:
                    current.cancel()
                    if self._next is not None:
                        self._next.cancel()
                        self._next = None
                    raise
                except Exception as err:  # handed to every caller of this write
                    # Only this loop settles `current` (callers wait through a shield).
                    current.set_exception(err)
                    # Nobody may be left to retrieve it (all callers cancelled): no warning.
                    current.exception()
                else:
                    current.set_result(None)
        finally:
            self._runner = None


class DelayedSave:
    """
    Write soon after a change: never later than `delay` after the first change not on disk.

    A debounce (every change pushes the write back, as `Store.async_delay_save` does) never
    writes while changes keep coming: on a site where some charger stops a session every
    second, the history stayed unwritten for as long as that went on (20 s behind at a kill
    was seen). Here the first unsaved change arms the timer and later ones ride along (the
    write takes its snapshot when it starts), so the file is never more than `delay` plus one
    write behind, however busy the site. Writes never overlap (SharedSave).
    """

    def __init__(self, save: Callable[[], Awaitable[None]], delay: float) -> None:
        """Wrap the function that snapshots and writes; `delay` bounds how stale the file gets."""
        self._shared = SharedSave(save)
        self.delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._writing: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> bool:
        """Return True while a change waits for its write."""
        return self._timer is not None

    def schedule(self) -> None:
        """Note a change: it is written within `delay` seconds."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self._due)

    def _due(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self._write())
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(self) -> None:
        try:
            await self._shared.save()
        except Exception:
            # Nobody waits for a delayed write: log, and let the next change try again.
            _LOGGER.exception("Delayed write failed")

    async def flush(self) -> None:
        """Write now (whatever is pending) and return once it is on disk."""
        self.cancel()
        await self._shared.save()

    def cancel(self) -> None:
        """Forget a pending write (a write already running finishes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
