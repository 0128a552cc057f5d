"""`JobRunner`: informers, the work queue, the controller and the kubelet wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from lightkube import AsyncClient
from lightkube.config.kubeconfig import KubeConfig
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.jobrunner.config import JobRunnerConfig
from scenefarm_devkit.jobrunner.controller import JobController
from scenefarm_devkit.jobrunner.errors import ApiFailure
from scenefarm_devkit.jobrunner.informer import Informer, Key, Obj, key_of
from scenefarm_devkit.jobrunner.kubelet import Kubelet

SHUTDOWN_TIMEOUT = 5.0  # seconds each shutdown step may take before it is abandoned
# A failed sync is retried after 1, 2, 4, ... seconds, as the Job controller's rate-limited queue
# does (DefaultJobApiBackOff 1 s); capped at 10 s here (the real cap, MaxJobApiBackOff, is 60 s) so
# a namespace fixed by hand (its ServiceAccount created) is noticed soon.
RETRY_FIRST, RETRY_MAX = 1.0, 10.0
logger = logging.getLogger(__name__)
IDENTITY = "job-controller"


def _owner_job(pod: Obj) -> Key | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "Job":
            return pod["metadata"]["namespace"], ref["name"]
    return None


class JobRunner:
    """The dev cluster's Job controller and kubelet; `run()` until cancelled."""

    def __init__(self, client: AsyncClient, config: JobRunnerConfig) -> None:
        self.config = config
        self.kubelet = Kubelet(client, config, on_finished=self._pod_finished)
        self.jobs = Informer(client, Job, self._job_changed)
        self.pods = Informer(client, Pod, self._pod_changed)
        self.controller = JobController(client, self.jobs, self.pods, self.kubelet)
        self._client = client
        self._dirty: set[Key] = set()
        self._timers: dict[Key, float] = {}
        self._failures: dict[Key, tuple[int, str]] = {}  # failed syncs in a row, and the last error
        self._wake = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._owns_client = False

    @classmethod
    def for_cluster(cls, cluster: Any, config: JobRunnerConfig | None = None) -> JobRunner:
        """A runner on its own client for `cluster`; `run()` closes that client when it ends."""
        runner = cls(client_for(cluster), config or config_for(cluster))
        runner._owns_client = True
        attach = getattr(cluster, "attach_node", None)
        if attach is not None:  # where the API server finds Pods' logs and exec contexts (kubelet API)
            attach(runner.config.state_dir / "pods")
        return runner

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        if after <= 0:
            self._dirty.add(key)
            self._wake.set()
        else:
            due = time.monotonic() + after
            self._timers[key] = min(due, self._timers.get(key, due))

    def _job_changed(self, event: str, job: Obj) -> None:
        if event != "DELETED":
            self.enqueue(key_of(job))

    def _pod_finished(self, pod: Obj) -> None:
        owner = _owner_job(pod)
        if owner is not None:
            self.enqueue(owner)

    async def _pod_changed(self, event: str, pod: Obj) -> None:
        if event == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            # Killing waits for the process; the watch must not wait with it.
            task = asyncio.create_task(self.kubelet.pod_deleted(pod))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif self.pods.synced.is_set() and self.jobs.synced.is_set():
            await self.kubelet.sync_pod(pod)
        if event != "DELETED" and self.jobs.synced.is_set():
            await self.controller.release_orphan(pod)
        self._pod_finished(pod)

    async def evict(self, namespace: str, pod_name: str) -> None:
        """Simulate an Eviction API call: DisruptionTarget=True, process killed, Pod Failed."""
        pod = self.pods.objects.get((namespace, pod_name))
        if pod is None:
            pod = (await self._client.get(Pod, pod_name, namespace=namespace)).to_dict()
        await self.kubelet.evict(pod)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.jobs.run()), asyncio.create_task(self.pods.run())]
        try:
            await self.jobs.synced.wait()
            await self.pods.synced.wait()
            for pod in list(self.pods.objects.values()):  # adopt what a previous runner left
                await self.kubelet.sync_pod(pod)
            await self._work()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=SHUTDOWN_TIMEOUT)  # bounded: never hang a shutdown
            await self.kubelet.close()
            if self._owns_client:
                await asyncio.wait([asyncio.ensure_future(self._client.close())], timeout=SHUTDOWN_TIMEOUT)

    async def _work(self) -> None:
        last_resync = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
            self._wake.clear()
            moment = time.monotonic()
            for key, due in list(self._timers.items()):
                if due <= moment:
                    del self._timers[key]
                    self._dirty.add(key)
            if moment - last_resync >= self.config.resync_interval:
                last_resync = moment
                self._dirty.update(k for k in self.jobs.objects if k not in self._failures)  # backing off
            keys, self._dirty = self._dirty, set()
            for key in sorted(keys):
                await self._sync(key)

    async def _sync(self, key: Key) -> None:
        try:
            again = await self.controller.sync(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a refused Pod, a conflict, a server hiccup: back off and retry
            self._failed(key, error)
            return
        self._failures.pop(key, None)
        if again is not None:
            self.enqueue(key, after=again)

    def _failed(self, key: Key, error: Exception) -> None:
        """Retry after an exponential back-off; log once per kind of failure, not at every retry
        (the Job's FailedCreate Event tells the users; its message names a new Pod each time)."""
        count, last = self._failures.get(key, (0, ""))
        api = isinstance(error, ApiFailure)
        kind = f"HTTP {error.response.status_code}" if isinstance(error, ApiFailure) else type(error).__name__
        if kind != last:
            logger.warning(
                "syncing Job %s/%s failed (%s): %s; retrying with back-off",
                *key,
                kind,
                error,
                exc_info=not api,
            )
        self._failures[key] = (count + 1, kind)
        self.enqueue(key, after=min(RETRY_FIRST * 2**count, RETRY_MAX))


def client_for(cluster: Any) -> AsyncClient:
    """A lightkube client acting as the `job-controller` identity of the dev cluster."""
    config = KubeConfig.from_file(cluster.kubeconfig_for(IDENTITY))  # as any client of the cluster
    return AsyncClient(config, trust_env=False)


def config_for(cluster: Any) -> JobRunnerConfig:
    """Defaults under the cluster's state directory (callers pass their own config otherwise)."""
    state_dir = getattr(cluster, "state_dir", None) or tempfile.mkdtemp(prefix="scenefarm-jobrunner-")
    return JobRunnerConfig(state_dir=Path(state_dir) / "jobrunner")


async def run_job_runner(cluster: Any, config: JobRunnerConfig | None = None) -> None:
    """A `DevCluster(extra_tasks=[run_job_runner])` hook: runs the Job runner until cancelled."""
    runner = JobRunner.for_cluster(cluster, config)
    cluster.job_runner = runner  # reachable for tests and tools, e.g. to evict a Pod
    await runner.run()
