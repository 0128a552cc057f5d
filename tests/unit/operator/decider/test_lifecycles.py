"""Every lifecycle of a VideoRequest through the real reconcile loop on a simulated cluster.

At every step of every lifecycle, a loop built from the cluster alone (a restarted operator)
must decide exactly what the loop that lived through the history decides (`run` checks it).
"""

from __future__ import annotations

import pytest

from scenefarm_operator import naming
from scenefarm_operator.settings import Settings

from .sim import Outcome, Sim, run, spec

THREE = ("intro", "first-law", "outro")


async def test_happy_path_renders_every_scene_then_combines_once(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.status["progress"] == 100
    assert sim.scene_phases() == ["Succeeded"] * 3
    assert sim.status["output"]["sha256"] == "ab" * 32
    assert [s["sha256"] for s in sim.status["scenes"]] == ["00" * 32, "01" * 32, "02" * 32]
    assert [n for n in sim.created if "-combine-" in n] == [sim.status["combine"]["job"]]
    assert sim.plan_calls == 1
    assert next(c for c in sim.status["conditions"] if c["type"] == "Ready")["status"] == "True"


async def test_a_failing_scene_is_healed_in_gemini_mode_with_one_fix_call(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, planner={"mode": "Gemini"}))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    assert sim.fix_calls == 1
    assert sim.status["scenes"][1]["revision"] == 2
    assert ("Fixed", "scene 'first-law': revision 2 stored") in sim.events
    assert "scene-01.r2.py" in (sim.configmap or {})


async def test_a_planner_outage_is_waited_out_with_the_count_in_status_then_planning_succeeds(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, planner={"mode": "Gemini"}))
    sim.planner.extend(["busy", "busy"])
    await sim.reconcile()

    assert sim.status["phase"] == "Planning"
    assert sim.status["planning"]["outages"] == 1
    assert "503" in sim.status["message"]
    await sim.restart_matches()
    sim.tick(5)  # inside the backoff: nobody asks the planner
    await sim.reconcile()
    assert sim.plan_calls == 1
    await run(sim, seconds=20)

    assert sim.status["phase"] == "Succeeded"
    assert sim.plan_calls == 3
    assert "planning" not in sim.status


async def test_planning_that_keeps_failing_gives_up_after_the_bounded_backoff(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, planner={"mode": "Gemini"}))
    sim.planner.extend(["busy"] * 6)
    await run(sim, steps=60, seconds=60)

    assert sim.status["phase"] == "Failed"
    assert sim.plan_calls == 6
    assert "gave up after 6 tries" in sim.status["message"]


async def test_retry_after_failure_reruns_only_the_failed_scene_and_records_the_generation(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await run(sim)
    assert sim.status["phase"] == "Failed"
    assert sim.status["scenes"][1]["phase"] == "Failed"

    sim.edit(retryGeneration=1)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.status["retryGeneration"] == 1
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    assert sim.jobs["newton-s01-a2"]["metadata"]["annotations"][naming.RETRY_GENERATION_ANNOTATION] == "1"


async def test_retry_with_skip_failed_recombines_with_the_retried_scene(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, output={"partial": "SkipFailed"}))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
    assert sim.status["output"]["missingScenes"] == ["first-law"]
    first_combine = sim.status["combine"]["job"]

    sim.edit(retryGeneration=1)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert "missingScenes" not in sim.status["output"]
    assert sim.status["retryGeneration"] == 1
    combines = [n for n in sim.created if "-combine-" in n]
    assert len(combines) == 2 and combines[0] == first_combine


