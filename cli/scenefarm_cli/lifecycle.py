"""`scenefarm delete NAME...` and `scenefarm resubmit NAME [--as NEW]`: a request's end, and a
second life for one that cannot go on (Cancelled is final).

`delete` asks the API server to delete the request and, as `kubectl delete` does, waits until it
is gone: the operator's finalizer removes its Jobs and Pods first. `resubmit` creates a new
request with the same spec and labels (without `cancel`, `suspend` and `retryGeneration`), named
NEW, or NAME-2, NAME-3, ... (the first name that is free).
"""

from __future__ import annotations

import time
from typing import Any

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import UsageError
from scenefarm_cli.names import is_valid_name
from scenefarm_cli.output import Output
from scenefarm_cli.resources import VideoRequest
from scenefarm_cli.show.watch import TimedOut
from scenefarm_cli.submit import Written, submit
from scenefarm_cli.videorequests import find, get, what
from scenefarm_contract.keys import API_VERSION, KIND

POLL_SECONDS = 0.5
DROPPED = ("cancel", "suspend", "retryGeneration")  # what made the old one stop, or retry


def delete(
    conn: Connection, names: list[str], out: Output, *, wait: bool, timeout: float, dry_run: bool = False
) -> int:
    for name in names:
        get(conn, name)  # an unknown name fails before anything is deleted
    for name in names:
        with conn.talking(what(conn, name)):
            conn.client().delete(VideoRequest, name, namespace=conn.namespace, dry_run=dry_run)
        out.line(f"videorequest/{name} deleted" + (" (server dry run)" if dry_run else ""))
    if not wait or dry_run:
        return 0
    deadline = time.monotonic() + timeout
    left = list(names)
    while left:
        left = [name for name in left if find(conn, name) is not None]
        if left and time.monotonic() > deadline:
            which = ", ".join(f"videorequest/{n}" for n in left)
            raise TimedOut(
                f"{which} still there after {timeout:g}s: the operator removes its Jobs first "
                f"(finalizer); see `{out.program} get {left[0]} -o yaml`"
            )
        if left:
            time.sleep(POLL_SECONDS)
    return 0


def resubmit(
    conn: Connection, name: str, new: str | None, out: Output, *, fmt: str | None, dry_run: bool = False
) -> Written:
    old = get(conn, name)
    target = new or _free_name(conn, name)
    if not is_valid_name(target):
        raise UsageError(f"{target!r} is not a valid name")
    spec = {k: v for k, v in (old.get("spec") or {}).items() if k not in DROPPED}
    metadata: dict[str, Any] = {"name": target, "namespace": conn.namespace}
    labels = (old["metadata"].get("labels")) or {}
    if labels:
        metadata["labels"] = dict(labels)
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}
    return submit(conn, body, out, fmt, dry_run)


def _free_name(conn: Connection, name: str) -> str:
    for n in range(2, 100):
        candidate = f"{name}-{n}"
        if find(conn, candidate) is None:
            return candidate
    raise UsageError(f"no free name {name}-2 .. {name}-99; choose one with --as")
