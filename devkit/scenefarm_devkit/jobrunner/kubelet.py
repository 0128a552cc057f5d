"""The kubelet stand-in: runs each Pod's first container as a local process, reports its status.

Choice after a restart of the runner: a Pod whose container was running under a previous runner
cannot be re-attached, so it is marked Failed the way Kubernetes handles a lost node
(DisruptionTarget=True, reason DeletionByPodGC; container ContainerStatusUnknown, exit 137).
A podFailurePolicy Ignore rule on DisruptionTarget therefore keeps it off the backoff count.
Pods that were still waiting for a slot are simply started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret
from lightkube.types import PatchType

from scenefarm_devkit.jobrunner import logtimes, podmanifest, podstatus, scheduling
from scenefarm_devkit.jobrunner.config import JobRunnerConfig
from scenefarm_devkit.jobrunner.errors import ApiFailure
from scenefarm_devkit.jobrunner.informer import Key, Obj, key_of
from scenefarm_devkit.jobrunner.process import SIGKILL_EXIT, LocalProcess, ProcessOutcome
from scenefarm_devkit.jobrunner.rewriting import (
    ConfigError,
    local_argv,
    local_env,
    referenced_objects,
    resolve_env,
    rewrite_path,
)
from scenefarm_devkit.jobrunner.timestamps import format_time, now
from scenefarm_devkit.jobrunner.volumes import materialise_volumes

logger = logging.getLogger(__name__)
MESSAGE_LIMIT = 4096
LOG_FALLBACK_LINES, LOG_FALLBACK_BYTES = 80, 2048
EVICTED = "Evicted"
CLOSE_TIMEOUT = 5.0
# Files in each Pod's directory that the API server reads for `pods/log` and `pods/exec`.
CONTAINER_LOG, EXEC_CONTEXT = "container.log", "exec.json"


@dataclasses.dataclass
class _Running:
    task: asyncio.Task[None]
    process: LocalProcess | None = None
    kill_reason: str | None = None


class Kubelet:
    """Starts, watches and kills local container processes; writes `pods/<name>/status`."""

    def __init__(
        self, client: AsyncClient, config: JobRunnerConfig, on_finished: Callable[[Obj], None]
    ) -> None:
        self._client = client
        self._config = config
        self._on_finished = on_finished
        self._slots = asyncio.Semaphore(max(1, config.max_local_processes))
        self._running: dict[Key, _Running] = {}
        self._handled: set[str] = set()  # Pod uids this runner has taken on, ever
        self._closing = False

    @property
    def running(self) -> int:
        return sum(1 for entry in self._running.values() if entry.process is not None)

    async def sync_pod(self, pod: Obj) -> None:
        """React to the Pod as it is now: start it, kill it, or mark it as orphaned."""
        key, uid = key_of(pod), pod["metadata"].get("uid", "")
        if (pod.get("spec") or {}).get("nodeName"):
            return  # bound to another node (the dev kit's Deployment node runs it), never to this one
        if pod["metadata"].get("deletionTimestamp"):
            await self.stop(key, "PodDeleted")
            return
        if uid in self._handled or podstatus.is_terminal(pod) or key in self._running:
            return
        self._handled.add(uid)
        states = [cs.get("state") or {} for cs in (pod.get("status") or {}).get("containerStatuses") or []]
        if any("running" in state for state in states):
            await self._write_status(pod, self._orphaned_status(pod))
            return
        task = asyncio.create_task(self._run(pod), name=f"pod {key[0]}/{key[1]}")
        self._running[key] = _Running(task)

    async def pod_deleted(self, pod: Obj) -> None:
        await self.stop(key_of(pod), "PodDeleted")

    async def stop(self, key: Key, reason: str) -> None:
        """Kill the Pod's process (or its place in the queue) and wait until its status is written."""
        entry = self._running.get(key)
        if entry is None:
            return
        entry.kill_reason = entry.kill_reason or reason
        if entry.process is not None:
            entry.process.kill(reason)
        else:
            entry.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(entry.task)

    async def evict(self, pod: Obj) -> None:
        """Evict like the Eviction API: DisruptionTarget=True, process killed, Pod Failed."""
        key = key_of(pod)
        entry = self._running.get(key)
        if entry is not None and entry.process is not None:
            await self.stop(key, EVICTED)
            return
        await self.stop(key, EVICTED)
        self._handled.add(pod["metadata"].get("uid", ""))
        ending = podstatus.Termination(SIGKILL_EXIT, "Error", "evicted before the container started")
        await self._write_status(pod, podstatus.terminated_status(self._container(pod), ending, [_evicted()]))

    async def close(self) -> None:
        """Kill every process without reporting, as if the node went away (see the module doc)."""
        self._closing = True
        stops = [asyncio.ensure_future(self.stop(key, "RunnerStopped")) for key in list(self._running)]
        # Bounded: shutting the cluster down must not hang on one stubborn Pod task. asyncio.wait,
        # not wait_for: wait_for would wait again for the cancellation it starts on timeout.
        if stops:
            _, pending = await asyncio.wait(stops, timeout=CLOSE_TIMEOUT)
            for task in pending:
                task.cancel()

    @staticmethod
    def _container(pod: Obj) -> dict[str, Any]:
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        return dict(containers[0])

    def _orphaned_status(self, pod: Obj) -> dict[str, Any]:
        ending = podstatus.Termination(
            SIGKILL_EXIT,
            "ContainerStatusUnknown",
            "The container could not be located when the pod was terminated",
        )
        lost = podstatus.disruption_condition("DeletionByPodGC", "PodGC: node no longer exists")
        return podstatus.terminated_status(self._container(pod), ending, [lost])

    async def _write_status(self, pod: Obj, status: dict[str, Any]) -> None:
        if self._closing:
            return
        meta = pod["metadata"]
        with contextlib.suppress(ApiFailure):  # the Pod may be gone already: nothing to report on
            await self._client.patch(
                Pod.Status, meta["name"], {"status": status}, namespace=meta["namespace"],
                patch_type=PatchType.MERGE,
            )  # fmt: skip

    async def _run(self, pod: Obj) -> None:
        key = key_of(pod)
        try:
            # The scheduler binds no Pod whose claim is missing: Pending, Unschedulable, until it exists.
            await scheduling.wait_until_schedulable(
                self._client, pod, self._write_status, max(1.0, self._config.poll_interval * 10)
            )
            instant = self._config.instant(pod) if self._config.instant is not None else None
            if instant is not None:
                code, message = instant
                ending = podstatus.Termination(code, "Completed" if code == 0 else "Error", message)
                await self._write_status(pod, podstatus.terminated_status(self._container(pod), ending))
            else:
                await self._run_process(pod)
        finally:
            self._running.pop(key, None)
            self._on_finished(pod)

    async def _fetch(self, resource: Any, namespace: str, names: set[str]) -> dict[str, Obj]:
        found: dict[str, Obj] = {}
        for name in names:
            with contextlib.suppress(ApiFailure):
                found[name] = (await self._client.get(resource, name, namespace=namespace)).to_dict()
        return found

    async def _prepare(self, pod: Obj) -> tuple[list[str], dict[str, str], Path, int | None]:
        """Volumes on disk and the local argv/env/cwd; ConfigError while references are missing.

        Also leaves `exec.json` in the Pod's directory: what the API server needs to run
        `kubectl exec` commands "in" this container (its env, working directory and mounts).
        """
        meta, container = pod["metadata"], self._container(pod)
        config_map_names, secret_names = referenced_objects(pod.get("spec") or {}, container)
        config_maps = await self._fetch(ConfigMap, meta["namespace"], config_map_names)
        secrets = await self._fetch(Secret, meta["namespace"], secret_names)
        env = resolve_env(container, pod, config_maps, secrets)
        mounts = materialise_volumes(self._config, pod, container, config_maps, secrets)
        pod_dir = self._config.pod_dir(meta["namespace"], meta["name"])
        home = self._config.state_dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        defaults = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOSTNAME": (pod.get("spec") or {}).get("hostname") or meta["name"],  # as the container's
            "HOME": str(home),  # shared, like an image's HOME: font and TeX caches survive Pods
        }
        workdir = container.get("workingDir")
        cwd = Path(rewrite_path(workdir, mounts)) if workdir else pod_dir
        cwd.mkdir(parents=True, exist_ok=True)
        argv, local = local_argv(container, env, mounts), local_env(env, mounts, defaults)
        exec_context = {
            "container": container.get("name", ""),
            "env": local,
            "cwd": str(cwd),
            "mounts": {path: str(target) for path, target in mounts.items()},
        }
        pod_dir.mkdir(parents=True, exist_ok=True)
        (pod_dir / EXEC_CONTEXT).write_text(json.dumps(exec_context), encoding="utf-8")
        return argv, local, cwd, podmanifest.memory_limit_bytes(container)

    async def _run_process(self, pod: Obj) -> None:
        key, container = key_of(pod), self._container(pod)
        await self._write_status(pod, podstatus.pending_status(container))
        # Config is resolved before taking a slot: a Pod stuck on a missing Secret must not hold one.
        while True:
            try:
                argv, env, cwd, memory = await self._prepare(pod)
                break
            except ConfigError as exc:  # like the kubelet: stay Pending and try again
                waiting = podstatus.pending_status(container, "CreateContainerConfigError", str(exc))
                await self._write_status(pod, waiting)
                await asyncio.sleep(max(1.0, self._config.poll_interval * 10))
        async with self._slots:
            pod_dir = self._config.pod_dir(*key)
            started = format_time(now())
            log = pod_dir / CONTAINER_LOG
            log_start = logtimes.size_of(log)
            process = await LocalProcess.start(
                argv, env, cwd, log, memory_limit=memory, poll=self._config.poll_interval
            )
            entry = self._running[key]
            entry.process = process
            if entry.kill_reason is not None:
                process.kill(entry.kill_reason)
            indexer = asyncio.create_task(
                logtimes.index(log, max(self._config.poll_interval, 0.05), log_start)
            )
            try:
                await self._write_status(pod, podstatus.running_status(container, process.pid, started))
                outcome = await process.wait()
            finally:
                indexer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await indexer
        if self._closing:
            return
        ending = self._termination(pod, outcome, started)
        extra = [_evicted()] if outcome.killed_reason == EVICTED else []
        await self._write_status(pod, podstatus.terminated_status(container, ending, extra, process.pid))

    def _termination(self, pod: Obj, outcome: ProcessOutcome, started: str) -> podstatus.Termination:
        pod_dir = self._config.pod_dir(*key_of(pod))
        message = _read_head(pod_dir / "termination-log", MESSAGE_LIMIT)
        policy = self._container(pod).get("terminationMessagePolicy", "File")
        if not message and outcome.exit_code != 0 and policy == "FallbackToLogsOnError":
            message = _log_tail(pod_dir / CONTAINER_LOG)
        if outcome.oom_killed:
            reason = "OOMKilled"
        elif outcome.exit_code == 0:
            reason = "Completed"
        elif outcome.killed_reason == "DeadlineExceeded":
            reason = "DeadlineExceeded"
        else:
            reason = "Error"
        return podstatus.Termination(outcome.exit_code, reason, message, started, format_time(now()))


def _evicted() -> dict[str, Any]:
    return podstatus.disruption_condition("EvictionByEvictionAPI", "Eviction API: evicting")


def _read_head(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as file:
            return file.read(limit).decode(errors="replace")
    except OSError:
        return ""


def _log_tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-LOG_FALLBACK_BYTES:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-LOG_FALLBACK_LINES:])
