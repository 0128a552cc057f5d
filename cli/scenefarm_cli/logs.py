"""`scenefarm logs NAME [--scene S [--attempt K] | --combine] [-f]`: a render's own output.

Read through the API (`pods/log`), as `kubectl logs` does, from the newest Pod of the Job that
ran the scene's latest attempt (or attempt K), or of the combine Job.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from lightkube.resources.core_v1 import Pod

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import NotFound, UsageError
from scenefarm_cli.videorequests import get, scene
from scenefarm_contract.names import scene_job_name

CONTAINER = "render"  # the one container of scene and combine Jobs (manifests.py)


def job_for(
    request: Mapping[str, Any], scene_selector: str | None, attempt: int | None, combine: bool
) -> str:
    """The Job whose Pod holds the wanted output."""
    name, status = request["metadata"]["name"], request.get("status") or {}
    if scene_selector is None:
        job = (status.get("combine") or {}).get("job")
        if job:
            return str(job)
        scenes = ", ".join(f"{s.get('index')} ({s.get('name')})" for s in status.get("scenes") or [])
        if combine:
            raise NotFound(f"videorequest/{name} has not started its combine yet")
        raise UsageError(
            f"videorequest/{name} has no combine yet: choose a scene with --scene "
            f"(scenes: {scenes or 'none yet'})"
        )
    entry = scene(request, scene_selector)
    latest = int(entry.get("attempt") or 0)
    if attempt is None:
        if not entry.get("job"):
            raise NotFound(f"scene {entry.get('index')} ({entry.get('name')}) has not started yet")
        return str(entry["job"])
    if attempt < 1 or attempt > latest:
        raise NotFound(
            f"scene {entry.get('index')} ({entry.get('name')}) has no attempt {attempt} "
            f"(attempts: 1..{latest})"
        )
    return scene_job_name(name, int(entry["index"]), attempt)


def newest_pod(conn: Connection, job: str, request: str = "NAME", program: str = "scenefarm") -> str:
    with conn.talking(f"pods of job/{job}"):
        pods = list(conn.client().list(Pod, namespace=conn.namespace, labels={"job-name": job}))
    if not pods:
        raise NotFound(
            f"job/{job} has no Pods left (finished Jobs are deleted after their TTL); "
            f"the status keeps the result: {program} get {request} -o yaml"
        )
    named = [(str(p.metadata.creationTimestamp or ""), str(p.metadata.name)) for p in pods if p.metadata]
    return max(named)[1]


def show(
    conn: Connection,
    name: str,
    *,
    scene_selector: str | None,
    attempt: int | None,
    combine: bool,
    follow: bool,
    stream: IO[str] | None = None,
    program: str = "scenefarm",
) -> int:
    stream = stream or sys.stdout
    job = job_for(get(conn, name), scene_selector, attempt, combine)
    pod = newest_pod(conn, job, name, program)
    with conn.talking(f"logs of pod/{pod}"):
        for line in conn.client().log(pod, namespace=conn.namespace, container=CONTAINER, follow=follow):
            stream.write(line)
            stream.flush()
    return 0
