"""The Job controller: applies `jobsync` decisions through the API, in the real controller's order.

Order per sync: kill and delete Pods that must go, create Pods, write Job status (which records
newly terminal Pods as uncounted), then drop their tracking finalizers, then delete a Job whose
TTL ran out.  Every step is idempotent, so a crash or a conflict only costs a later sync.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from scenefarm_devkit.jobrunner import scheduling
from scenefarm_devkit.jobrunner.deletion import delete_job_if_same
from scenefarm_devkit.jobrunner.errors import ApiFailure
from scenefarm_devkit.jobrunner.indexed import NewPod
from scenefarm_devkit.jobrunner.informer import Informer, Key, Obj
from scenefarm_devkit.jobrunner.jobsync import SyncDecision, sync_job
from scenefarm_devkit.jobrunner.kubelet import Kubelet
from scenefarm_devkit.jobrunner.podmanifest import TRACKING_FINALIZER, build_pod, owned_by
from scenefarm_devkit.jobrunner.timestamps import now

# spec.managedBy of the Jobs this controller runs (unset means the same); any other value: not ours.
JOB_CONTROLLER = "kubernetes.io/job-controller"

logger = logging.getLogger(__name__)


def status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch from `old` to `new` status: changed keys, and nulls for removed ones."""
    patch: dict[str, Any] = {key: value for key, value in new.items() if old.get(key) != value}
    patch.update({key: None for key in old if key not in new})
    return patch


class JobController:
    """Syncs one Job at a time from the informers' caches."""

    def __init__(self, client: AsyncClient, jobs: Informer, pods: Informer, kubelet: Kubelet) -> None:
        self._client = client
        self._jobs = jobs
        self._pods = pods
        self._kubelet = kubelet

    def pods_of(self, job: Obj) -> list[Obj]:
        namespace, uid = job["metadata"]["namespace"], job["metadata"]["uid"]
        return [
            pod
            for (pod_namespace, _), pod in self._pods.objects.items()
            if pod_namespace == namespace and owned_by(pod, uid)
        ]

    async def sync(self, key: Key) -> float | None:
        """One sync of the Job at `key`; seconds until it wants to be synced again, if it does."""
        job = self._jobs.objects.get(key)
        if job is None:
            return None  # deleted: its Pods go by ownerReference garbage collection
        if (job.get("spec") or {}).get("managedBy", JOB_CONTROLLER) != JOB_CONTROLLER:
            return None  # spec.managedBy names another controller: the built-in one leaves it alone
        decision = sync_job(job, self.pods_of(job), now())
        await self._terminate(key[0], decision)
        await self._create(job, decision)
        await self._write_status(job, decision)
        await self._release(key[0], decision.release)
        if decision.delete_job:
            with contextlib.suppress(ApiFailure):  # 409: a new Job took the name; 404: already gone
                await delete_job_if_same(self._client, job)  # with a uid precondition, as the TTL controller
            self._jobs.forget(key)
        return decision.requeue_after

    async def release_orphan(self, pod: Obj) -> None:
        """Drop the tracking finalizer of a Pod whose Job is gone: nobody is left to count it."""
        meta = pod["metadata"]
        if TRACKING_FINALIZER not in (meta.get("finalizers") or []):
            return
        owners = [
            r for r in meta.get("ownerReferences") or [] if r.get("controller") and r.get("kind") == "Job"
        ]
        job = self._jobs.objects.get((meta["namespace"], owners[0]["name"])) if owners else None
        if owners and (job is None or job["metadata"].get("uid") != owners[0].get("uid")):
            await self._release(meta["namespace"], [meta["name"]])

    async def _terminate(self, namespace: str, decision: SyncDecision) -> None:
        for name in decision.terminate:
            await self._kubelet.stop((namespace, name), decision.terminate_reason)
        # Pods we kill on purpose are not failures of the workload: drop them uncounted.
        await self._release(namespace, decision.terminate)
        for name in decision.terminate:
            with contextlib.suppress(ApiFailure):
                await self._client.delete(Pod, name, namespace=namespace)
            self._pods.forget((namespace, name))

    async def _create(self, job: Obj, decision: SyncDecision) -> None:
        # An Indexed Job names the index of each new Pod; a NonIndexed one only how many.
        wanted: list[NewPod | None] = [*decision.indexes] or [None] * decision.create
        for index in wanted:
            pod = cast(Pod, Pod.from_dict(build_pod(job, index=index)))
            try:
                created = (await self._client.create(pod)).to_dict()
            except ApiFailure as error:  # e.g. its ServiceAccount is missing: FailedCreate, retried later
                await scheduling.record_failed_create(self._client, job, error)
                raise
            self._pods.remember(created)
            await self._kubelet.sync_pod(created)

    async def _write_status(self, job: Obj, decision: SyncDecision) -> None:
        patch = status_patch(job.get("status") or {}, decision.status)
        if not patch:
            return
        meta = job["metadata"]
        updated = await self._client.patch(
            Job.Status, meta["name"], {"status": patch}, namespace=meta["namespace"],
            patch_type=PatchType.MERGE,
        )  # fmt: skip
        self._jobs.remember(updated.to_dict())

    async def _release(self, namespace: str, names: list[str]) -> None:
        for name in names:
            pod = self._pods.objects.get((namespace, name))
            if pod is None:
                continue
            finalizers = [f for f in pod["metadata"].get("finalizers") or [] if f != TRACKING_FINALIZER]
            with contextlib.suppress(ApiFailure):
                updated = await self._client.patch(
                    Pod, name, {"metadata": {"finalizers": finalizers or None}}, namespace=namespace,
                    patch_type=PatchType.MERGE,
                )  # fmt: skip
                self._pods.remember(updated.to_dict())
