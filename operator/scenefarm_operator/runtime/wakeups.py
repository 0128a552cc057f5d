"""Wake-up signals to the reconcile loop of a request: child events now, or timers for later."""

from __future__ import annotations

import asyncio
import collections
import contextlib

from scenefarm_operator.engine.manifests.naming import RequestKey


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[RequestKey, asyncio.Event] = collections.defaultdict(asyncio.Event)
        self._timers: dict[RequestKey, asyncio.TimerHandle] = {}

    def wake(self, key: RequestKey) -> None:
        self._events[key].set()

    def wake_later(self, key: RequestKey, delay: float) -> None:
        """Wake `key` after `delay` seconds. One timer per request: the earliest wins, so passes
        that ask again (every reconcile of a request with a deadline) do not pile up timers."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(delay, 0.0)
        pending = self._timers.get(key)
        if pending is not None and not pending.cancelled() and pending.when() <= when:
            return
        if pending is not None:
            pending.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: RequestKey) -> None:
        self._timers.pop(key, None)
        self.wake(key)

    async def wait(self, key: RequestKey, timeout: float) -> None:
        event = self._events[key]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancel
                await event.wait()
        event.clear()

    def drop(self, key: RequestKey) -> None:
        """The request's loop ended: forget its event and its timer."""
        self._events.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
