"""`scenefarm get [NAME...]` and `scenefarm list`: a table for people, the objects for scripts.

`-o wide` adds the priority, the batch, the scene rendering now, and where the video and its
poster are; `-l SELECTOR` and `--batch B` select by label (a batch also gets a one-line
summary); `-w` keeps printing a row for each change, as `kubectl get -w` does, until Ctrl-C.
A stalled request gets a line under the table saying why (its ETA reads "unknown").
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lightkube import operators

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import UsageError
from scenefarm_cli.output import Output, age, eta, stall, table
from scenefarm_cli.resources import VideoRequest
from scenefarm_cli.show.events import WatchEnded, ctrl_c, next_event, pump
from scenefarm_cli.show.summary import one_line
from scenefarm_cli.videorequests import as_dict, get, list_all
from scenefarm_contract import phases
from scenefarm_contract.keys import BATCH_LABEL

WIDE = ["PRIORITY", "BATCH", "CURRENT", "VIDEO", "POSTER"]


def rows(
    requests: Sequence[Mapping[str, Any]],
    namespaces: bool = False,
    now: dt.datetime | None = None,
    wide: bool = False,
) -> tuple[list[str], list[list[str]]]:
    now = now or dt.datetime.now(dt.UTC)
    with_eta = any((r.get("status") or {}).get("estimatedCompletionTime") for r in requests)
    headers = [*(["NAMESPACE"] if namespaces else []), "NAME", "PHASE", "PROGRESS", "SCENES"]
    headers += [*(["ETA"] if with_eta else []), "AGE", *(WIDE if wide else [])]
    return headers, [row(r, namespaces, with_eta, now, wide) for r in requests]


def row(
    request: Mapping[str, Any], namespaces: bool, with_eta: bool, now: dt.datetime, wide: bool = False
) -> list[str]:
    meta, status = request["metadata"], request.get("status") or {}
    scenes = f"{status.get('scenesSucceeded') or 0}/{status.get('scenesTotal') or 0}"
    if status.get("scenesFailed"):
        scenes += f" ({status['scenesFailed']} failed)"
    cells = [*([meta.get("namespace", "")] if namespaces else []), meta["name"]]
    cells += [status.get("phase") or phases.PENDING, f"{int(status.get('progress') or 0)}%", scenes]
    cells += [*([eta(status, now)] if with_eta else []), age(meta.get("creationTimestamp"), now)]
    if wide:
        output = status.get("output") or {}
        cells += [
            str((request.get("spec") or {}).get("priority") or 0),
            (meta.get("labels") or {}).get(BATCH_LABEL) or "-",
            status.get("currentScene") or "-",
            output.get("uri") or "-",
            output.get("poster") or "-",
        ]
    return cells


def scene_files(request: Mapping[str, Any]) -> list[str]:
    """`NAME: scene 0 intro: video URI, poster URI` for each scene with a stored video."""
    name = request["metadata"]["name"]
    lines = []
    for scene in (request.get("status") or {}).get("scenes") or []:
        if scene.get("artifact"):
            text = f"{name}: scene {scene.get('index')} {scene.get('name')}: video {scene['artifact']}"
            lines.append(text + (f", poster {scene['poster']}" if scene.get("poster") else ""))
    return lines


def stalls(requests: Sequence[Mapping[str, Any]]) -> list[str]:
    """`NAME: stalled: Reason: message` for each request that cannot go on by itself (its ETA
    reads "unknown"): what the table alone cannot say."""
    lines = []
    for request in requests:
        stuck = stall(request.get("status") or {})
        if stuck:
            lines.append(f"{request['metadata']['name']}: stalled: {one_line(stuck)}")
    return lines


def selector(text: str | None) -> dict[str, Any] | None:
    """kubectl's equality-based label selector (`a=b,c!=d,e,!f`) for lightkube's `labels`."""
    if not text:
        return None
    result: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",")):
        if "!=" in part:
            key, value = part.split("!=", 1)
            result[key.strip()] = operators.not_equal(value.strip())
        elif "=" in part:
            key, value = part.replace("==", "=").split("=", 1)
            result[key.strip()] = value.strip()
        elif part.startswith("!"):
            result[part[1:].strip()] = operators.not_exists()
        elif part and " " not in part and "(" not in part:
            result[part] = operators.exists()
        else:
            raise UsageError(
                f"cannot read the selector {text!r}: use key=value, key!=value, key or !key, comma-separated"
            )
    return result


def batch_summary(batch: str, requests: Sequence[Mapping[str, Any]]) -> str:
    """One line: how many requests, in which phases, and how many scenes are done."""
    counts = collections.Counter(
        str((r.get("status") or {}).get("phase") or phases.PENDING) for r in requests
    )
    done = sum(int((r.get("status") or {}).get("scenesSucceeded") or 0) for r in requests)
    total = sum(int((r.get("status") or {}).get("scenesTotal") or 0) for r in requests)
    by_phase = ", ".join(f"{n} {phase}" for phase, n in sorted(counts.items()))
    return f"batch {batch}: {len(requests)} requests: {by_phase}; {done}/{total} scenes done"


def show(
    conn: Connection,
    names: list[str],
    out: Output,
    fmt: str | None,
    all_namespaces: bool,
    *,
    labels: str | None = None,
    batch: str | None = None,
    watch: bool = False,
) -> int:
    wide = fmt == "wide"
    wanted = selector(labels) or {}
    if batch:
        wanted[BATCH_LABEL] = batch
    if names and wanted:
        raise UsageError("name requests, or select them with -l/--batch, not both")
    if names:
        requests = [get(conn, name) for name in names]
    else:
        requests = sorted(
            list_all(conn, all_namespaces, wanted or None),
            key=lambda r: (r["metadata"].get("namespace", ""), r["metadata"]["name"]),
        )
    if fmt in ("json", "yaml", "name"):
        _for_scripts(out, requests, fmt, single=len(names) == 1)
        return 0
    if not requests and not watch:
        where = "any namespace" if all_namespaces else f"namespace {conn.namespace}"
        what = f" in batch {batch}" if batch else (f" matching {labels}" if labels else "")
        out.err.print(f"No videorequests{what} in {where}.", markup=False, soft_wrap=True)
        return 0
    headers, body = rows(requests, namespaces=all_namespaces, wide=wide)
    out.line(table(headers, body))
    for line in stalls(requests):
        out.line(line)
    if wide and names:  # the files of each scene, one line each (never wrapped: paths paste whole)
        for request in requests:
            for line in scene_files(request):
                out.line(line)
    if batch:
        out.line(batch_summary(batch, requests))
    if watch:
        return _watch(
            conn,
            out,
            (headers, body),
            requests,
            names=names,
            all_namespaces=all_namespaces,
            labels=wanted or None,
            wide=wide,
        )
    return 0


def _for_scripts(out: Output, requests: list[dict[str, Any]], fmt: str, *, single: bool) -> None:
    if fmt == "name":
        for request in requests:
            out.line(f"videorequest/{request['metadata']['name']}")
        return
    out.data(requests[0] if single else {"apiVersion": "v1", "kind": "List", "items": requests}, fmt)


def _watch(
    conn: Connection,
    out: Output,
    table_: tuple[list[str], list[list[str]]],
    requests: Sequence[Mapping[str, Any]],
    *,
    names: list[str],
    all_namespaces: bool,
    labels: dict[str, Any] | None,
    wide: bool,
) -> int:
    """`get -w`: a row for every change after the table, in its columns, until Ctrl-C.

    The watch starts by replaying every object as ADDED: a row equal to the one shown (ages and
    estimates aside) is not printed again."""
    headers, body = table_
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *body, strict=False)]
    with_eta = "ETA" in headers
    key = [i for i, h in enumerate(headers) if h not in ("AGE", "ETA")]
    last = {_id(r): [cells[i] for i in key] for r, cells in zip(requests, body, strict=True)}
    namespace = "*" if all_namespaces else conn.namespace
    fields: dict[str, Any] | None = {"metadata.name": names[0]} if len(names) == 1 else None

    def stream() -> Iterator[dict[str, Any]]:  # read in a daemon thread (events.pump)
        with conn.talking(f"watching videorequests in namespace {conn.namespace}"):
            watch = conn.client().watch(VideoRequest, namespace=namespace, labels=labels, fields=fields)
            for _kind, obj in watch:
                yield as_dict(obj)

    with ctrl_c() as interrupts:
        events = pump(stream)
        try:
            while True:
                request = next_event(events, interrupts)
                if names and request["metadata"]["name"] not in names:
                    continue
                cells = row(request, all_namespaces, with_eta, dt.datetime.now(dt.UTC), wide)
                if last.get(_id(request)) == [cells[i] for i in key]:
                    continue
                last[_id(request)] = [cells[i] for i in key]
                padded = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
                out.line("   ".join(padded).rstrip())
        except (KeyboardInterrupt, WatchEnded):
            return 0


def _id(request: Mapping[str, Any]) -> tuple[str, str]:
    return (request["metadata"].get("namespace", ""), request["metadata"]["name"])
