"""The operator SIGKILLed at the moments where a restart could decide differently, and writes whose
answer is lost.

Kill points: inside a retry (after the retried attempt is created), inside healing (after the
fixed code is stored, before its Job), inside combine (after the combine Job is created), and
during a planner-outage backoff. Instant mode renders nothing: scenes named `Flaky2` fail their
first attempt (exit 11), so healing and retries run without real renders. The audit counts what
docs/reliability.md records: requests lost, duplicate Jobs, attempts nobody asked for, and LLM
calls repeated after a restart.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Event
from lightkube.types import PatchType

from scenefarm_devkit.apiserver.faults import FaultRule
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.gemini_double import GeminiDouble, Reply
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import create, jobs_of, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("SCENEFARM_KILL_ROUNDS", "13"))  # x 4 kill points = 52 SIGKILLs
OUTAGES = 2  # plan calls of each outage request that meet 503s before one succeeds
FLAKY = "from manim import *\n\n\nclass Flaky2(Scene):\n    def construct(self):\n        self.wait(0.2)\n"


@pytest.fixture(scope="module")
def kenv(tmp_path_factory: pytest.TempPathFactory, gemini: GeminiDouble) -> Iterator[DevEnv]:
    settings = {
        "SCENEFARM_GEMINI_API_KEY": "test-key",
        "SCENEFARM_GEMINI_BASE_URL": gemini.base_url,
        "SCENEFARM_PLANNER_RETRY_BASE_SECONDS": "1",
    }
    with DevEnv(tmp_path_factory.mktemp("kills"), instant=True, operator_env=settings) as env:
        env.start_operator()
        yield env


def planner_unavailable(client: Client, name: str) -> bool:
    """The operator's PlannerUnavailable Event on the request: it met an outage (Events stay)."""
    fields: dict[str, Any] = {"involvedObject.name": name, "reason": "PlannerUnavailable"}
    return bool(list(client.list(Event, namespace="default", fields=fields)))


def kill_when(env: DevEnv, seen: Callable[[], bool], timeout: float = 120) -> bool:
    """SIGKILL the operator as soon as `seen()` holds (then start it again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if seen():
            env.stop_operator(signal.SIGKILL)
            env.start_operator()
            return True
        time.sleep(0.01)
    return False


def patched_configmap(env: DevEnv, request: str, since: int) -> bool:
    """The operator patched the request's plan ConfigMap (a fix stored) since `since`."""
    records = list(env.cluster.request_log)[since:]
    plan = naming.plan_configmap_name(request)
    return any(r.identity == "operator" and r.verb == "patch" and r.name == plan for r in records)


def job_exists(env: DevEnv, name_prefix: str) -> bool:
    return any(
        plural == "jobs" and name.startswith(name_prefix)
        for (_group, plural, _ns, name) in list(env.cluster.objects)
    )


def flaky_request(name: str, **spec: Any) -> dict[str, Any]:
    body = video_request(name, [("intro", "self.wait(0.2)"), ("broken", "self.wait(0.2)")], **spec)
    body["spec"]["scenes"][1] |= {"className": "Flaky2", "code": FLAKY}
    return body


def gemini_request(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"topic": f"topic {name}", "description": "One point.", "planner": {"mode": "Gemini"}},
    }


def flaky_plan() -> Reply:
    scenes = [
        {"name": "intro", "className": "Intro", "narration": "intro",
         "code": FLAKY.replace("Flaky2", "Intro")},
        {"name": "broken", "className": "Flaky2", "narration": "broken", "code": FLAKY},
    ]  # fmt: skip
    return Reply.plan(scenes)


@dataclasses.dataclass
class Tally:
    kills: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    lost: list[str] = dataclasses.field(default_factory=list)
    unasked_attempts: list[str] = dataclasses.field(default_factory=list)
    duplicate_jobs: list[str] = dataclasses.field(default_factory=list)
    repeated_llm_calls: int = 0


def audit(env: DevEnv, client: Client, tally: Tally, name: str, attempts: dict[int, int]) -> int:
    """`attempts`: scene index -> the attempts it should have had (every other count is a bug)."""
    status = status_of(client, name)
    if status.get("phase") != "Succeeded":
        tally.lost.append(f"{name}: {status.get('phase')} {status.get('message', '')}")
    jobs = [j.metadata.name for j in jobs_of(client, naming.base_name(name, 63))]
    for index, count in attempts.items():
        made = sorted(n for n in jobs if f"-s{index:02d}-a" in n)
        if len(made) != count:
            tally.unasked_attempts.append(f"{name} scene {index}: {made}")
    combines = [n for n in jobs if "-combine-" in n]
    if len(combines) != 1:
        tally.duplicate_jobs.append(f"{name}: combines {combines}")
    return len(jobs)


