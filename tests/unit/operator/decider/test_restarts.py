"""Restart equivalence: an operator killed at any step of a lifecycle ends where one that kept
running ends, with no Job, combine or LLM call that the uninterrupted run did not make."""

from __future__ import annotations

import pytest

from scenefarm_operator.engine import scene_cache
from scenefarm_operator.engine.status import OWNED_KEYS

from .sim import Outcome, Sim, run, spec

THREE = ("intro", "first-law", "outro")


def happy(sim: Sim) -> None:
    pass


def healed(sim: Sim) -> None:
    sim.vr["spec"]["planner"] = {"mode": "Gemini"}
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)


def outage(sim: Sim) -> None:
    sim.vr["spec"]["planner"] = {"mode": "Gemini"}
    sim.planner.extend(["busy", "busy"])


def fix_outage(sim: Sim) -> None:
    healed(sim)
    sim.fixes.extend(["busy", "busy"])


def transient(sim: Sim) -> None:
    sim.outcomes[(0, 1)] = Outcome(exit_class=30)


def oom(sim: Sim) -> None:
    sim.vr["spec"]["render"] = {"resources": {"limits": {"memory": "1Gi"}}, "parallelism": 4}
    sim.outcomes[(2, 1)] = Outcome(oom=True)


def fails_for_good(sim: Sim) -> None:
    sim.outcomes[(1, 1)] = Outcome(exit_class=20)


def skip_failed(sim: Sim) -> None:
    sim.vr["spec"]["output"] = {"partial": "SkipFailed"}
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)


def chunked(sim: Sim) -> None:
    """Scene 1 is long and rendered in 4 chunks; its chunks Job of attempt 1 is OOM-killed."""
    sim.vr["spec"]["render"] = {"parallelism": 4, "chunking": {"mode": "Auto", "minChunkSeconds": 10}}
    sim.vr["spec"]["scenes"][1]["code"] += "        for _ in range(40):\n            self.wait(1)\n"
    sim.seconds[1] = 40.0
    sim.outcomes[(1, 1)] = Outcome(oom=True)


def cached(sim: Sim) -> None:
    """Scene 0 was rendered by another request of the namespace."""
    scene = sim.vr["spec"]["scenes"][0]
    entry = {"index": 0, "name": scene["name"], "phase": "Succeeded", "attempt": 1, "sha256": "ee" * 32,
             "artifact": "default/other-12345678/scene-00.mp4",
             "cacheKey": scene_cache.key_for(scene["code"], scene["className"], "low")}  # fmt: skip
    meta = {
        "name": "other",
        "namespace": "default",
        "uid": "12345678-aa",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    sim.neighbours.append({"metadata": meta, "spec": {}, "status": {"scenes": [entry]}})


SCENARIOS = [happy, healed, outage, fix_outage, transient, oom, fails_for_good, skip_failed, chunked, cached]


async def drive(sim: Sim, restart_every_step: bool, seconds: float = 20.0) -> None:
    for _ in range(80):
        if restart_every_step:
            sim.restart()
        await sim.reconcile()
        sim.catch_up()
        if (
            sim.status.get("phase") in ("Succeeded", "Failed")
            and sim.status.get("observedGeneration") == sim.vr["metadata"]["generation"]
        ):
            return
        sim.tick(seconds)
    raise AssertionError(f"did not settle: {sim.status}")


def outcome_of(sim: Sim) -> tuple[object, ...]:
    status = {k: v for k, v in sim.status.items() if k not in ("conditions",)}
    return status, sorted(sim.created), sim.plan_calls, sim.fix_calls


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
async def test_a_restart_at_every_step_ends_exactly_where_an_uninterrupted_run_ends(monkeypatch, scenario):
    ends = []
    for restart in (False, True):
        with monkeypatch.context() as mp:
            sim = Sim(mp, spec(*THREE))
            scenario(sim)
            await drive(sim, restart)
            ends.append(outcome_of(sim))
    assert ends[0] == ends[1]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
async def test_the_loop_writes_only_status_keys_it_owns_and_keeps_the_others(monkeypatch, scenario):
    sim = Sim(monkeypatch, spec(*THREE))
    scenario(sim)
    sim.vr["status"]["cost"] = {"renderSeconds": 1.0}  # written by accounting.py, not by the loop
    await drive(sim, restart_every_step=False)
    assert set(sim.status) - {"cost"} <= OWNED_KEYS
    assert sim.status["cost"] == {"renderSeconds": 1.0}


async def retried_skip_failed(monkeypatch: pytest.MonkeyPatch) -> Sim:
    sim = Sim(monkeypatch, spec(*THREE, output={"partial": "SkipFailed"}))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await run(sim)
    assert sim.status["phase"] == "Succeeded" and sim.status["output"]["partial"] is True
    sim.edit(retryGeneration=1)
    return sim


async def test_killed_while_the_retried_scene_renders_it_still_serves_the_retry_once(monkeypatch):
    sim = await retried_skip_failed(monkeypatch)
    await sim.reconcile()  # the retried attempt is created...
    sim.catch_up()
    sim.tick()  # ...and renders when the operator is SIGKILLed
    sim.restart()
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.status["retryGeneration"] == 1
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    combines = [n for n in sim.created if "-combine-" in n]
    assert len(combines) == len(set(combines)) == 2


async def test_killed_after_creating_the_retried_attempt_before_writing_status(monkeypatch):
    sim = await retried_skip_failed(monkeypatch)
    sim.outcomes[(1, 2)] = Outcome(exit_class=11)  # the retried attempt fails too, while nobody watches
    # The pass creates the retried attempt, then the process dies before its status write lands.
    decision_status_writes = []

    from scenefarm_operator.runtime import kube

    async def lost(namespace, name, status):  # the write never reaches the server
        decision_status_writes.append(status)

    monkeypatch.setattr(kube, "patch_status", lost)
    await sim.reconcile()
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    assert "retryGeneration" not in sim.status
    sim.catch_up()
    sim.tick()
    sim.tick()  # the retried attempt ran and failed before the operator came back
    monkeypatch.setattr(kube, "patch_status", sim._patch_status)
    sim.restart()
    await run(sim)

    assert sim.status["retryGeneration"] == 1
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]  # no attempt nobody asked for
    assert sim.status["phase"] == "Succeeded" and sim.status["output"]["missingScenes"] == ["first-law"]


async def test_a_fresh_loop_for_a_retried_request_in_combining_makes_no_second_combine(monkeypatch):
    sim = await retried_skip_failed(monkeypatch)
    await run(sim, until=lambda s: s.status.get("phase") == "Combining")
    combines_before = [n for n in sim.created if "-combine-" in n]
    sim.restart()
    for _ in range(3):
        await sim.reconcile()
        await sim.restart_matches()
        sim.catch_up()
    assert sim.status["retryGeneration"] == 1
    assert [n for n in sim.created if "-combine-" in n] == combines_before
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    assert [e for e in sim.events if e[0] == "RetryRequested"] == []
