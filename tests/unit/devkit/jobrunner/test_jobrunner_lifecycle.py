"""Instant mode, restarts of the runner, and Jobs deleted under running Pods."""

from __future__ import annotations

import dataclasses

import pytest

from scenefarm_contract.renderer import TerminationMessage, render_argv
from scenefarm_devkit.instant_renders import synthetic_end
from scenefarm_devkit.jobrunner import JobRunnerConfig

from .conftest import Harness, Obj


def render_job(name: str, index: int) -> Obj:
    args = render_argv(code_path="/plan/scene.py", class_name="Intro", quality="medium", scene_index=index,
                       prefix="default/demo-1234abcd", store="Volume", store_root="/artifacts")  # fmt: skip
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "renderer", "command": ["python", "-m", "scenefarm_renderer"], "args": args}]}}},
    }  # fmt: skip


@pytest.fixture
def runner_config(runner_config: JobRunnerConfig) -> JobRunnerConfig:
    return dataclasses.replace(runner_config, instant=synthetic_end)


async def test_instant_mode_succeeds_at_once_with_a_synthetic_end(harness: Harness) -> None:
    for i in range(3):
        await harness.create(render_job(f"scene-{i}", i))
    for i in range(3):
        job = await harness.wait_job(f"scene-{i}", "Complete")
        assert job["status"]["succeeded"] == 1
        [pod] = await harness.pods(f"scene-{i}")
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        message = TerminationMessage.from_json(terminated["message"])
        assert message is not None
        assert (message.exitClass, message.artifact, message.frames) == (
            0,
            f"default/demo-1234abcd/scene-{i:02d}.mp4",
            15,
        )
        assert (message.width, message.height, message.durationSeconds) == (1280, 720, 1.0)
    assert harness.runner.kubelet.running == 0
    status_writes = harness.cluster.request_log.matching(
        identity="job-controller", resource="pods", subresource="status"
    )
    assert len(status_writes) == 3  # one per Pod: straight to Succeeded
