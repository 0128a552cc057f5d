"""The operator under injected faults on the dev cluster: SIGKILLed at random moments, an API
server failing a tenth of its writes, render Pods evicted mid-render, Appwrite and Gemini down.

Most runs use the instant Job runner (Jobs succeed at once with synthetic termination messages),
so the suite tests the control plane quickly; eviction needs real processes. Every random choice
comes from a seeded RNG, so a failing run can be replayed. docs/reliability.md records the figures.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Pod

from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.gemini_double import GeminiDouble, Reply
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.web.rows import video_row_id

from .conftest import (
    APPWRITE_KEY,
    TERMINAL,
    create,
    jobs_of,
    status_of,
    video_request,
    wait_for,
    wait_terminal,
)

pytestmark = pytest.mark.integration

SEED = 20261125
KILL_RUNS = 10
KILLS_PER_RUN = 3  # 30 SIGKILLs in all
REQUESTS_PER_RUN = 3


@dataclasses.dataclass
class Audit:
    """What went wrong across a set of requests; every figure's goal is 0."""

    lost: list[str]  # not terminal (or not Succeeded, where every request should succeed)
    duplicate_jobs: list[str]  # a scene+attempt or combine created more than once
    rerendered: list[str]  # a scene rendered again (a second attempt or a second Pod)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicate_jobs or self.rerendered)


def pods_by_job(env: DevEnv) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for (group, plural, _ns, _name), obj in list(env.cluster.objects.items()):
        if (group, plural) == ("", "pods"):
            counts[obj["metadata"].get("labels", {}).get("job-name", "")] += 1
    return counts


def job_creates_by_operator(env: DevEnv) -> int:
    return len(
        env.cluster.request_log.matching(identity="operator", resource="jobs", verb="create", status=201)
    )


def audit(env: DevEnv, client: Client, expected: dict[str, int]) -> Audit:
    """`expected`: request name -> its scene count. Each should have Succeeded, one Job per scene."""
    lost, duplicates, rerendered = [], [], []
    pods = pods_by_job(env)
    for name, scenes in expected.items():
        status = status_of(client, name)
        if status.get("phase") != "Succeeded":
            lost.append(f"{name}: {status.get('phase')} {status.get('message', '')}")
        jobs = [j.metadata.name for j in jobs_of(client, naming.base_name(name, 63))]
        scene_jobs = sorted(n for n in jobs if "-combine" not in n)
        wanted = [naming.scene_job_name(name, i, 1) for i in range(scenes)]
        rerendered += [n for n in scene_jobs if n not in wanted]  # any attempt > 1
        rerendered += [f"{n} ({pods[n]} pods)" for n in scene_jobs if pods[n] > 1]
        combines = [n for n in jobs if "-combine" in n]
        if len(combines) > 1:
            duplicates.append(f"{name}: combines {combines}")
    # names are deterministic, so a second create of the same Job is a 409; a 201 per Job is the proof
    existing = sum(len(jobs_of(client, naming.base_name(n, 63))) for n in expected)
    if job_creates_by_operator(env) != existing:
        duplicates.append(f"{job_creates_by_operator(env)} Jobs created for {existing} Jobs existing")
    return Audit(lost, duplicates, rerendered)


# ---- the operator SIGKILLed at random moments --------------------------------------------------


def operator_writes(env: DevEnv, since: int) -> list[str]:
    records = list(env.cluster.request_log)[since:]
    return [f"{r.verb} {r.resource}{'/' + r.subresource if r.subresource else ''}" for r in records
            if r.identity == "operator" and r.is_write]  # fmt: skip


def kill_after(env: DevEnv, client: Client, names: list[str], rng: random.Random) -> str:
    """SIGKILL the operator at a random point of its work: after its Nth write, or while starting.

    Returns the last write it made before it died (the kill point)."""
    since = len(env.cluster.request_log)
    if rng.random() < 0.2:  # a crash loop: killed before it did anything
        time.sleep(rng.uniform(0.1, 1.5))
    else:
        n, deadline = rng.randint(1, 25), time.monotonic() + 20
        while len(operator_writes(env, since)) < n and time.monotonic() < deadline:
            if all(status_of(client, name).get("phase") in TERMINAL for name in names):
                break  # fewer writes were left than drawn: kill it idle
            time.sleep(0.03)
    env.stop_operator(signal.SIGKILL)
    writes = operator_writes(env, since)
    return f"after {writes[-1]}" if writes else "before its first write"


