"""The runner is level-triggered: a new runner adopts what an old one left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil
from lightkube.resources.batch_v1 import Job
from lightkube.types import CascadeType

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.jobrunner import JobRunner, JobRunnerConfig
from scenefarm_devkit.jobrunner.runner import client_for

from .conftest import Harness, Obj, python_job


async def _exists(path: Path) -> bool:
    return path.exists()


async def test_a_restarted_runner_fails_orphaned_pods_like_a_lost_node_and_carries_on(tmp_path: Path) -> None:
    config = JobRunnerConfig(state_dir=tmp_path / "runner", poll_interval=0.05)
    marker = tmp_path / "attempts"
    code = (
        f"import time; p = {str(marker)!r}; open(p, 'a').write('x'); "
        "time.sleep(60 if len(open(p).read()) == 1 else 0)"
    )
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    async with DevCluster(tmp_path / "cluster") as cluster:
        first = JobRunner.for_cluster(cluster, config)
        first_task = asyncio.create_task(first.run())
        second_task = None
        harness = Harness(cluster, first, client_for(cluster), config.state_dir)
        try:
            await harness.create(python_job("survivor", code, backoffLimit=0, podFailurePolicy=policy))

            async def running() -> Obj | None:
                pods = [
                    p for p in await harness.pods("survivor") if p.get("status", {}).get("phase") == "Running"
                ]
                return pods[0] if pods else None

            await harness.wait_for(lambda: _exists(marker))  # the first process is past its write
            orphan = await harness.wait_for(running)
            first_task.cancel()
            await asyncio.gather(first_task, return_exceptions=True)
            second = JobRunner.for_cluster(cluster, config)
            second_task = asyncio.create_task(second.run())
            job = await harness.wait_job("survivor", "Complete")
            assert job["status"]["succeeded"] == 1 and job["status"].get("failed", 0) == 0
            pods = {p["metadata"]["name"]: p for p in await harness.pods("survivor")}
            lost = pods[orphan["metadata"]["name"]]
            assert lost["status"]["phase"] == "Failed"
            terminated = lost["status"]["containerStatuses"][0]["state"]["terminated"]
            assert (terminated["exitCode"], terminated["reason"]) == (137, "ContainerStatusUnknown")
            disruption = next(c for c in lost["status"]["conditions"] if c["type"] == "DisruptionTarget")
            assert disruption["reason"] == "DeletionByPodGC"
        finally:
            for task in (first_task, second_task):
                if task is not None:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            await harness.client.close()


async def test_deleting_a_job_kills_its_processes_and_its_pods_go(harness: Harness, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    await harness.create(python_job("abandoned", code))

    async def started() -> bool:
        return pid_file.exists() and pid_file.read_text() != ""

    await harness.wait_for(started)
    pid = int(pid_file.read_text())
    await harness.client.delete(Job, "abandoned", namespace="default", cascade=CascadeType.BACKGROUND)

    async def cleaned_up() -> bool:
        return not psutil.pid_exists(pid) and not await harness.pods("abandoned")

    await harness.wait_for(cleaned_up, timeout=10)
