"""`scenefarm watch NAME...`: follow requests to their end from a Kubernetes watch.

One watch on the namespace's VideoRequests (a field selector when there is one name) feeds a
queue from a background thread; the main thread redraws on each event, so nothing polls the
API. The watch starts with every current object as ADDED, so no change between a read and the
watch is lost. On a terminal: live bars per scene. Otherwise: a plain line for each change.
Exit 0 when every request Succeeded, 1 when one Failed, was Cancelled or deleted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.types import OnErrorAction, OnErrorResult
from rich.console import Group
from rich.live import Live

from ..kube import VideoRequest
from . import summary
from .connection import Connection
from .errors import CliError
from .output import Output
from .videorequests import TERMINAL, as_dict, get
from .view import BAR, request_view

RESUME_TRIES = 5  # watch failures in a row before giving up


class TimedOut(CliError):
    exit_code = 8


def follow(conn: Connection, names: list[str], out: Output, timeout: float | None = None) -> int:
    """Show `names` until each one ends; the exit code says how they ended."""
    requests = {name: get(conn, name) for name in names}  # unknown names fail here, clearly
    deadline = None if not timeout else time.monotonic() + timeout
    events: queue.Queue[Any] = queue.Queue()
    if not all(_finished(r) for r in requests.values()):
        threading.Thread(target=_pump, args=(conn, names, events), daemon=True).start()
    if out.live:
        with Live(console=out.out, refresh_per_second=8, transient=True) as live:
            live.update(_views(requests, out))
            _consume(events, requests, deadline, lambda: live.update(_views(requests, out)))
        for request in requests.values():
            out.out.print(request_view(request, out.program, _bar(out)), soft_wrap=True)
    else:
        printed: set[str] = set()
        _print_new(out, requests.values(), printed)
        _consume(events, requests, deadline, lambda: _print_new(out, requests.values(), printed))
    return 0 if all(_phase(r) == "Succeeded" for r in requests.values()) else 1


def _consume(
    events: queue.Queue[Any], requests: dict[str, dict[str, Any]], deadline: float | None, redraw: Any
) -> None:
    while not all(_finished(r) for r in requests.values()):
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            item = events.get(timeout=wait)
        except queue.Empty:
            waiting = ", ".join(n for n, r in requests.items() if not _finished(r))
            raise TimedOut(f"timed out waiting for {waiting}") from None
        if isinstance(item, BaseException):
            raise item
        kind, obj = item
        name = obj["metadata"]["name"]
        if name not in requests:
            continue
        requests[name] = obj
        if kind == "DELETED":
            obj.setdefault("status", {})
            obj["status"] = dict(obj["status"]) | {"phase": "Deleted", "message": "it was deleted"}
        redraw()


def _pump(conn: Connection, names: list[str], events: queue.Queue[Any]) -> None:
    """The watch, in a daemon thread: every event (or the error that ended it) into `events`."""
    fields: dict[str, Any] | None = {"metadata.name": names[0]} if len(names) == 1 else None
    try:
        with conn.talking(f"watching videorequests in namespace {conn.namespace}"):
            stream = conn.client().watch(
                VideoRequest, namespace=conn.namespace, fields=fields, on_error=_resume
            )
            for kind, obj in stream:
                events.put((kind, as_dict(obj)))
    except BaseException as error:
        events.put(error)


def _resume(error: Exception, count: int) -> OnErrorResult:
    """A dropped watch starts again where it was (after a 410 Expired: from the current state);
    refusals, and failures that persist, end the command."""
    if count > RESUME_TRIES or (isinstance(error, ApiError) and error.status.code in (401, 403, 404)):
        return OnErrorResult(OnErrorAction.RAISE)
    return OnErrorResult(OnErrorAction.RETRY, sleep=min(2.0, 0.25 * count))


def _print_new(out: Output, requests: Iterable[Mapping[str, Any]], printed: set[str]) -> None:
    """Plain mode: each line of the current state that was not printed before."""
    for request in requests:
        # A new estimate alone is no news: lines are compared without it, printed with it.
        for key, line in zip(
            summary.lines(request, False), summary.lines(request, True, out.program), strict=True
        ):
            if key not in printed:
                printed.add(key)
                out.line(line)


def _views(requests: dict[str, dict[str, Any]], out: Output) -> Group:
    return Group(*(request_view(r, out.program, _bar(out)) for r in requests.values()))


def _bar(out: Output) -> int:
    return max(8, min(BAR, out.out.width // 4))


def _phase(request: Mapping[str, Any]) -> str:
    return str((request.get("status") or {}).get("phase") or "Pending")


def _finished(request: Mapping[str, Any]) -> bool:
    return _phase(request) in (*TERMINAL, "Deleted")
