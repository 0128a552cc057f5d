"""A list-then-watch cache of one resource kind, over lightkube, kept as plain dicts.

The cache is also written through by our own writes (`remember`/`forget`), so a sync right
after a create sees the new Pod even before its watch event arrives — the role the real
controller's "expectations" play.  A write is kept only if its resourceVersion is not older
than what is cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from lightkube import AsyncClient

Obj = dict[str, Any]
Key = tuple[str, str]
OnChange = Callable[[str, Obj], Awaitable[None] | None]

logger = logging.getLogger(__name__)


def key_of(obj: Obj) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def _version(obj: Obj) -> int | None:
    try:
        return int(obj["metadata"].get("resourceVersion") or "")
    except ValueError:
        return None


class Informer:
    """All objects of `resource` in all namespaces, and a callback per change."""

    def __init__(self, client: AsyncClient, resource: Any, on_change: OnChange) -> None:
        self._client = client
        self._resource = resource
        self._on_change = on_change
        self.objects: dict[Key, Obj] = {}
        self.synced = asyncio.Event()

    def remember(self, obj: Obj) -> None:
        key = key_of(obj)
        old = self.objects.get(key)
        if old is not None and old["metadata"].get("uid") == obj["metadata"].get("uid"):
            old_version, new_version = _version(old), _version(obj)
            if old_version is not None and new_version is not None and new_version < old_version:
                return
        self.objects[key] = obj

    def forget(self, key: Key) -> None:
        self.objects.pop(key, None)

    async def _notify(self, event: str, obj: Obj) -> None:
        result = self._on_change(event, obj)
        if result is not None:
            await result

    async def _list(self) -> str | None:
        listing = self._client.list(self._resource, namespace="*")
        seen: dict[Key, Obj] = {}
        async for item in listing:
            obj = item.to_dict()
            seen[key_of(obj)] = obj
        for key in set(self.objects) - set(seen):
            gone = self.objects.pop(key)
            await self._notify("DELETED", gone)
        for obj in seen.values():
            self.remember(obj)
            await self._notify("ADDED", obj)
        self.synced.set()
        with contextlib.suppress(Exception):
            return listing.resourceVersion
        return None

    async def run(self) -> None:
        """List, then watch from the list's version; on any error start over (level-triggered)."""
        while True:
            try:
                version = await self._list()
                watch = self._client.watch(self._resource, namespace="*", resource_version=version)
                async for event, item in watch:
                    obj = item.to_dict()
                    if event == "DELETED":
                        self.forget(key_of(obj))
                    else:
                        self.remember(obj)
                    await self._notify(event, obj)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server restarting, a broken stream, a 410 Gone
                logger.debug("watch of %s broke (%s); listing again", self._resource.__name__, exc)
                await asyncio.sleep(0.2)
