"""Durable saves that many callers share: one write covers every change made before it started."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


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
                    if not current.done():
                        current.set_exception(err)
                        # Nobody may be left to retrieve it (all callers cancelled): no warning.
                        current.exception()
                else:
                    if not current.done():
                        current.set_result(None)
        finally:
            self._runner = None