def test_operator_killed_at_random_moments_loses_no_request_and_duplicates_no_job(tmp_path: Path):
    rng = random.Random(SEED)
    expected: dict[str, int] = {}
    points: collections.Counter[str] = collections.Counter()
    with DevEnv(tmp_path, instant=True) as env:
        env.start_operator()
        client = env.client()
        for run in range(KILL_RUNS):
            names = [f"kill-{run}-{i}" for i in range(REQUESTS_PER_RUN)]
            for name in names:
                expected[name] = rng.randint(2, 5)
                scenes = [(f"s{j}", "self.wait(0.2)") for j in range(expected[name])]
                render = {"quality": "low", "parallelism": rng.randint(1, 2)}
                create(client, video_request(name, scenes, render=render))
            for _ in range(KILLS_PER_RUN):
                points[kill_after(env, client, names, rng)] += 1
                time.sleep(rng.uniform(0.0, 0.3))  # Jobs go on finishing while nobody watches
                env.start_operator()
            for name in names:
                wait_terminal(client, name, timeout=60)
        result = audit(env, client, expected)
        log = (tmp_path / "operator.log").read_text(errors="replace")

    kills = sum(points.values())
    print(f"kills={kills} requests={len(expected)} scenes={sum(expected.values())} points={dict(points)}")
    print(f"audit={result}")
    assert kills >= 30
    assert result.clean, result
    assert "Traceback" not in log


# ---- the API server failing 10% of the operator's writes ---------------------------------------


def run_with_faults(tmp_path: Path, rules: list[FaultRule], timeout: float) -> tuple[Audit, list[Any], int]:
    expected = {f"flaky-{i}": 1 + i % 4 for i in range(8)}
    with DevEnv(tmp_path, instant=True) as env:
        env.cluster.faults.extend(rules)
        env.start_operator()
        client = env.client()
        for name, scenes in expected.items():
            create(client, video_request(name, [(f"s{j}", "self.wait(0.2)") for j in range(scenes)]))
        for name in expected:
            wait_for(
                lambda n=name: status_of(client, n).get("phase") in TERMINAL, timeout, f"{name} to finish"
            )
        writes = len([r for r in env.cluster.request_log if r.identity == "operator" and r.is_write])
        result = audit(env, client, expected)
        plans = [
            env.cluster.get_object("configmaps", "default", naming.plan_configmap_name(n)) for n in expected
        ]
    print(f"writes={writes} injected={[(r.status, r.fired) for r in rules]} audit={result}")
    return result, plans, writes


def test_all_requests_finish_when_a_tenth_of_writes_answer_500(tmp_path: Path):
    errors = FaultRule(probability=0.10, status=500, seed=SEED, identities={"operator"})
    result, plans, _ = run_with_faults(tmp_path, [errors], timeout=60)

    assert errors.fired >= 10  # the faults really hit
    assert result.clean, result
    assert all(plans)  # render Pods mount the plan: it must exist, not only in the operator's memory


def test_all_requests_finish_when_a_tenth_of_writes_answer_500_or_409(tmp_path: Path):
    # two rules, each a 5% share of all writes: the second only sees what the first let through
    errors = FaultRule(probability=0.05, status=500, seed=SEED, identities={"operator"})
    conflicts = FaultRule(probability=0.05 / 0.95, status=409, seed=SEED + 1, identities={"operator"})
    result, plans, _ = run_with_faults(tmp_path, [errors, conflicts], timeout=60)

    assert errors.fired >= 5 and conflicts.fired >= 5
    assert result.clean, result
    assert all(plans)


# ---- render Pods evicted mid-render ------------------------------------------------------------


def running_pod(client: Client, job: str) -> str | None:
    """A Pod of `job` whose process has started (the runner reports Running once it has a pid)."""
    for pod in client.list(Pod, namespace="default", labels={"job-name": job}):
        if pod.status and pod.status.phase == "Running":
            return str(pod.metadata.name)
    return None


