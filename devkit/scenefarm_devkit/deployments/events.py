"""The ReplicaSet controller's Warning Events (`FailedCreate`: "Error creating: <the API server's
message>"), aggregated as client-go's event recorder does: one Event per (object, reason, message),
its `count` and `lastTimestamp` bumped on repeats."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from scenefarm_devkit.deployments.node import stamp

COMPONENT = "replicaset-controller"


async def warn(client: AsyncClient, involved: Mapping[str, Any], reason: str, message: str) -> None:
    """A Warning Event on `involved` (a ReplicaSet); best effort, as the recorder's."""
    meta = involved["metadata"]
    digest = hashlib.sha256(f"{meta.get('uid')}/{reason}/{message}".encode()).hexdigest()[:12]
    name, namespace, now = f"{meta['name']}.{digest}", meta["namespace"], stamp()
    with contextlib.suppress(ApiError):
        try:
            existing = await client.get(Event, name, namespace=namespace)
        except ApiError as error:
            if error.status.code != 404:
                raise
        else:
            patch = {"count": (existing.count or 1) + 1, "lastTimestamp": now}
            await client.patch(Event, name, patch, namespace=namespace, patch_type=PatchType.MERGE)
            return
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "apps/v1"),
                "kind": involved.get("kind", "ReplicaSet"),
                "name": meta["name"],
                "namespace": namespace,
                "uid": meta.get("uid", ""),
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
        }
        await client.create(cast(Event, Event.from_dict(event)))
