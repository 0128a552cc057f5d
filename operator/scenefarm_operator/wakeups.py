"""Wake-up signals from child events (Jobs, Pods) to the reconcile loop of their request."""

from __future__ import annotations

import asyncio
import collections
import contextlib

RequestKey = tuple[str, str]  # (namespace, request label value)


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[RequestKey, asyncio.Event] = collections.defaultdict(asyncio.Event)

    def wake(self, key: RequestKey) -> None:
        self._events[key].set()

    async def wait(self, key: RequestKey, timeout: float) -> None:
        event = self._events[key]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    def drop(self, key: RequestKey) -> None:
        self._events.pop(key, None)
