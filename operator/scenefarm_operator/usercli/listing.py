"""`scenefarm get [NAME...]` and `scenefarm list`: a table for people, the objects for scripts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from .connection import Connection
from .output import Output, age, eta, table
from .videorequests import get, list_all


def rows(
    requests: Sequence[Mapping[str, Any]], namespaces: bool = False, now: dt.datetime | None = None
) -> tuple[list[str], list[list[str]]]:
    now = now or dt.datetime.now(dt.UTC)
    with_eta = any((r.get("status") or {}).get("estimatedCompletionTime") for r in requests)
    headers = [*(["NAMESPACE"] if namespaces else []), "NAME", "PHASE", "PROGRESS", "SCENES"]
    headers += [*(["ETA"] if with_eta else []), "AGE"]
    body = []
    for request in requests:
        meta, status = request["metadata"], request.get("status") or {}
        scenes = f"{status.get('scenesSucceeded') or 0}/{status.get('scenesTotal') or 0}"
        if status.get("scenesFailed"):
            scenes += f" ({status['scenesFailed']} failed)"
        row = [*([meta.get("namespace", "")] if namespaces else []), meta["name"]]
        row += [status.get("phase") or "Pending", f"{int(status.get('progress') or 0)}%", scenes]
        row += [*([eta(status, now)] if with_eta else []), age(meta.get("creationTimestamp"), now)]
        body.append(row)
    return headers, body


def show(conn: Connection, names: list[str], out: Output, fmt: str | None, all_namespaces: bool) -> int:
    if names:
        requests = [get(conn, name) for name in names]
    else:
        requests = sorted(
            list_all(conn, all_namespaces),
            key=lambda r: (r["metadata"].get("namespace", ""), r["metadata"]["name"]),
        )
    if fmt in ("json", "yaml"):
        single = len(names) == 1
        out.data(requests[0] if single else {"apiVersion": "v1", "kind": "List", "items": requests}, fmt)
        return 0
    if fmt == "name":
        for request in requests:
            out.line(f"videorequest/{request['metadata']['name']}")
        return 0
    if not requests:
        where = "any namespace" if all_namespaces else f"namespace {conn.namespace}"
        out.err.print(f"No videorequests in {where}.", markup=False, soft_wrap=True)
        return 0
    headers, body = rows(requests, namespaces=all_namespaces)
    out.line(table(headers, body))
    return 0
