"""What the operator writes for one request: one status patch per real change, no annotation
that repeats what the status keeps (bench/controlplane_bench.py measures the same at scale)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.runtime import kube

from .sim import Outcome, Sim, run, spec

THREE = ("intro", "first-law", "outro")


def count_writes(monkeypatch, sim: Sim) -> dict[str, list[Any]]:
    """Record every status patch and Job patch the loop sends (then apply them as before)."""
    writes: dict[str, list[Any]] = {"status": [], "jobs": []}
    patch_status, patch_job = kube.patch_status, kube.patch_job

    async def status(namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        writes["status"].append(copy.deepcopy(dict(patch)))
        await patch_status(namespace, name, patch)

    async def job(namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        writes["jobs"].append((name, copy.deepcopy(dict(patch))))
        await patch_job(namespace, name, patch)

    monkeypatch.setattr(kube, "patch_status", status)
    monkeypatch.setattr(kube, "patch_job", job)
    return writes


async def test_the_pass_that_creates_the_jobs_publishes_their_names_in_the_same_write(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    writes = count_writes(monkeypatch, sim)
    await sim.reconcile()  # plans, then creates the three scene Jobs

    assert sorted(sim.jobs) == ["newton-s00-a1", "newton-s01-a1", "newton-s02-a1"]
    [published] = writes["status"]  # no status write before the plan: nothing to clear
    assert [(s["phase"], s.get("job")) for s in published["scenes"]] == [
        ("Pending", "newton-s00-a1"),
        ("Pending", "newton-s01-a1"),
        ("Pending", "newton-s02-a1"),
    ]
    await sim.reconcile()  # the watch has not delivered them yet: the same status, no write
    sim.catch_up()
    await sim.reconcile()  # now it has: still the same
    assert len(writes["status"]) == 1


async def test_a_scene_whose_pod_has_not_started_shows_no_start_time(monkeypatch):
    sim = Sim(monkeypatch, spec("intro"))
    sim.unschedulable = "0/3 nodes are available"
    await sim.reconcile()
    sim.catch_up()
    sim.tick()
    sim.jobs["newton-s00-a1"]["status"] = {"startTime": "2026-01-01T12:00:01Z", "active": 1}
    await sim.reconcile()

    [scene] = sim.status["scenes"]
    assert scene["phase"] == "Pending" and "startedAt" not in scene


async def test_only_failed_and_plan_jobs_get_their_result_copied_onto_them(monkeypatch):
    the_spec = spec(*THREE, planner={"mode": "Gemini"})
    sim = Sim(monkeypatch, the_spec)
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    writes = count_writes(monkeypatch, sim)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    annotated = sorted({name for name, patch in writes["jobs"] if naming.RESULT_ANNOTATION in str(patch)})
    assert annotated == ["newton-s01-a1"]  # the failure (triage reads its error); successes: the status


async def test_a_succeeded_scene_keeps_its_result_from_the_status_once_its_pod_is_collected(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    sim.pod_gc = True
    writes = count_writes(monkeypatch, sim)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert all(pods == [] for name, pods in sim.pods.items() if "-combine-" not in name)
    assert [s["sha256"] for s in sim.status["scenes"]] == ["00" * 32, "01" * 32, "02" * 32]
    assert [s["artifact"] for s in sim.status["scenes"]] == [
        f"default/newton/scene-{i:02d}.mp4" for i in range(3)
    ]
    assert writes["jobs"] == []


async def test_the_eta_and_cost_go_in_the_reconcile_status_patch(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    asked: list[tuple[str, str]] = []

    async def accounting(body: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
        asked.append((body["status"]["phase"], str(current.get("estimatedCompletionTime"))))
        eta = f"2026-01-01T12:{len(asked):02d}:00Z"
        return {"estimatedCompletionTime": eta} if body["status"]["phase"] != "Succeeded" else {}

    sim.loop.shared.accounting = accounting
    writes = count_writes(monkeypatch, sim)
    await run(sim, check=False)

    assert sim.status["phase"] == "Succeeded"
    assert len(asked) == len(writes["status"])  # asked once per status write, never alone
    assert all("estimatedCompletionTime" in w for w in writes["status"][:-1])
    assert asked[1][1] == "2026-01-01T12:01:00Z"  # compared with what the loop wrote last