@pytest.mark.timeout(1800)
def test_fifty_kills_at_the_risky_points_lose_nothing_and_duplicate_nothing(kenv, gemini):
    client = kenv.client()
    tally = Tally()
    existing = 0  # Jobs of the audited requests, counted before each round deletes them
    for round_ in range(ROUNDS):
        started = time.monotonic()
        # inside healing: the fixed code is stored (plan ConfigMap patched), its Job not yet made
        heal = f"heal-{round_}"
        gemini.script("plan", flaky_plan())
        create(client, gemini_request(heal))
        since = len(kenv.cluster.request_log)
        tally.kills["healing"] += kill_when(kenv, lambda n=heal, t=since: patched_configmap(kenv, n, t))
        # inside a retry: the retried attempt exists, its status not yet written
        retry = f"retry-{round_}"
        create(client, flaky_request(retry))
        wait_for(lambda n=retry: status_of(client, n).get("phase") == "Failed", 60, f"{retry} to fail")
        client.patch(VideoRequest, retry, {"spec": {"retryGeneration": 1}}, namespace="default",
                     patch_type=PatchType.MERGE)  # fmt: skip
        tally.kills["retry"] += kill_when(kenv, lambda n=retry: job_exists(kenv, f"{n}-s01-a2"))
        # inside combine: the combine Job exists, the request's status says nothing of it yet
        comb = f"combine-{round_}"
        create(client, video_request(comb, [("a", "self.wait(0.2)"), ("b", "self.wait(0.2)")]))
        tally.kills["combine"] += kill_when(kenv, lambda n=comb: job_exists(kenv, f"{n}-combine-"))
        # during a planner outage's backoff: two plan calls fail (four 503s each), the next is due
        # later. The backoff is a passing state (status.planning.outages is gone once a later call
        # succeeds, 1 s after the first outage with a 1 s base): polling the status for it missed it
        # under load and then waited for ever. The outage's Event stays; two outages keep the
        # request in backoff for ~3 s after it, and the kill counts only if it landed inside.
        out = f"outage-{round_}"
        gemini.script("plan", *[Reply.error(503)] * (4 * OUTAGES))
        create(client, gemini_request(out))
        wait_for(lambda n=out: planner_unavailable(client, n), 180, f"{out} to meet the outage")
        in_backoff = (status_of(client, out).get("planning") or {}).get("outages")
        kenv.stop_operator(signal.SIGKILL)
        kenv.start_operator()
        tally.kills["outage"] += bool(in_backoff)
        for name in (heal, retry, comb, out):
            wait_terminal(client, name, timeout=180)
        existing += audit(kenv, client, tally, heal, {0: 1, 1: 2})
        existing += audit(kenv, client, tally, retry, {0: 1, 1: 2})
        existing += audit(kenv, client, tally, comb, {0: 1, 1: 1})
        existing += audit(kenv, client, tally, out, {0: 1})
        for name in (heal, retry, comb, out):  # a light operator restarts fast: only live requests
            client.delete(VideoRequest, name, namespace="default")
        print(f"round {round_}: {time.monotonic() - started:.1f}s kills={dict(tally.kills)}", flush=True)
    plans = len(gemini.calls("plan"))
    fixes = len(gemini.calls("fix"))

    # names are deterministic, so a second create of a Job is a 409: one 201 per Job is the proof
    def created() -> int:  # a copy of the log first: the server thread appends to it meanwhile
        made = [
            r for r in list(kenv.cluster.request_log) if r.identity == "operator" and r.resource == "jobs"
        ]
        return len([r for r in made if r.verb == "create" and r.status == 201])

    # each deleted request also gets one clean-up Job (its on.delete handler; a rerun meets 409)
    existing += 4 * ROUNDS
    wait_for(lambda: created() >= existing, 60, "the last round's clean-up Jobs")
    if created() != existing:
        tally.duplicate_jobs.append(f"{created()} Jobs created for {existing} existing")
    # each healed request: one plan call and one fix; each outage request: 4 failed per outage + 1 good
    expected_calls = ROUNDS * (1 + 1) + ROUNDS * (4 * OUTAGES + 1)
    tally.repeated_llm_calls = plans + fixes - expected_calls
    figures = {**dataclasses.asdict(tally), "kills": dict(tally.kills)}
    print(f"KILL SUITE {json.dumps(figures)}")

    assert sum(tally.kills.values()) >= 50, tally.kills
    assert tally.lost == []
    assert tally.duplicate_jobs == []
    assert tally.unasked_attempts == []
    assert "Traceback" not in (Path(kenv.state_dir) / "operator.log").read_text(errors="replace")


def test_writes_whose_answer_is_lost_neither_lose_requests_nor_duplicate_jobs(tmp_path: Path):
    lost = FaultRule(probability=0.1, seed=20261129, identities={"operator"}, lose_answer=True)
    names = [f"unheard-{i}" for i in range(8)]
    with DevEnv(tmp_path, instant=True) as env:
        env.cluster.faults.append(lost)
        env.start_operator()
        client = env.client()
        for i, name in enumerate(names):
            body = (
                flaky_request(name, output={"partial": "SkipFailed"})
                if i % 2
                else video_request(name, [(f"s{j}", "self.wait(0.2)") for j in range(1 + i % 3)])
            )
            create(client, body)
        statuses = {name: wait_terminal(client, name, timeout=120) for name in names}
        jobs = {n: [j.metadata.name for j in jobs_of(client, naming.base_name(n, 63))] for n in names}
    print(f"LOST ANSWERS fired={lost.fired} jobs={sum(len(j) for j in jobs.values())}")

    assert lost.fired >= 5  # the fault really hit
    assert {s["phase"] for s in statuses.values()} == {"Succeeded"}
    for made in jobs.values():
        assert [n for n in made if "-a1" not in n and "-combine-" not in n] == [], made  # no extra attempt
        assert len([n for n in made if "-combine-" in n]) == 1, made  # one combine
