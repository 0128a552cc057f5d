"""Admission of scene Jobs: per-request parallelism and a cluster-wide cap, with a fair queue.

The operator is the only writer of scene Jobs, so it keeps the count of running ones in memory,
fed by the Job watch (`observe`) and by its own creations (a reservation until the watch sees
the Job). Requests waiting for a slot queue by (priority desc, creation time asc); a request
gets slots only when nobody ahead of it is waiting, so a big request cannot starve others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

RequestKey = tuple[str, str]  # (namespace, name)
Order = tuple[int, str, str]  # (-priority, creationTimestamp, name)


@dataclasses.dataclass
class _Waiter:
    order: Order
    wanted: int


class Admission:
    def __init__(self, cap: int, on_free: Callable[[RequestKey], None] = lambda key: None) -> None:
        self.cap = cap
        self._running: dict[str, RequestKey] = {}  # job name -> owner
        self._waiting: dict[RequestKey, _Waiter] = {}
        self._on_free = on_free

    @property
    def running(self) -> int:
        return len(self._running)

    def observe(self, job: str, owner: RequestKey, running: bool) -> None:
        """The watch saw a scene Job: count it while it runs, free its slot when it ends."""
        if running:
            self._running[job] = owner
        elif self._running.pop(job, None) is not None:
            self._wake_head()

    def forget(self, owner: RequestKey) -> None:
        """The request is gone or finished: drop its waits and reservations."""
        self._waiting.pop(owner, None)
        for job in [j for j, o in self._running.items() if o == owner]:
            del self._running[job]
        self._wake_head()

    def acquire(self, owner: RequestKey, order: Order, candidates: Sequence[str]) -> list[str]:
        """Grant some of `candidates` (Job names, in scene order); the rest wait in the queue."""
        if not candidates:
            self._waiting.pop(owner, None)
            return []
        ahead = sum(w.wanted for k, w in self._waiting.items() if k != owner and w.order < order)
        free = max(0, self.cap - len(self._running) - ahead)
        granted = list(candidates[:free])
        for job in granted:
            self._running[job] = owner
        if len(granted) < len(candidates):
            self._waiting[owner] = _Waiter(order, len(candidates) - len(granted))
        else:
            self._waiting.pop(owner, None)
        return granted

    def position(self, owner: RequestKey) -> int | None:
        """1-based place in the queue, None when not waiting."""
        waiter = self._waiting.get(owner)
        if waiter is None:
            return None
        return 1 + sum(1 for w in self._waiting.values() if w.order < waiter.order)

    def _wake_head(self) -> None:
        free = self.cap - len(self._running)
        for key, waiter in sorted(self._waiting.items(), key=lambda kv: kv[1].order):
            if free <= 0:
                break
            self._on_free(key)
            free -= waiter.wanted