async def test_a_scene_failing_for_good_stops_the_others_and_every_scene_tells_the_truth(monkeypatch):
    sim = Sim(monkeypatch, spec("intro", "broken", "long", render={"parallelism": 3}))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await sim.reconcile()
    sim.catch_up()
    sim.tick()  # every Job starts
    await sim.reconcile()
    sim.tick()  # ...and "broken" fails while the others still run (they finish only now)
    sim.jobs["newton-s00-a1"]["status"]["active"] = 1
    await run(sim)

    assert sim.status["phase"] == "Failed"
    phases = {s["name"]: s["phase"] for s in sim.status["scenes"]}
    assert phases["broken"] == "Failed"
    assert all(p in ("Succeeded", "Failed", "Stopped") for p in phases.values()), phases
    unfinished = [n for n, j in sim.jobs.items() if not j["status"].get("conditions")]
    assert unfinished == []  # nothing left running for a request that is over


async def test_editing_one_scene_re_renders_only_that_scene_then_combines_again(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    await run(sim)
    scenes = sim.vr["spec"]["scenes"]
    scenes[2] = {**scenes[2], "code": scenes[2]["code"] + "# edited\n"}
    sim.edit(scenes=scenes)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.attempts(0) == ["newton-s00-a1"]
    assert sim.attempts(2) == ["newton-s02-a1", "newton-s02-a2"]
    assert sim.status["scenes"][2]["revision"] == 2
    assert len([n for n in sim.created if "-combine-" in n]) == 2


async def test_suspend_holds_new_jobs_and_suspends_running_ones_and_resume_finishes(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, render={"parallelism": 1}))
    await sim.reconcile()
    sim.catch_up()
    sim.edit(suspend=True)
    await run(sim, steps=3, until=lambda s: s.status.get("phase") == "Suspended")
    job = sim.jobs["newton-s00-a1"]
    assert job["spec"]["suspend"] is True
    assert len(sim.created) == 1

    sim.edit(suspend=False)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"


async def test_cancel_stops_every_job_and_is_final(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, render={"parallelism": 2}))
    await sim.reconcile()
    sim.catch_up()
    sim.tick()
    sim.edit(cancel=True)
    await run(sim)

    assert sim.status["phase"] == "Cancelled"
    assert sim.jobs == {}
    assert set(sim.scene_phases()) == {"Stopped"}
    assert "Cancelled is final" in sim.status["message"]
    sim.edit(retryGeneration=1)  # the API refuses cancel=false; a retry changes nothing either
    await run(sim)
    assert sim.status["phase"] == "Cancelled" and sim.jobs == {}


async def test_the_request_deadline_fails_it_and_stops_its_jobs(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, activeDeadlineSeconds=30))
    await sim.reconcile()
    sim.catch_up()
    sim.tick(31)
    await run(sim)

    assert sim.status["phase"] == "Failed"
    assert next(c for c in sim.status["conditions"] if c["type"] == "Ready")["reason"] == "DeadlineExceeded"
    assert [j for j in sim.jobs.values() if not j["status"].get("conditions")] == []


async def test_ttl_after_finished_deletes_the_request(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, ttlSecondsAfterFinished=60))
    await run(sim)
    sim.tick(30)
    await sim.reconcile()
    assert "deletionTimestamp" not in sim.vr["metadata"]
    sim.tick(31)
    await sim.reconcile()
    assert "deletionTimestamp" in sim.vr["metadata"]


async def test_an_oom_killed_scene_runs_again_with_twice_the_memory(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, render={"resources": {"limits": {"memory": "1Gi"}}}))
    sim.outcomes[(0, 1)] = Outcome(oom=True)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    second = sim.jobs["newton-s00-a2"]["spec"]["template"]["spec"]["containers"][0]
    assert second["resources"]["limits"]["memory"] == "2Gi"


async def test_a_transient_failure_waits_its_backoff_from_the_failed_attempts_end(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE), settings=Settings(retry_base_seconds=10.0))
    sim.outcomes[(0, 1)] = Outcome(exit_class=30)
    await run(sim, until=lambda s: (s.status.get("scenes") or [{}])[0].get("phase") == "Retrying")
    assert sim.attempts(0) == ["newton-s00-a1"]
    sim.restart()  # the retry time is derived from the Job, not remembered
    await run(sim)
    assert sim.attempts(0) == ["newton-s00-a1", "newton-s00-a2"]
    assert sim.status["phase"] == "Succeeded"


