"""`scenefarm watch NAME...`: follow requests to their end from a Kubernetes watch.

One watch on the namespace's VideoRequests (a field selector when there is one name) feeds a
queue from a background thread; the main thread redraws on each event, so nothing polls the
API. The watch starts with every current object as ADDED, so no change between a read and the
watch is lost. On a terminal: live bars per scene. Otherwise: a plain line for each change.
Exit 0 when every request Succeeded, 1 when one Failed, was Cancelled or deleted.

After a write (`apply --wait`, `submit --wait`) a request counts as finished only once the
operator observed the generation written (`status.observedGeneration`) and reached a terminal
phase for it; until then it shows as Pending, never with the previous attempt's result.
Ctrl-C stops following, leaves the last state on the screen and says the request goes on in
the cluster (exit 130).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lightkube.core.exceptions import ApiError
from lightkube.types import OnErrorAction, OnErrorResult
from rich.console import Group
from rich.live import Live

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import CliError
from scenefarm_cli.output import Output
from scenefarm_cli.resources import VideoRequest
from scenefarm_cli.show import summary
from scenefarm_cli.show.events import Interrupts, ctrl_c, next_event, pump
from scenefarm_cli.show.view import BAR, DELETED, request_view
from scenefarm_cli.videorequests import as_dict, get
from scenefarm_contract import phases

RESUME_TRIES = 5  # watch failures in a row before giving up


class TimedOut(CliError):
    exit_code = 8


INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def follow(
    conn: Connection,
    names: list[str],
    out: Output,
    timeout: float | None = None,
    generations: Mapping[str, int] | None = None,
) -> int:
    """Show `names` until each one ends (at `generations[name]` or later, when given)."""
    wanted = dict(generations or {})
    requests = {name: get(conn, name) for name in names}  # unknown names fail here, clearly
    deadline = None if not timeout else time.monotonic() + timeout
    with ctrl_c() as interrupts:
        interrupted = _show(
            conn, names, out, requests, wanted=wanted, deadline=deadline, interrupts=interrupts
        )
    if interrupted:
        going = [n for n, r in requests.items() if not _finished(r, wanted)]
        if going:
            which = ", ".join(f"videorequest/{n}" for n in going)
            again = f"{out.program} watch {' '.join(going)}"
            out.err.print(
                f"stopped watching; {which} keeps going in the cluster. Follow it again with: {again}",
                markup=False,
                soft_wrap=True,
            )
        return INTERRUPTED
    return 0 if all(_phase(r) == phases.SUCCEEDED for r in requests.values()) else 1


def _show(
    conn: Connection,
    names: list[str],
    out: Output,
    requests: dict[str, dict[str, Any]],
    *,
    wanted: Mapping[str, int],
    deadline: float | None,
    interrupts: Interrupts,
) -> bool:
    """Redraw on each event until every request ends; True when Ctrl-C stopped it."""
    events: queue.Queue[Any] = queue.Queue()
    if not all(_finished(r, wanted) for r in requests.values()):
        events = pump(lambda: _stream(conn, names))
    interrupted = False
    if out.live:
        with Live(console=out.out, refresh_per_second=8, transient=True) as live:
            live.update(_views(requests, out, wanted))
            try:
                _consume(
                    (events, interrupts),
                    requests,
                    wanted,
                    deadline,
                    lambda: live.update(_views(requests, out, wanted)),
                )
            except KeyboardInterrupt:
                interrupted = True
        for request in requests.values():  # the last state stays on the screen
            out.out.print(request_view(shown(request, wanted), out.program, _bar(out)), soft_wrap=True)
        return interrupted
    printed: set[str] = set()
    _print_new(out, requests.values(), printed, wanted)
    try:
        _consume(
            (events, interrupts),
            requests,
            wanted,
            deadline,
            lambda: _print_new(out, requests.values(), printed, wanted),
        )
    except KeyboardInterrupt:
        interrupted = True
    return interrupted


def shown(request: dict[str, Any], wanted: Mapping[str, int]) -> dict[str, Any]:
    """The request as it may be shown: Pending while the operator has not observed the
    generation written, whatever the previous generation ended as."""
    if _phase(request) == DELETED or not _stale(request, wanted):
        return request
    generation = wanted[request["metadata"]["name"]]
    status = {k: v for k, v in (request.get("status") or {}).items() if k not in _RESULT_KEYS}
    status |= {
        "phase": phases.PENDING,
        "message": f"waiting for the operator to take generation {generation}",
    }
    return request | {"status": status}


_RESULT_KEYS = (  # the previous generation's outcome: not news about the one written
    *("phase", "message", "output", "combine", "finishedAt", "progress", "conditions"),
    *("scenes", "scenesSucceeded", "scenesFailed", "currentScene"),
)


def _stale(request: Mapping[str, Any], wanted: Mapping[str, int]) -> bool:
    generation = wanted.get(request["metadata"]["name"])
    observed = int((request.get("status") or {}).get("observedGeneration") or 0)
    return generation is not None and observed < generation


def _consume(
    source: tuple[queue.Queue[Any], Interrupts],
    requests: dict[str, dict[str, Any]],
    wanted: Mapping[str, int],
    deadline: float | None,
    redraw: Any,
) -> None:
    events, interrupts = source
    while not all(_finished(r, wanted) for r in requests.values()):
        try:
            kind, obj = next_event(events, interrupts, deadline)
        except queue.Empty:
            waiting = ", ".join(n for n, r in requests.items() if not _finished(r, wanted))
            raise TimedOut(f"timed out waiting for {waiting}") from None
        name = obj["metadata"]["name"]
        if name not in requests:
            continue
        requests[name] = obj
        if kind == "DELETED":
            obj.setdefault("status", {})
            obj["status"] = dict(obj["status"]) | {"phase": DELETED, "message": "it was deleted"}
        redraw()


def _stream(conn: Connection, names: list[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The watch's events (read in a daemon thread by events.pump)."""
    fields: dict[str, Any] | None = {"metadata.name": names[0]} if len(names) == 1 else None
    with conn.talking(f"watching videorequests in namespace {conn.namespace}"):
        stream = conn.client().watch(VideoRequest, namespace=conn.namespace, fields=fields, on_error=_resume)
        for kind, obj in stream:
            yield kind, as_dict(obj)


