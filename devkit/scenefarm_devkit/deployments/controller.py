"""The Deployment and ReplicaSet controllers and the scheduler's binding, as one API client.

Each pass lists Deployments, ReplicaSets and Pods (the dev cluster is small; a real controller
watches) and moves the world one step: the Deployment's current ReplicaSet exists, every
ReplicaSet is scaled as the rollout allows (rollout.scale), each ReplicaSet has its number of
Pods (created bound to the Deployment node, as the scheduler would bind them; extra ones deleted
gracefully), and the status of both kinds is what `kubectl rollout status` reads. The node's
kubelet (node.py) then runs the Pods. Bare ReplicaSets (without a Deployment) are run too.
A Pod the API server refuses (ServiceAccount admission, OpenShift's SCC, ...) leaves a
`FailedCreate` Warning Event and a `ReplicaFailure` condition on its ReplicaSet, which the
Deployment's status repeats, and is tried again next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from scenefarm_devkit.deployments import events, rollout
from scenefarm_devkit.deployments.node import NODE, Node, TokenFor, stamp

Obj = dict[str, Any]
PASS_SECONDS = 0.5
# Read as plain objects: lightkube's typed models insist on fields a fresh object may lack
# (ReplicaSetStatus.replicas), and this controller only reads what it needs anyway.
Deployment = create_namespaced_resource("apps", "v1", "Deployment", "deployments")
ReplicaSet = create_namespaced_resource("apps", "v1", "ReplicaSet", "replicasets")
logger = logging.getLogger(__name__)


class Deployments:
    """`run()` until cancelled: Deployments -> ReplicaSets -> Pods bound to NODE -> processes."""

    def __init__(
        self, client: AsyncClient, state_dir: Path, server: Mapping[str, Any], token_for: TokenFor
    ) -> None:
        self.client = client
        self.node = Node(client, state_dir, server, token_for)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.step()
                except ApiError as e:  # a conflict or a race with a deletion: the next pass sees the result
                    logger.debug("deployments pass: %s", e)
                await asyncio.sleep(PASS_SECONDS)
        finally:
            await self.node.close()

    async def step(self) -> None:
        deployments = await self._list(Deployment)
        for deployment in deployments:
            if not deployment["metadata"].get("deletionTimestamp"):
                await self._roll(deployment, await self._list(ReplicaSet))
        pods = await self._list(Pod)
        for rs in await self._list(ReplicaSet):
            await self._replicate(rs, pods)
        self.node.sync(await self._list(Pod))
        replica_sets = await self._list(ReplicaSet)
        for deployment in deployments:
            await self._deployment_status(deployment, replica_sets)

    async def _list(self, kind: Any) -> list[Obj]:
        return [o.to_dict() async for o in self.client.list(kind, namespace="*")]  # type: ignore[no-untyped-call]

    # -- Deployment -> ReplicaSets ---------------------------------------------------------------------

    def _sets_of(self, deployment: Obj, replica_sets: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        pod_hash = rollout.template_hash(deployment["spec"]["template"])
        owned = [rs for rs in replica_sets if rollout.owned_by(rs, deployment)]
        new = next(
            (rs for rs in owned if rs["metadata"].get("labels", {}).get(rollout.HASH_LABEL) == pod_hash), None
        )
        olds = sorted(
            (rs for rs in owned if rs is not new), key=lambda rs: rs["metadata"].get("creationTimestamp", "")
        )
        return new, olds

    async def _roll(self, deployment: Obj, replica_sets: list[Obj]) -> None:
        new, olds = self._sets_of(deployment, replica_sets)
        if new is None:
            wanted = rollout.replica_set_for(deployment)
            with contextlib.suppress(ApiError):  # AlreadyExists: made by an earlier pass
                new = (await self.client.create(codecs.from_dict(wanted))).to_dict()  # type: ignore[no-untyped-call]
            if new is None:
                return
        ready = {
            rs["metadata"]["name"]: int((rs.get("status") or {}).get("readyReplicas", 0))
            for rs in [new, *olds]
        }
        pods = {
            rs["metadata"]["name"]: int((rs.get("status") or {}).get("replicas", 0))
            + int((rs.get("status") or {}).get("terminatingReplicas", 0))
            for rs in [new, *olds]
        }
        for rs in [new, *olds]:
            want = rollout.scale(deployment, new, olds, ready, pods)[rs["metadata"]["name"]]
            if want != int(rs["spec"].get("replicas", 0)):
                meta = rs["metadata"]
                await self.client.patch(
                    ReplicaSet, meta["name"], {"spec": {"replicas": want}}, namespace=meta["namespace"],
                    patch_type=PatchType.MERGE,
                )  # fmt: skip
                rs["spec"]["replicas"] = want

    async def _deployment_status(self, deployment: Obj, replica_sets: list[Obj]) -> None:
        new, olds = self._sets_of(deployment, replica_sets)
        if new is None:
            return
        status = rollout.deployment_status(deployment, new, [new, *olds], stamp())
        if _same(status, deployment.get("status") or {}):
            return
        meta = deployment["metadata"]
        with contextlib.suppress(ApiError):
            await self.client.patch(
                Deployment.Status, meta["name"], {"status": status}, namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )  # fmt: skip

    # -- ReplicaSet -> Pods ------------------------------------------------------------------------

    async def _replicate(self, rs: Obj, pods: list[Obj]) -> None:
        meta = rs["metadata"]
        mine = [
            p for p in pods if p["metadata"]["namespace"] == meta["namespace"] and rollout.owned_by(p, rs)
        ]
        live = [p for p in mine if not p["metadata"].get("deletionTimestamp")]
        want = 0 if meta.get("deletionTimestamp") else int(rs["spec"].get("replicas", 0))
        failure = None
        for _ in range(want - len(live)):
            try:
                await self.client.create(codecs.from_dict(self._pod(rs)))
            except ApiError as error:  # the rest of this batch waits for the next pass, as slowStartBatch
                failure = str(error.status.message or error)
                owner = rs | {"apiVersion": "apps/v1", "kind": "ReplicaSet"}
                await events.warn(self.client, owner, "FailedCreate", f"Error creating: {failure}")
                break
        for pod in rollout.to_remove(live, len(live) - want):
            with contextlib.suppress(ApiError):
                await self.client.delete(Pod, pod["metadata"]["name"], namespace=meta["namespace"])
        status = rollout.replica_set_status(rs, mine, failure, stamp())
        if not _same(status, rs.get("status") or {}):
            with contextlib.suppress(ApiError):
                await self.client.patch(
                    ReplicaSet.Status, meta["name"], {"status": status}, namespace=meta["namespace"],
                    patch_type=PatchType.MERGE,
                )  # fmt: skip
            rs["status"] = status

    @staticmethod
    def _pod(rs: Obj) -> Obj:
        template = copy.deepcopy(rs["spec"]["template"])
        meta = template.get("metadata") or {}
        meta.pop("name", None)
        meta |= {
            "generateName": f"{rs['metadata']['name']}-",  # the server adds 5 characters
            "namespace": rs["metadata"]["namespace"],
            "ownerReferences": [rollout.controller_ref(rs | {"apiVersion": "apps/v1", "kind": "ReplicaSet"})],
        }
        spec = template["spec"] | {"nodeName": NODE}  # bound at once, as the scheduler would
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _same(status: Mapping[str, Any], before: Mapping[str, Any]) -> bool:
    """Equal but for the condition timestamps (rewriting those every pass would be noise)."""

    def plain(s: Mapping[str, Any]) -> Any:
        conditions = [
            {k: v for k, v in c.items() if k not in ("lastUpdateTime", "lastTransitionTime")}
            for c in s.get("conditions") or []
        ]
        return {**s, "conditions": conditions}

    return bool(plain(status) == plain({k: before.get(k) for k in status}))
