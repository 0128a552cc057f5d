"""User actions and lifecycle rules on the dev cluster: retry, edits, suspend, cancel, partial
combine, deadlines, TTL, and the cluster-wide queue with priorities."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import psutil
import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from scenefarm_cli.main import main as scenefarm
from scenefarm_contract.renderer import artifact_prefix
from scenefarm_devkit.devenv import ARTIFACT_CLAIM, DevEnv
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import (
    create,
    is_deleted,
    jobs_of,
    status_of,
    tiny_scene,
    video_request,
    wait_for,
    wait_terminal,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lenv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    # transient failures fail at once, so a test can hold a scene failed until it asks for a retry
    with DevEnv(
        tmp_path_factory.mktemp("lifecycle"), operator_env={"SCENEFARM_TRANSIENT_RETRIES": "0"}
    ) as env:
        env.start_operator()
        yield env


@pytest.fixture(scope="module")
def lclient(lenv: DevEnv) -> Client:
    return lenv.client()


def patch_spec(client: Client, name: str, spec: dict[str, Any]) -> None:
    client.patch(VideoRequest, name, {"spec": spec}, namespace="default", patch_type=PatchType.MERGE)


def scene_jobs(client: Client, name: str) -> list[str]:
    return sorted(
        j.metadata.name for j in jobs_of(client, name) if j.metadata.labels["scenefarm.dev/role"] == "scene"
    )


def processes_under(root: Path) -> list[psutil.Process]:
    """Live processes working in a directory of this dev environment (Pods and their children)."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(str(root)):
            found.append(process)
    return found


def run_action(env: DevEnv, action: str, name: str) -> None:
    """The user's command line: `scenefarm ACTION NAME -n default --kubeconfig ...`."""
    assert scenefarm([action, name, "-n", "default", "--kubeconfig", str(env.kubeconfig)]) == 0


def test_retry_reruns_only_the_failed_scene_then_combines(lenv, lclient):
    body = video_request("retry", [("good", "self.wait(0.3)"), ("blocked", "self.wait(0.3)")])
    body["spec"]["render"] |= {"parallelism": 1, "backoffLimit": 0}
    create(lclient, body)
    uid = lclient.get(VideoRequest, "retry", namespace="default").metadata.uid
    store = lenv.runner_config.claim_path("default", ARTIFACT_CLAIM) / artifact_prefix(
        "default", "retry", uid
    )
    (store / "scene-01.mp4").mkdir(parents=True)  # the store refuses this scene's file: exit 30
    failed = wait_terminal(lclient, "retry")
    assert failed["phase"] == "Failed" and failed["scenes"][1]["exitClass"] == 30
    good_video = store / "scene-00.mp4"
    rendered_at = good_video.stat().st_mtime_ns

    shutil.rmtree(store / "scene-01.mp4")
    run_action(lenv, "retry", "retry")
    wait_for(lambda: status_of(lclient, "retry").get("retryGeneration") == 1, 30, "the retry to be taken")
    status = wait_terminal(lclient, "retry")

    assert status["phase"] == "Succeeded", status.get("message")
    assert scene_jobs(lclient, "retry") == ["retry-s00-a1", "retry-s01-a1", "retry-s01-a2"]
    assert good_video.stat().st_mtime_ns == rendered_at  # never re-rendered
    assert [s["attempt"] for s in status["scenes"]] == [1, 2]


def test_editing_one_scene_re_renders_only_that_scene_and_combines_again(lenv, lclient):
    create(lclient, video_request("edit", [("a", "self.wait(0.3)"), ("b", "self.wait(0.3)")]))
    first = wait_terminal(lclient, "edit")
    assert first["phase"] == "Succeeded"
    scenes = lclient.get(VideoRequest, "edit", namespace="default")["spec"]["scenes"]
    scenes[1]["code"] = tiny_scene("S1", "self.add(Triangle()); self.wait(0.6)")
    patch_spec(lclient, "edit", {"scenes": scenes})

    def recombined() -> dict[str, Any] | None:
        status = status_of(lclient, "edit")
        done = status.get("phase") == "Succeeded" and status.get("observedGeneration") == 2
        return status if done else None

    second = wait_for(recombined, 120, "the edited request to finish again")
    assert scene_jobs(lclient, "edit") == ["edit-s00-a1", "edit-s01-a1", "edit-s01-a2"]
    assert second["output"]["sha256"] != first["output"]["sha256"]
    assert second["output"]["frames"] > first["output"]["frames"]


