"""What the scheduler and the Job controller report when a Pod cannot start.

- A Pod whose PersistentVolumeClaim does not exist is never bound to a node: it stays Pending
  with PodScheduled=False (reason Unschedulable) and the scheduler's message, and a
  FailedScheduling Event, until the claim appears (the kubelet stand-in waits for it).
- A Pod the API server refuses (its ServiceAccount missing, a ResourceQuota exceeded, Pod
  Security admission) never exists: the Job controller records a FailedCreate Event on the Job
  and tries again later.

Events are aggregated the way the event recorder does: one object per (object, reason, message),
its `count` and `lastTimestamp` bumped on repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.resources.core_v1 import Event, PersistentVolumeClaim
from lightkube.types import PatchType

from scenefarm_devkit.jobrunner.errors import ApiFailure
from scenefarm_devkit.jobrunner.timestamps import format_time, now

Obj = Mapping[str, Any]
SCHEDULER = "default-scheduler"
JOB_CONTROLLER = "job-controller"


def claims_of(pod: Obj) -> list[str]:
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return [v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v]


def unschedulable_message(missing: list[str]) -> str:
    """The scheduler's words for a one-node cluster (VolumeBinding filter, then preemption)."""
    return (
        f'0/1 nodes are available: persistentvolumeclaim "{missing[0]}" not found. '
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )


def unschedulable_status(message: str) -> dict[str, Any]:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": format_time(now()),
    }
    return {"phase": "Pending", "conditions": [condition]}


async def missing_claims(client: AsyncClient, pod: Obj) -> list[str]:
    namespace = pod["metadata"]["namespace"]
    missing = []
    for claim in claims_of(pod):
        try:
            await client.get(PersistentVolumeClaim, claim, namespace=namespace)
        except ApiFailure as error:
            if error.response.status_code != 404:
                raise
            missing.append(claim)
    return missing


async def wait_until_schedulable(
    client: AsyncClient,
    pod: Obj,
    write_status: Callable[[Any, dict[str, Any]], Awaitable[None]],
    interval: float,
) -> None:
    """Keep the Pod unscheduled (status, Event) while any of its claims is missing."""
    reported = False
    while missing := await missing_claims(client, pod):
        message = unschedulable_message(missing)
        if not reported:
            await write_status(pod, unschedulable_status(message))
            reported = True
        await record(client, pod, "FailedScheduling", message, SCHEDULER)
        await asyncio.sleep(interval)


async def record(client: AsyncClient, involved: Obj, reason: str, message: str, component: str) -> None:
    """A Warning Event on `involved`, aggregated by (object, reason, message); best effort."""
    meta = involved["metadata"]
    digest = hashlib.sha256(f"{meta.get('uid')}/{reason}/{message}".encode()).hexdigest()[:12]
    name, namespace, stamp = f"{meta['name']}.{digest}", meta["namespace"], format_time(now())
    with contextlib.suppress(ApiFailure):
        try:
            existing = await client.get(Event, name, namespace=namespace)
        except ApiFailure as error:
            if error.response.status_code != 404:
                raise
        else:
            patch = {"count": (existing.count or 1) + 1, "lastTimestamp": stamp}
            await client.patch(Event, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
            return
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "v1"),
                "kind": involved.get("kind", ""),
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": component},
            "reportingComponent": component,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
        }
        await client.create(cast(Event, Event.from_dict(event)))


async def record_failed_create(client: AsyncClient, job: Obj, error: ApiFailure) -> None:
    """The Job controller's `FailedCreate`: "Error creating: <the API server's message>"."""
    try:
        detail = str(error.response.json().get("message") or error)
    except ValueError:
        detail = str(error)
    job = {"apiVersion": "batch/v1", "kind": "Job", **job}
    await record(client, job, "FailedCreate", f"Error creating: {detail}", JOB_CONTROLLER)
