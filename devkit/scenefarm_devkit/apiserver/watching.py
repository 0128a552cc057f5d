"""Watch streams: initial state or resume from a resourceVersion, selectors, bookmarks, timeouts.

Watch-list (what kubectl 1.36's reflectors use instead of a list): `sendInitialEvents=true` with
`resourceVersionMatch=NotOlderThan` and `allowWatchBookmarks=true` streams the current objects as
ADDED, then one BOOKMARK annotated `k8s.io/initial-events-end: "true"` carrying the resourceVersion
of that state, then live events, as the real server's watch cache serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Mapping
from typing import Any

import aiohttp.web

from scenefarm_devkit.apiserver import errors, selectors, tables
from scenefarm_devkit.apiserver.operations import Api
from scenefarm_devkit.apiserver.resources import ResourceType
from scenefarm_devkit.apiserver.store import Event, Store, Subscription

# How often an idle stream checks whether its client went away (aiohttp does not cancel handlers).
_LIVENESS_PERIOD = 1.0


def _visible_type(event: Event, matches: selectors.Matcher) -> str | None:
    """The event type this watcher sees: objects moving in/out of the selection are ADDED/DELETED."""
    now_in = matches(event.obj)
    if event.type != "MODIFIED":
        return event.type if now_in else None
    was_in = event.old is not None and matches(event.old)
    if now_in:
        return "MODIFIED" if was_in else "ADDED"
    return "DELETED" if was_in else None


class _Stream:
    def __init__(self, request: aiohttp.web.BaseRequest, rt: ResourceType) -> None:
        self.rt = rt
        self.table = tables.wants_table(request.headers.get("Accept", ""))
        self.include = request.query.get("includeObject", "Metadata")
        self.first_table = True
        self.response = aiohttp.web.StreamResponse(status=200)
        self.response.content_type = "application/json"

    def render(self, kind: str, obj: dict[str, Any]) -> bytes:
        body: dict[str, Any] = obj
        if self.table and kind != "BOOKMARK":
            body = tables.table(
                self.rt,
                [obj],
                obj["metadata"]["resourceVersion"],
                self.include,
                with_columns=self.first_table,
            )
            self.first_table = False
        return json.dumps({"type": kind, "object": body}).encode() + b"\n"

    async def send(self, kind: str, obj: dict[str, Any]) -> None:
        await self.response.write(self.render(kind, obj))


INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclasses.dataclass(frozen=True)
class _Params:
    since: int | None
    timeout: float | None
    bookmarks: bool
    initial_events: bool = False  # watch-list: initial state, then the initial-events-end bookmark

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> _Params:
        rv = query.get("resourceVersion", "")
        try:
            since = int(rv) if rv not in ("", "0") else None
            timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        except ValueError as exc:
            raise errors.BadRequest(f"invalid watch parameters: {exc}") from exc
        bookmarks = query.get("allowWatchBookmarks", "") in ("true", "1")
        initial_events = query.get("sendInitialEvents", "") in ("true", "1")
        if "sendInitialEvents" in query:
            _check_watch_list(query, bookmarks)
        if initial_events:
            since = None  # NotOlderThan: the current state is never older than the one asked for
        return cls(since, timeout, bookmarks, initial_events)


def _check_watch_list(query: Mapping[str, str], bookmarks: bool) -> None:
    """The real server's ListOptions validation of sendInitialEvents."""
    causes = []
    if query.get("resourceVersionMatch") != "NotOlderThan":
        causes.append(
            (
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )
        )
    if not bookmarks:
        causes.append(
            ("allowWatchBookmarks", "sendInitialEvents requires setting allowWatchBookmarks to true")
        )
    if causes:
        raise errors.Invalid(
            "; ".join(f"{field}: Forbidden: {message}" for field, message in causes),
            details={
                "causes": [
                    {"reason": "FieldValueForbidden", "field": field, "message": f"Forbidden: {message}"}
                    for field, message in causes
                ]
            },
        )


def _selection(query: Mapping[str, str], namespace: str | None, name: str) -> selectors.Matcher:
    base = selectors.matcher(query.get("labelSelector"), query.get("fieldSelector"))

    def matches(obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata", {})
        if namespace is not None and meta.get("namespace", "") != namespace:
            return False
        return (not name or meta.get("name") == name) and base(obj)

    return matches


async def serve(
    request: aiohttp.web.BaseRequest,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    *,
    store: Store,
    api: Api,
    bookmark_interval: float,
) -> aiohttp.web.StreamResponse:
    """One watch stream, served from the server's store and presented as its API presents objects."""
    params = _Params.parse(request.query)
    matches = _selection(request.query, namespace, name)
    stream = _Stream(request, rt)
    try:
        backlog, sub = store.subscribe(rt.group, rt.plural, params.since)
    except errors.Gone as exc:
        # The real server answers 200 and then one ERROR event carrying the 410 Status.
        await stream.response.prepare(request)
        await stream.send("ERROR", exc.status())
        await stream.response.write_eof()
        return stream.response
    # Taken with the subscription, without awaiting in between: no event can fall into a gap.
    initial: list[tuple[str, dict[str, Any]]] = []
    if params.since is None:
        initial = [("ADDED", o) for o in store.scan(rt.group, rt.plural, namespace) if matches(o)]
    initial += [(kind, e.obj) for e in backlog if (kind := _visible_type(e, matches))]

    state_rv = store.resource_version
    await stream.response.prepare(request)
    try:
        for kind, obj in initial:
            await stream.send(kind, api.present(rt, obj))
        if params.initial_events:
            end = {"resourceVersion": str(state_rv), "annotations": {INITIAL_EVENTS_END: "true"}}
            await stream.send("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": end})
        await _follow(
            request=request,
            stream=stream,
            sub=sub,
            params=params,
            matches=matches,
            store=store,
            api=api,
            bookmark_interval=bookmark_interval,
        )
    except ConnectionError:
        pass  # the client went away; nothing to tell anyone
    finally:
        sub.close()
    with contextlib.suppress(ConnectionError):
        await stream.response.write_eof()
    return stream.response


async def _follow(
    *,
    request: aiohttp.web.BaseRequest,
    stream: _Stream,
    sub: Subscription,
    params: _Params,
    matches: selectors.Matcher,
    store: Store,
    api: Api,
    bookmark_interval: float,
) -> None:
    """Live events until the timeout, the client leaving, or the server shutting down."""
    rt = stream.rt
    deadline = time.monotonic() + params.timeout if params.timeout is not None else math.inf
    next_bookmark = time.monotonic() + bookmark_interval if params.bookmarks else math.inf
    while (now := time.monotonic()) < deadline:
        if request.transport is None or request.transport.is_closing():
            return
        if now >= next_bookmark:
            bookmark = {"resourceVersion": str(store.resource_version)}
            await stream.send(
                "BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": bookmark}
            )
            next_bookmark = now + bookmark_interval
        wait = min(_LIVENESS_PERIOD, deadline - now, next_bookmark - now)
        try:
            event = await asyncio.wait_for(sub.queue.get(), timeout=max(wait, 0.001))
        except TimeoutError:
            continue
        if event is None:
            return  # the server is shutting down
        kind = _visible_type(event, matches)
        if kind is not None:
            await stream.send(kind, api.present(rt, event.obj))