def test_suspend_stops_new_scene_jobs_and_resume_finishes(lenv, lclient):
    body = video_request("pause", [(f"p{i}", "self.wait(0.3)") for i in range(3)], suspend=True)
    create(lclient, body)
    wait_for(lambda: status_of(lclient, "pause").get("phase") == "Suspended", 30, "phase Suspended")
    time.sleep(1)
    assert scene_jobs(lclient, "pause") == []
    run_action(lenv, "resume", "pause")
    assert wait_terminal(lclient, "pause")["phase"] == "Succeeded"


def test_suspend_holds_the_running_job_and_resume_releases_exactly_it(lenv, lclient):
    body = video_request("hold", [("h0", "self.wait(6)"), ("h1", "self.wait(0.3)")])
    body["spec"]["render"] |= {"parallelism": 1}
    create(lclient, body)
    wait_for(
        lambda: status_of(lclient, "hold").get("scenes", [{}])[0].get("phase") == "Running", 120, "h0 running"
    )
    run_action(lenv, "suspend", "hold")
    wait_for(lambda: status_of(lclient, "hold").get("phase") == "Suspended", 30, "phase Suspended")
    job = wait_for(
        lambda: next((j for j in jobs_of(lclient, "hold") if j.spec.suspend), None), 30, "a held Job"
    )
    assert job.metadata.name == "hold-s00-a1"
    assert (job.metadata.annotations or {}).get("scenefarm.dev/suspended") == "true"
    assert "held by" not in status_of(lclient, "hold")["scenes"][0].get("message", "")
    assert scene_jobs(lclient, "hold") == ["hold-s00-a1"]  # nothing new starts while suspended
    run_action(lenv, "resume", "hold")
    assert wait_terminal(lclient, "hold")["phase"] == "Succeeded"
    released = lclient.get(Job, "hold-s00-a1", namespace="default")
    assert "scenefarm.dev/suspended" not in (released.metadata.annotations or {})
    assert scene_jobs(lclient, "hold") == ["hold-s00-a1", "hold-s01-a1"]  # resumed, not started anew