def _resume(error: Exception, count: int) -> OnErrorResult:
    """A dropped watch starts again where it was (after a 410 Expired: from the current state);
    refusals, and failures that persist, end the command."""
    if count > RESUME_TRIES or (isinstance(error, ApiError) and error.status.code in (401, 403, 404)):
        return OnErrorResult(OnErrorAction.RAISE)
    return OnErrorResult(OnErrorAction.RETRY, sleep=min(2.0, 0.25 * count))


def _print_new(
    out: Output, requests: Iterable[dict[str, Any]], printed: set[str], wanted: Mapping[str, int]
) -> None:
    """Plain mode: each line of the current state that was not printed before."""
    for request in (shown(r, wanted) for r in requests):
        # A new estimate alone is no news: lines are compared without it, printed with it.
        for key, line in zip(
            summary.lines(request, False), summary.lines(request, True, out.program), strict=True
        ):
            if key not in printed:
                printed.add(key)
                out.line(line)


def _views(requests: dict[str, dict[str, Any]], out: Output, wanted: Mapping[str, int]) -> Group:
    return Group(*(request_view(shown(r, wanted), out.program, _bar(out)) for r in requests.values()))


def _bar(out: Output) -> int:
    return max(8, min(BAR, out.out.width // 4))


def _phase(request: Mapping[str, Any]) -> str:
    return str((request.get("status") or {}).get("phase") or phases.PENDING)


def _finished(request: Mapping[str, Any], wanted: Mapping[str, int] | None = None) -> bool:
    if _phase(request) == DELETED:
        return True
    return _phase(request) in phases.TERMINAL and not _stale(request, wanted or {})
