"""Admission of scene Jobs: per-request parallelism and a cluster-wide cap, with a fair queue.

The operator is the only writer of scene Jobs, so it keeps the count of running ones in memory,
fed by the Job watch (`observe`) and by its own creations (a reservation until the watch sees
the Job). Requests waiting for a slot queue by priority (desc), then by their longest waiting
scene (longest first, as a render farm starts its longest tasks first), then by creation time;
a request gets slots only when nobody ahead of it is waiting, so a big request cannot take the
slots of those ahead of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from scenefarm_operator.engine.manifests.naming import RequestKey

Order = tuple[
    int, float, str, str
]  # (-priority, -seconds of the longest waiting scene, creationTimestamp, name)


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

    def capacity(self, owner: RequestKey, order: Order) -> int:
        """How many scene Jobs `owner` may start now: free slots not owed to requests ahead of it."""
        ahead = sum(w.wanted for k, w in self._waiting.items() if k != owner and w.order < order)
        return max(0, self.cap - len(self._running) - ahead)

    def reserve(self, owner: RequestKey, order: Order, started: Sequence[str], waiting: int) -> None:
        """`owner` starts these Jobs (counted until the watch sees them end); `waiting` more queue."""
        for job in started:
            self._running[job] = owner
        if waiting > 0:
            self._waiting[owner] = _Waiter(order, waiting)
        else:
            self._waiting.pop(owner, None)

    def acquire(self, owner: RequestKey, order: Order, candidates: Sequence[str]) -> list[str]:
        """Grant some of `candidates` (Job names, in scene order); the rest wait in the queue."""
        granted = list(candidates[: self.capacity(owner, order)])
        self.reserve(owner, order, granted, len(candidates) - len(granted))
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
