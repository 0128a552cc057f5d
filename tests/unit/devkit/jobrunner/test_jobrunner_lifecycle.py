"""Instant mode, restarts of the runner, and Jobs deleted under running Pods."""

from __future__ import annotations

import dataclasses

import pytest

from scenefarm_contract.chunks import indexed_chunk_argv
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
            30,  # 1 s at medium quality's 30 fps
        )
        assert (message.width, message.height, message.durationSeconds) == (1280, 720, 1.0)
    assert harness.runner.kubelet.running == 0
    status_writes = harness.cluster.request_log.matching(
        identity="job-controller", resource="pods", subresource="status"
    )
    assert len(status_writes) == 3  # one per Pod: straight to Succeeded


async def test_instant_mode_renders_each_chunk_of_an_indexed_job_from_its_completion_index(
    harness: Harness,
) -> None:
    manifest = render_job("long-chunks", 1)
    manifest["spec"] |= {
        "completionMode": "Indexed",
        "completions": 3,
        "parallelism": 3,
        "backoffLimitPerIndex": 2,
    }
    manifest["spec"]["template"]["spec"]["containers"][0]["args"] += indexed_chunk_argv(
        edges=[0, 30, 90, 150]
    )
    await harness.create(manifest)
    job = await harness.wait_job("long-chunks", "Complete")
    assert job["status"]["completedIndexes"] == "0-2"
    chunks = {}
    for pod in await harness.pods("long-chunks"):
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        message = TerminationMessage.from_json(terminated["message"])
        assert message is not None
        chunks[pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]] = (
            message.artifact, message.chunk, message.startFrame, message.endFrame,
        )  # fmt: skip
    assert chunks == {
        "0": ("default/demo-1234abcd/scene-01.chunk-00.mp4", 0, 0, 30),
        "1": ("default/demo-1234abcd/scene-01.chunk-01.mp4", 1, 30, 90),
        "2": ("default/demo-1234abcd/scene-01.chunk-02.mp4", 2, 90, 150),
    }
