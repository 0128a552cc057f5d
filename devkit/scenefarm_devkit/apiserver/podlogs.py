"""`pods/<name>/log`: a container's output as the kubelet serves it through the API server.

The Job runner (the kubelet stand-in) writes each container's stdout+stderr into
`<node root>/<namespace>/<pod>/container.log`; a node root is registered with
`DevCluster.attach_node`. Errors follow the kubelet's wording (400 for a container that is not
there, waiting to start, or has no previous instance). Query parameters: `container`, `follow`,
`previous`, `tailLines`, `limitBytes`, `timestamps`, `sinceSeconds`/`sinceTime` (from the times the
runner recorded, see `logselect.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp.web

from scenefarm_devkit.apiserver import errors, logselect
from scenefarm_devkit.apiserver.store import Store

CONTAINER_LOG = "container.log"
_FOLLOW_PERIOD = 0.1


def pod_dir(roots: Sequence[Path], namespace: str, name: str) -> Path | None:
    """The Pod's directory on the first node that has one; None when no node ran it."""
    for root in roots:
        candidate = Path(root) / namespace / name
        if candidate.is_dir():
            return candidate
    return None


def container_of(pod: dict[str, Any], requested: str) -> dict[str, Any]:
    """The container a log or exec request addresses, or the kubelet's 400."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    name = pod["metadata"]["name"]
    if not requested:
        regular = spec.get("containers") or []
        if len(regular) == 1:
            return dict(regular[0])
        names = " ".join(c.get("name", "") for c in regular)
        raise errors.BadRequest(
            f"a container name must be specified for pod {name}, choose one of: [{names}]"
        )
    for container in containers:
        if container.get("name") == requested:
            return dict(container)
    raise errors.BadRequest(f"container {requested} is not valid for pod {name}")


def container_status(pod: dict[str, Any], container: str) -> dict[str, Any]:
    status = pod.get("status") or {}
    for entry in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        if entry.get("name") == container:
            return dict(entry)
    return {}


def _check_startable(pod: dict[str, Any], container: str, previous: bool) -> None:
    """Raise the kubelet's 400 when there is no log to serve yet."""
    name = pod["metadata"]["name"]
    status = container_status(pod, container)
    if previous:
        if not status.get("restartCount") or not (status.get("lastState") or {}).get("terminated"):
            raise errors.BadRequest(f'previous terminated container "{container}" in pod "{name}" not found')
        return
    state = status.get("state") or {"waiting": {"reason": "ContainerCreating"}}
    if "waiting" in state:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise errors.BadRequest(f'container "{container}" in pod "{name}" is waiting to start: {reason}')


def _int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise errors.BadRequest(f"invalid {name}: {raw!r}") from exc
    if value < 0:
        raise errors.BadRequest(f"{name}: Invalid value: {value}: must be greater than or equal to 0")
    return value


def _finished(store: Store, key: tuple[str, str, str, str], uid: str, container: str) -> bool:
    """True once the container terminated or the Pod is gone (or replaced by another of that name)."""
    pod = store.get(key)
    if pod is None or pod["metadata"].get("uid") != uid:
        return True
    return "terminated" in (container_status(pod, container).get("state") or {})


async def serve(
    store: Store, roots: Sequence[Path], request: aiohttp.web.BaseRequest, namespace: str, name: str
) -> aiohttp.web.StreamResponse:
    key = ("", "pods", namespace, name)
    pod = store.get(key)
    if pod is None:
        raise errors.not_found("pods", "", name)
    query = request.query
    container = container_of(pod, query.get("container", ""))["name"]
    previous = query.get("previous", "") in ("true", "1")
    tail, limit = _int(query, "tailLines"), _int(query, "limitBytes")
    _check_startable(pod, container, previous)
    directory = pod_dir(roots, namespace, name)
    log = directory / CONTAINER_LOG if directory is not None else None
    timestamps = query.get("timestamps", "") in ("true", "1")
    data = logselect.select(log, cutoff=logselect.since(query), tail=tail, timestamps=timestamps)
    follow = query.get("follow", "") in ("true", "1") and not previous
    response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    sent = 0
    with contextlib.suppress(ConnectionError):
        sent = await _send(response, data, limit, sent)
        if follow and log is not None:
            await _follow(
                store,
                key,
                pod["metadata"]["uid"],
                container,
                log=log,
                response=response,
                limit=limit,
                sent=sent,
                timestamps=timestamps,
            )
        await response.write_eof()
    return response


async def _send(response: aiohttp.web.StreamResponse, data: bytes, limit: int | None, sent: int) -> int:
    if limit is not None:
        data = data[: max(0, limit - sent)]
    if data:
        await response.write(data)
    return sent + len(data)


async def _follow(
    store: Store,
    key: tuple[str, str, str, str],
    uid: str,
    container: str,
    *,
    log: Path,
    response: aiohttp.web.StreamResponse,
    limit: int | None,
    sent: int,
    timestamps: bool,
) -> None:
    """New output as it is written, until the container ends (then what is left) or the limit."""
    offset = log.stat().st_size if log.is_file() else 0
    while limit is None or sent < limit:
        done = _finished(store, key, uid, container)
        with contextlib.suppress(OSError), log.open("rb") as file:
            file.seek(offset)
            chunk = file.read()
            if timestamps:  # whole lines only, stamped with the time they are read
                chunk = chunk[: chunk.rfind(b"\n") + 1] if not done else chunk
                moment = logselect.stamp(datetime.datetime.now(datetime.UTC))
                offset += len(chunk)
                chunk = b"".join(moment + line for line in chunk.splitlines(keepends=True))
            else:
                offset += len(chunk)
            sent = await _send(response, chunk, limit, sent)
        if done:
            return
        await asyncio.sleep(_FOLLOW_PERIOD)
