"""In-memory object storage: one global resourceVersion, a bounded event history, watch fan-out.

With a journal path the store also persists, as etcd does for a real server: every write is
appended to a JSON-lines journal, and a new store on the same path reads it back (objects,
uids, and the resourceVersion counter, which keeps increasing), then compacts it to one line
per object. The event history is not kept: a watch from before the restart gets 410 Gone.

Only storage concerns live here; what a write means (status split, generation, finalizers,
garbage collection, validation) lives in `operations.py`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import copy
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scenefarm_devkit.apiserver.errors import Gone

# (group, plural, namespace or "", name): versions of one kind share storage, like etcd keys.
Key = tuple[str, str, str, str]
# dryRun=All: writes run every step (admission, validation, managedFields) but store nothing.
DRY_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("dry_run", default=False)


@dataclasses.dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    group: str
    plural: str
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


class Subscription:
    """A live feed of the events of one resource; filtered by the consumer."""

    def __init__(self, store: Store, group: str, plural: str) -> None:
        self._store = store
        self.group = group
        self.plural = plural
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def close(self) -> None:
        self._store._subscriptions.discard(self)
        self.queue.put_nowait(None)


class Store:
    def __init__(self, history_size: int = 10_000, journal: Path | None = None) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.by_uid: dict[str, Key] = {}
        self._rv = 1
        self._journal = _Journal(journal, self) if journal is not None else None
        self._history: collections.deque[Event] = collections.deque(maxlen=history_size)
        self._subscriptions: set[Subscription] = set()
        # etcd compaction: watches from a resourceVersion at or below this one get 410 Expired.
        self.compacted_rv = 0
        # Called with (key, old, new) before a write is stored: managedFields bookkeeping.
        self.before_put: Callable[[Key, dict[str, Any] | None, dict[str, Any]], None] | None = None

    @property
    def resource_version(self) -> int:
        return self._rv

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def get(self, key: Key) -> dict[str, Any] | None:
        return self.objects.get(key)

    def scan(self, group: str, plural: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """The objects of one resource (in one namespace), in key order; filter first, sort the hits."""
        hits = [
            (key, obj)
            for key, obj in self.objects.items()
            if key[0] == group and key[1] == plural and (namespace is None or key[2] == namespace)
        ]
        for _, obj in sorted(hits, key=lambda hit: hit[0]):
            yield obj

    def put(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` under a fresh resourceVersion and tell the watchers."""
        old = self.objects.get(key)
        if self.before_put is not None:
            self.before_put(key, old, obj)
        if DRY_RUN.get():
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
            return obj
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        self.objects[key] = obj
        self.by_uid[obj["metadata"]["uid"]] = key
        if self._journal is not None:
            self._journal.append({"rv": rv, "put": list(key), "obj": obj})
        self._emit(
            Event(
                rv,
                "MODIFIED" if old is not None else "ADDED",
                key[0],
                key[1],
                key[2],
                copy.deepcopy(obj),
                old,
            )
        )
        return obj

    def remove(self, key: Key) -> dict[str, Any]:
        if DRY_RUN.get():
            return copy.deepcopy(self.objects[key])
        obj = self.objects.pop(key)
        self.by_uid.pop(obj["metadata"]["uid"], None)
        rv = self.next_rv()
        if self._journal is not None:
            self._journal.append({"rv": rv, "remove": list(key)})
        # The real server reports a deletion with the resourceVersion of the deletion itself.
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(rv)
        self._emit(Event(rv, "DELETED", key[0], key[1], key[2], obj, obj))
        return obj

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        for sub in list(self._subscriptions):
            if sub.group == event.group and sub.plural == event.plural:
                sub.queue.put_nowait(event)

    def subscribe(self, group: str, plural: str, since: int | None) -> tuple[list[Event], Subscription]:
        """Events after `since` still in history (410 Gone if some were dropped), then live ones."""
        backlog: list[Event] = []
        if since is not None:
            oldest = self._history[0].rv if self._history else self._rv + 1
            if since < oldest - 1 and since < self._rv:
                raise Gone(f"too old resource version: {since} ({oldest - 1})")
            if since < self.compacted_rv:
                raise Gone(f"too old resource version: {since} ({self.compacted_rv})")
            backlog = [e for e in self._history if e.rv > since and e.group == group and e.plural == plural]
        sub = Subscription(self, group, plural)
        self._subscriptions.add(sub)
        return backlog, sub

    def compact(self, revision: int) -> None:
        """Forget the history up to `revision`, as the API server's periodic etcd compaction does."""
        self.compacted_rv = max(self.compacted_rv, revision)
        while self._history and self._history[0].rv <= revision:
            self._history.popleft()

    def close_all(self) -> None:
        for sub in list(self._subscriptions):
            sub.close()
        if self._journal is not None:
            self._journal.close()

    def restore(self, records: Iterator[dict[str, Any]]) -> None:
        """Objects and the resourceVersion counter from journal records (no events are sent)."""
        for record in records:
            self._rv = max(self._rv, int(record.get("rv", 0)))
            if "put" in record:
                key: Key = tuple(record["put"])  # type: ignore[assignment]
                self.objects[key] = record["obj"]
                self.by_uid[record["obj"]["metadata"]["uid"]] = key
            elif "remove" in record:
                gone = self.objects.pop(tuple(record["remove"]), None)  # type: ignore[arg-type]
                if gone is not None:
                    self.by_uid.pop(gone["metadata"]["uid"], None)

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> list[tuple[Key, dict[str, Any]]]:
        return [(k, o) for k, o in self.objects.items() if predicate(o)]


class _Journal:
    """The append-only file behind a persistent store; compacted each time it is opened."""

    def __init__(self, path: Path, store: Store) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open(encoding="utf-8") as lines:
                store.restore(json.loads(line) for line in lines if line.strip())
        compacted = path.with_name(path.name + ".tmp")
        with compacted.open("w", encoding="utf-8") as out:
            out.write(json.dumps({"rv": store.resource_version}) + "\n")
            for key, obj in store.objects.items():
                out.write(
                    json.dumps({"rv": int(obj["metadata"]["resourceVersion"]), "put": list(key), "obj": obj})
                )
                out.write("\n")
        os.replace(compacted, path)
        self._file = path.open("a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        if not self._file.closed:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()
