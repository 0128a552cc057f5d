"""A VideoRequest from apply to video on the dev cluster, with real low-quality renders."""

from __future__ import annotations

import signal
import time
from typing import Any

import av
import pytest
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap

from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import create, example, is_deleted, jobs_of, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration


def duration(path: Any) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.frames / stream.average_rate)


def test_explicit_example_becomes_one_video_as_long_as_its_scenes(env, client):
    body = example("explicit-scenes.yaml")
    create(client, body)
    status = wait_terminal(client, "shapes")

    assert status["phase"] == "Succeeded", status.get("message")
    assert status["progress"] == 100
    assert [s["phase"] for s in status["scenes"]] == ["Succeeded", "Succeeded"]
    assert (status["scenesTotal"], status["scenesSucceeded"], status["scenesFailed"]) == (2, 2, 0)
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    video = env.artifact_path("default", status["output"]["uri"])
    scenes = [env.artifact_path("default", s["artifact"]) for s in status["scenes"]]
    assert video.is_file() and all(p.is_file() for p in scenes)
    assert duration(video) == pytest.approx(sum(duration(p) for p in scenes), abs=2 / 15)
    assert status["output"]["frames"] == sum(int(av.open(str(p)).streams.video[0].frames) for p in scenes)


def test_template_planner_example_renders_title_points_and_closing(env, client):
    create(client, example("template-planner.yaml"))
    status = wait_terminal(client, "newtons-laws", timeout=300)

    assert status["phase"] == "Succeeded", status.get("message")
    assert [s["name"] for s in status["scenes"]] == ["title", "point-1", "point-2", "closing"]
    assert env.artifact_path("default", status["output"]["uri"]).is_file()


def test_scene_with_broken_code_fails_the_request_naming_the_scene_and_its_error(env, client):
    body = video_request(
        "broken",
        [("fine", "self.wait(0.2)"), ("crash", "raise ValueError('no cart here')"), ("slow", "self.wait(6)")],
    )
    create(client, body)
    status = wait_terminal(client, "broken")

    assert status["phase"] == "Failed"
    assert "'crash'" in status["message"] and "no cart here" in status["message"]
    crash = status["scenes"][1]
    assert crash["phase"] == "Failed" and crash["exitClass"] == 11
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "SceneFailed"
    # Every scene's phase is true to its Job, and nothing is left running for a request that is over.
    jobs = {j.metadata.name: j for j in jobs_of(client, "broken")}
    for scene in status["scenes"]:
        job = jobs.get(scene.get("job", ""))
        if scene["phase"] == "Succeeded":
            assert job is not None and job.status.succeeded, scene
        else:
            assert scene["phase"] in ("Failed", "Stopped"), scene
            assert job is None or not job.status.succeeded, scene
    assert status["scenes"][2]["phase"] in ("Succeeded", "Stopped")
    wait_for(
        lambda: all(j.status.succeeded or j.status.failed for j in jobs_of(client, "broken")),
        30,
        "no Job running",
    )


def test_code_breaking_the_policy_fails_planning_before_any_job_starts(env, client):
    create(client, video_request("escape", [("sneaky", "utils.tex_file_writing.subprocess.run(['id'])")]))
    status = wait_terminal(client, "escape")

    assert status["phase"] == "Failed"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "PlanningFailed"
    assert "sneaky" in status["message"] and "subprocess" in status["message"]
    assert jobs_of(client, "escape") == []


def test_parallelism_two_over_five_scenes_never_runs_more_than_two_scene_jobs(env, client):
    body = example("render-settings.yaml")
    body["spec"]["render"]["parallelism"] = 2
    create(client, body)
    most = 0
    while status_of(client, "pythagoras").get("phase") not in ("Succeeded", "Failed"):
        scene_jobs = [
            j for j in jobs_of(client, "pythagoras") if j.metadata.labels["scenefarm.dev/role"] == "scene"
        ]
        unfinished = [j for j in scene_jobs if not (j.status and (j.status.succeeded or j.status.failed))]
        most = max(most, len(unfinished))
        assert len(unfinished) <= 2, [j.metadata.name for j in unfinished]
        time.sleep(0.1)
    status = status_of(client, "pythagoras")
    assert status["phase"] == "Succeeded", status.get("message")
    assert status["scenesTotal"] == 5
    assert most == 2  # the two slots were used


def test_operator_killed_while_rendering_finishes_after_restart_without_duplicate_jobs(env, client):
    scenes = [(f"part-{i}", "self.add(Square()); self.wait(1)") for i in range(4)]
    create(client, video_request("restart", scenes, render={"quality": "low", "parallelism": 2}))
    wait_for(lambda: status_of(client, "restart").get("phase") == "Rendering", 60, "rendering to start")
    env.stop_operator(signal.SIGKILL)
    time.sleep(1)
    env.start_operator()
    status = wait_terminal(client, "restart")

    assert status["phase"] == "Succeeded", status.get("message")
    names = [j.metadata.name for j in jobs_of(client, "restart")]
    assert sorted(names) == sorted({*names})
    scene_jobs = [n for n in names if "-combine" not in n]
    assert len(scene_jobs) == 4 and len(names) == 5


def test_deleting_a_request_removes_its_jobs_and_plan(env, client):
    create(client, video_request("doomed", [("only", "self.wait(0.2)")]))
    wait_terminal(client, "doomed")
    assert jobs_of(client, "doomed")
    client.delete(VideoRequest, "doomed", namespace="default")
    wait_for(lambda: is_deleted(client, "doomed"), 30, "the request to be deleted (finalizer released)")
    wait_for(lambda: not jobs_of(client, "doomed"), 30, "its Jobs to be collected")
    cms = [c.metadata.name for c in client.list(ConfigMap, namespace="default")]
    assert "doomed-plan" not in cms
    left = [j for j in client.list(Job, namespace="default") if j.metadata.name.startswith("doomed-")]
    # Only the clean-up Job that removes its files stays a while (ttlSecondsAfterFinished), owned by nobody.
    assert [
        (j.metadata.labels["scenefarm.dev/role"], j.metadata.labels["scenefarm.dev/cleanup-of"]) for j in left
    ] == [("cleanup", "doomed")]
    assert not left[0].metadata.ownerReferences