def test_evicted_render_pods_are_not_counted_against_backoff_and_their_scenes_complete(tmp_path: Path):
    slow = "self.play(Rotate(Square(), PI), run_time=4)"  # about 3 s of rendering
    body = video_request(
        "evicted", [("one", slow), ("two", slow)], render={"quality": "low", "backoffLimit": 0}
    )
    with DevEnv(tmp_path) as env:
        env.start_operator()
        client = env.client()
        create(client, body)
        jobs = [naming.scene_job_name("evicted", i, 1) for i in (0, 1)]
        evicted = []
        for job in jobs:
            pod = wait_for(lambda j=job: running_pod(client, j), 90, f"{job} to render")
            env.evict("default", pod)
            evicted.append(pod)
        status = wait_terminal(client, "evicted", timeout=180)
        pods = {job: list(client.list(Pod, namespace="default", labels={"job-name": job})) for job in jobs}

    assert status["phase"] == "Succeeded", status.get("message")
    assert [s["attempt"] for s in status["scenes"]] == [1, 1]  # the same Job went on, no new attempt
    for job, job_pods in pods.items():
        assert len(job_pods) == 2, job  # the evicted Pod and its replacement
        gone = next(p for p in job_pods if p.metadata.name in evicted)
        conditions = {c.type: c.status for c in gone.status.conditions or []}
        assert gone.status.phase == "Failed" and conditions.get("DisruptionTarget") == "True"


# ---- Appwrite and Gemini down at the same time -------------------------------------------------


@pytest.fixture(scope="module")
def oenv(
    tmp_path_factory: pytest.TempPathFactory, appwrite: AppwriteDoubleThread, gemini: GeminiDouble
) -> Iterator[DevEnv]:
    settings = {
        "SCENEFARM_APPWRITE_ENDPOINT": appwrite.endpoint,
        "SCENEFARM_APPWRITE_PROJECT": appwrite.double.project,
        "SCENEFARM_APPWRITE_API_KEY": APPWRITE_KEY,
        "SCENEFARM_GEMINI_API_KEY": "test-key",
        "SCENEFARM_GEMINI_BASE_URL": gemini.base_url,
    }
    with DevEnv(tmp_path_factory.mktemp("outage"), instant=True, operator_env=settings) as env:
        env.start_operator()
        yield env


def planned_request(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"topic": f"topic of {name}", "description": "Two points.", "planner": {"mode": "Gemini"}},
    }


def finished_and_mirrored(client: Client, appwrite: AppwriteDoubleThread, name: str) -> dict[str, Any] | None:
    status = status_of(client, name)
    if status.get("phase") not in TERMINAL:
        return None
    uid = client.get(VideoRequest, name, namespace="default").metadata.uid
    rows = appwrite.row_history("scenefarm", "videos", video_row_id(uid))
    return status if rows and rows[-1]["status"] == "completed" else None


def test_request_finishes_and_rows_catch_up_after_appwrite_and_gemini_were_both_down(oenv, appwrite, gemini):
    # Gemini fails three times in a row (the SDK's own retry budget absorbs that), Appwrite for 8 s
    appwrite.faults.outage(8.0, kind="503")
    gemini.script("plan", Reply.error(503), Reply.error(503), Reply.error(503))
    client = oenv.client()
    create(client, planned_request("both-down"))
    status = wait_for(
        lambda: finished_and_mirrored(client, appwrite, "both-down"), 90, "the video and its row"
    )

    assert status["phase"] == "Succeeded", status.get("message")
    assert status["appwrite"]["synced"] is True


def test_request_survives_a_gemini_outage_longer_than_one_planning_call(oenv, appwrite, gemini):
    appwrite.faults.outage(8.0, kind="503")
    gemini.script("plan", *[Reply.error(503)] * 6)  # more than one call's 4 attempts
    client = oenv.client()
    create(client, planned_request("long-outage"))
    status = wait_terminal(client, "long-outage", timeout=90)

    assert status["phase"] == "Succeeded", status.get("message")