def test_a_recreated_namesake_waits_for_the_old_childrens_removal_and_renders_its_own_plan(lenv, lclient):
    create(lclient, video_request("reborn", [("old", "self.wait(0.3)")]))
    assert wait_terminal(lclient, "reborn")["phase"] == "Succeeded"
    api = lenv.cluster.cluster.server.api
    api.gc_delay = 8.0  # the garbage collector runs later, as a real (asynchronous) one does
    try:
        lclient.delete(VideoRequest, "reborn", namespace="default")
        wait_for(lambda: is_deleted(lclient, "reborn"), 30, "the old reborn to go")
        assert lclient.get(ConfigMap, "reborn-plan", namespace="default")  # its children are still there
        create(lclient, video_request("reborn", [("one", "self.wait(0.3)"), ("two", "self.wait(0.3)")]))

        def waiting_status() -> dict[str, Any] | None:
            status = status_of(lclient, "reborn")
            return status if "garbage collector" in status.get("message", "") else None

        waiting = wait_for(waiting_status, 30, "the new reborn to wait for the old one's children")
        assert "reborn-plan" in waiting["message"] and waiting["phase"] == "Pending"
        ready = next(c for c in waiting["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "WaitingForNamesake"
        assert not waiting.get("scenes")  # the old plan is not adopted
        # once the collector removed the leftovers, the new request plans and renders its own scenes
        final = wait_terminal(lclient, "reborn")
    finally:
        api.gc_delay = None
    assert final["phase"] == "Succeeded", final["message"]
    assert [s["name"] for s in final["scenes"]] == ["one", "two"]
    new_uid = lclient.get(VideoRequest, "reborn", namespace="default").metadata.uid
    owned = jobs_of(lclient, "reborn")  # the old namesake's clean-up Job is not labelled as a child
    assert {r.uid for j in owned for r in j.metadata.ownerReferences or ()} == {new_uid}


def test_cancel_stops_every_job_and_ends_cancelled(lenv, lclient):
    create(lclient, video_request("stop", [(f"c{i}", "self.wait(4)") for i in range(3)]))
    wait_for(lambda: status_of(lclient, "stop").get("phase") == "Rendering", 30, "rendering")
    run_action(lenv, "cancel", "stop")
    status = wait_terminal(lclient, "stop")

    assert status["phase"] == "Cancelled"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "Cancelled"
    wait_for(
        lambda: all(j.status.succeeded or j.status.failed for j in jobs_of(lclient, "stop")),
        30,
        "no running Jobs",
    )
    assert {s["phase"] for s in status["scenes"]} <= {"Succeeded", "Stopped"}
    # Cancelled is final: the API server refuses undoing it, and the CLI refuses to resume it.
    with pytest.raises(ApiError) as refused:
        lclient.patch(VideoRequest, "stop", {"spec": {"cancel": False}}, namespace="default",
                      patch_type=PatchType.MERGE)  # fmt: skip
    assert refused.value.status.code == 422
    assert "Cancelled is final" in str(refused.value.status.message)
    assert scenefarm(["resume", "stop", "-n", "default", "--kubeconfig", str(lenv.kubeconfig)]) != 0


def test_skip_failed_combines_the_scenes_that_succeeded_and_marks_the_output_partial(lenv, lclient):
    scenes = [("one", "self.wait(0.3)"), ("bad", "raise ValueError('nope')"), ("three", "self.wait(0.3)")]
    create(lclient, video_request("partial", scenes, output={"partial": "SkipFailed"}))
    status = wait_terminal(lclient, "partial")

    assert status["phase"] == "Succeeded", status.get("message")
    assert status["output"]["partial"] is True and status["output"]["missingScenes"] == ["bad"]
    kept = [
        lenv.artifact_path("default", s["artifact"]) for s in status["scenes"] if s["phase"] == "Succeeded"
    ]
    assert len(kept) == 2
    assert status["output"]["frames"] == sum(av.open(str(p)).streams.video[0].frames for p in kept)


def test_request_deadline_fails_with_reason_deadline_exceeded_and_leaves_no_process(lenv, lclient):
    create(lclient, video_request("late", [("slow", "while True: pass")], activeDeadlineSeconds=10))
    status = wait_terminal(lclient, "late", timeout=60)

    assert status["phase"] == "Failed"
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "DeadlineExceeded"
    # The runaway scene (and the renderer's sandboxed child in its own session) is gone too.
    wait_for(lambda: not processes_under(lenv.state_dir), 30, "no process left running the scene")


def test_ttl_after_finished_deletes_the_request_and_its_children(lenv, lclient):
    create(lclient, video_request("short-lived", [("x", "self.wait(0.2)")], ttlSecondsAfterFinished=3))
    wait_terminal(lclient, "short-lived")
    uid = lclient.get(VideoRequest, "short-lived", namespace="default").metadata.uid
    files = lenv.runner_config.claim_path("default", ARTIFACT_CLAIM) / artifact_prefix(
        "default", "short-lived", uid
    )
    assert (files / "video.mp4").is_file()
    wait_for(lambda: is_deleted(lclient, "short-lived"), 90, "the request to be deleted by its TTL")
    wait_for(lambda: not [j for j in jobs_of(lclient, "short-lived") if j.metadata.ownerReferences], 30,
             "its Jobs to be collected")  # fmt: skip
    # its files leave the store too (a clean-up Job, which then goes by its own TTL)
    wait_for(lambda: not files.exists(), 90, f"{files} to be removed")


def test_cluster_cap_queues_requests_by_priority(tmp_path: Path):
    with DevEnv(tmp_path, operator_env={"SCENEFARM_MAX_RUNNING_SCENE_JOBS": "1"}) as env:
        env.start_operator()
        client = env.client()
        create(client, video_request("low", [(f"l{i}", "self.wait(1)") for i in range(3)]))
        wait_for(lambda: scene_jobs(client, "low"), 30, "the first low-priority Job")
        create(client, video_request("high", [(f"h{i}", "self.wait(0.2)") for i in range(2)], priority=10))
        position = wait_for(lambda: status_of(client, "low").get("queuePosition"), 30, "a queue position")
        assert position >= 1
        assert wait_terminal(client, "high")["phase"] == "Succeeded"
        low_jobs_when_high_done = scene_jobs(client, "low")
        assert wait_terminal(client, "low")["phase"] == "Succeeded"

    assert len(low_jobs_when_high_done) < 3  # high jumped the queue ahead of low's remaining scenes