async def test_jobs_held_by_kueue_show_queued_and_are_never_unsuspended_by_the_operator(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE))
    sim.kueue = True
    for _ in range(3):
        await sim.reconcile()
        await sim.restart_matches()
        sim.catch_up()
        sim.tick()
    assert all(j["spec"]["suspend"] for j in sim.jobs.values())
    assert set(sim.scene_phases()) == {"Queued"}
    assert "held by" in sim.status["scenes"][0]["message"]

    sim.admit()
    await run(sim)
    assert sim.status["phase"] == "Succeeded"


async def test_a_job_the_api_server_refuses_fails_the_request_with_its_message(monkeypatch):
    from lightkube.core.exceptions import ApiError

    sim = Sim(monkeypatch, spec(*THREE))

    class Refused(ApiError):
        def __init__(self) -> None:
            self.status = type("S", (), {"code": 422, "message": "Job.batch is invalid: requests > limits"})()

    async def refuse(obj):
        if obj["kind"] == "Job":
            raise Refused()
        return await Sim._create(sim, obj)

    from scenefarm_operator import kube

    monkeypatch.setattr(kube, "create", refuse)
    await run(sim)

    assert sim.status["phase"] == "Failed"
    assert "requests > limits" in sim.status["message"]
    assert sim.created == []
    sim.edit(render={"parallelism": 2})  # a new spec is tried again
    monkeypatch.setattr(kube, "create", sim._create)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"


@pytest.mark.parametrize("partial", ["Fail", "SkipFailed"])
async def test_describe_says_the_failure_once_in_the_conditions(monkeypatch, partial):
    sim = Sim(monkeypatch, spec("broken", output={"partial": partial}))
    sim.outcomes[(0, 1)] = Outcome(exit_class=11)
    await run(sim)

    tail = "NameError: name 'oops' is not defined"
    messages = [c["message"] for c in sim.status["conditions"]]
    assert sum(tail in m for m in messages) == 1


@pytest.mark.parametrize("partial", ["Fail", "SkipFailed"])
async def test_a_retry_after_the_failed_scenes_jobs_were_cleaned_up_still_reruns_it(monkeypatch, partial):
    sim = Sim(monkeypatch, spec(*THREE, output={"partial": partial}))
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)
    await run(sim)
    combines_before = [n for n in sim.created if "-combine-" in n]
    sim.jobs.clear()  # ttlSecondsAfterFinished removed every finished Job
    sim.pods.clear()
    sim.restart()
    sim.edit(retryGeneration=1)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.status["retryGeneration"] == 1
    assert sim.attempts(1) == ["newton-s01-a1", "newton-s01-a2"]
    new_combines = [n for n in sim.created if "-combine-" in n and n not in combines_before]
    assert len(new_combines) == 1  # only the combine with the retried scene, no partial one again
    assert "missingScenes" not in sim.status["output"]


async def test_a_pod_that_cannot_be_scheduled_is_reported_once_naming_the_missing_claim(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE), settings=Settings(pod_start_grace_seconds=30))
    sim.unschedulable = 'persistentvolumeclaim "scenefarm-artifacts" not found'
    await run(sim, steps=8, until=lambda s: "cannot start" in s.status.get("message", ""), seconds=10)

    assert 'PersistentVolumeClaim "scenefarm-artifacts"' in sim.status["message"]
    ready = next(c for c in sim.status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodNotStarting"
    for _ in range(3):
        sim.tick(10)
        await sim.reconcile()
    assert [e for e in sim.events if e[0] == "PodNotStarting"] == [
        (
            "PodNotStarting",
            'Job newton-s00-a1 cannot start its Pod (PersistentVolumeClaim "scenefarm-artifacts"): '
            'persistentvolumeclaim "scenefarm-artifacts" not found',
        )
    ]
    sim.unschedulable = ""  # the admin creates the claim: the Pods start and the message goes
    for job in sim.jobs.values():
        sim.pods[job["metadata"]["name"]] = []
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
