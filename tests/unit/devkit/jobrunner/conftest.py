"""Fixtures: a dev cluster with the Job runner as its extra task, and an admin lightkube client."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.jobrunner import JobRunner, JobRunnerConfig
from scenefarm_devkit.jobrunner.runner import client_for

Obj = dict[str, Any]


def python_job(name: str, code: str, **spec: Any) -> Obj:
    """A Job whose one container runs `python -c code`; extra container fields via `container=`."""
    container = {"name": "main", "image": "python:3.11", "command": ["python", "-c", code],
                 **spec.pop("container", {})}  # fmt: skip
    pod_spec = {"restartPolicy": "Never", "containers": [container], **spec.pop("pod", {})}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}, **spec},
    }


@dataclasses.dataclass
class Harness:
    cluster: DevCluster
    runner: JobRunner
    client: AsyncClient
    state_dir: Path

    async def create(self, manifest: Obj) -> Obj:
        created = await self.client.create(Job.from_dict(manifest))  # type: ignore[call-overload]
        return dict(created.to_dict())

    async def job(self, name: str) -> Obj:
        return dict((await self.client.get(Job, name, namespace="default")).to_dict())

    async def pods(self, job_name: str) -> list[Obj]:
        pods = self.client.list(Pod, namespace="default", labels={"batch.kubernetes.io/job-name": job_name})
        return [p.to_dict() async for p in pods]

    async def wait_job(self, name: str, condition: str, timeout: float = 20) -> Obj:
        """The Job once it has `condition`=True (fails the test with the last status otherwise)."""
        job: Obj = {}
        async with asyncio.timeout(timeout):
            while True:
                job = await self.job(name)
                if has_condition(job, condition):
                    return job
                await asyncio.sleep(0.05)

    async def wait_for(self, check: Callable[[], Any], timeout: float = 20) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                result = await check()
                if result:
                    return result
                await asyncio.sleep(0.05)


def has_condition(job: Obj, kind: str, status: str = "True") -> bool:
    return any(
        c["type"] == kind and c["status"] == status for c in (job.get("status") or {}).get("conditions") or []
    )


def condition(job: Obj, kind: str) -> Obj:
    return next(c for c in job["status"]["conditions"] if c["type"] == kind)


@pytest.fixture
def runner_config(tmp_path: Path) -> JobRunnerConfig:
    return JobRunnerConfig(state_dir=tmp_path / "runner", max_local_processes=4, poll_interval=0.05)


@pytest.fixture
async def harness(tmp_path: Path, runner_config: JobRunnerConfig) -> AsyncIterator[Harness]:
    started: list[JobRunner] = []

    async def hook(cluster: DevCluster) -> None:
        runner = JobRunner.for_cluster(cluster, runner_config)
        started.append(runner)
        await runner.run()

    async with DevCluster(tmp_path / "cluster", extra_tasks=[hook], bookmark_interval=0.2) as cluster:
        admin = client_for(cluster)
        try:
            while not started:
                await asyncio.sleep(0.01)
            yield Harness(cluster, started[0], admin, runner_config.state_dir)
        finally:
            await admin.close()
        assert not cluster.task_errors


PY = sys.executable
