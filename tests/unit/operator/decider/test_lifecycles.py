"""Every lifecycle of a VideoRequest through the real reconcile loop on a simulated cluster.

At every step of every lifecycle, a loop built from the cluster alone (a restarted operator)
must decide exactly what the loop that lived through the history decides (`run` checks it).
"""

from __future__ import annotations

import pytest

from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.support.settings import Settings

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
    sim.tick()  # the first scene's Pod runs
    sim.edit(suspend=True)
    await run(sim, steps=3, until=lambda s: s.status.get("phase") == "Suspended")
    job = sim.jobs["newton-s00-a1"]
    assert job["spec"]["suspend"] is True
    # the hold is recorded by the operator on the Job itself (the simulated server writes nothing)
    assert job["metadata"]["annotations"][naming.SUSPENDED_BY_US_ANNOTATION] == "true"
    assert sim.pods["newton-s00-a1"] == []  # the Job controller stopped its Pod
    assert len(sim.created) == 1
    assert "held by" not in sim.status["scenes"][0].get("message", "")

    sim.restart()  # a new operator process releases what the old one held
    sim.edit(suspend=False)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
    assert naming.SUSPENDED_BY_US_ANNOTATION not in sim.jobs["newton-s00-a1"]["metadata"]["annotations"]
    assert sim.attempts(0) == ["newton-s00-a1"]  # resumed, not started again


async def test_resume_releases_only_the_jobs_the_operator_held(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE, render={"parallelism": 2}))
    await sim.reconcile()
    sim.catch_up()
    sim.jobs["newton-s01-a1"]["spec"]["suspend"] = True  # another controller holds this one
    sim.edit(suspend=True)
    await run(sim, steps=3, until=lambda s: s.status.get("phase") == "Suspended")
    sim.edit(suspend=False)
    await run(sim, steps=4, until=lambda s: not s.jobs["newton-s00-a1"]["spec"]["suspend"])
    assert sim.jobs["newton-s01-a1"]["spec"]["suspend"] is True
    assert "held by its queue" in sim.status["scenes"][1]["message"]


async def test_suspend_never_flips_a_kueue_managed_job_and_lets_admitted_ones_finish(monkeypatch):
    settings = Settings(retry_base_seconds=10.0, kueue_queue_name="q")
    sim = Sim(monkeypatch, spec(*THREE, render={"parallelism": 2}), settings=settings)
    await sim.reconcile()
    sim.catch_up()
    sim.admit()  # Kueue admits the first two ...
    sim.tick()  # ... and they run
    patches: list[tuple[str, object]] = []  # patches of spec.suspend
    real_patch = sim._patch_job

    async def recording(namespace, name, patch):
        if "suspend" in patch.get("spec", {}):
            patches.append((name, patch))
        await real_patch(namespace, name, patch)

    from scenefarm_operator.runtime import kube

    monkeypatch.setattr(kube, "patch_job", recording)
    sim.edit(suspend=True)
    two_done = lambda s: [p for p in s.scene_phases()[:2]] == ["Succeeded"] * 2  # noqa: E731
    await run(sim, steps=8, until=two_done)
    assert sim.status["phase"] == "Suspended"  # the admitted ones ran to their end; the third waits
    assert patches == []  # Kueue owns spec.suspend of its Jobs
    assert not any("-s02-" in n for n in sim.jobs)

    sim.edit(suspend=False)
    await run(sim, steps=4, until=lambda s: any("-s02-" in n for n in s.jobs))
    sim.admit()
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
    assert patches == []


async def test_suspend_withdraws_a_job_kueue_has_not_admitted_and_resume_starts_it_again(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE), settings=Settings(retry_base_seconds=10.0, kueue_queue_name="q"))
    await sim.reconcile()
    sim.catch_up()
    assert len(sim.kueue_pending) == 3
    sim.edit(suspend=True)
    await run(sim, steps=4, until=lambda s: not s.jobs)
    assert sim.status["phase"] == "Suspended"
    sim.admit()  # Kueue would have admitted them now: nothing of ours runs while suspended
    sim.edit(suspend=False)
    await run(sim, steps=4, until=lambda s: len(s.jobs) == 3)
    sim.admit()
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
    sim = Sim(monkeypatch, spec(*THREE), settings=Settings(retry_base_seconds=10.0, kueue_queue_name="q"))
    for _ in range(3):
        await sim.reconcile()
        await sim.restart_matches()
        sim.catch_up()
        sim.tick()
    assert all(j["spec"]["suspend"] for j in sim.jobs.values())
    assert set(sim.scene_phases()) == {"Queued"}
    assert "Waiting for resources" in sim.status["scenes"][0]["message"]
    # Workloads are read by their Jobs' uids (Kueue's job-uid label), only those of held Jobs
    assert sim.workload_reads and all(r == sorted(f"uid-{n}" for n in sim.jobs) for r in sim.workload_reads)

    sim.admit()
    reads = len(sim.workload_reads)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
    later = {uid for read in sim.workload_reads[reads:] for uid in read}
    assert later == {f"uid-{sim.status['combine']['job']}"}  # only the combine's Job was held since


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

    from scenefarm_operator.runtime import kube

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
    stalled = next(c for c in sim.status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and "scenefarm-artifacts" in stalled["message"]
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
    assert next(c for c in sim.status["conditions"] if c["type"] == "Stalled")["status"] == "False"


async def test_no_progress_past_the_estimate_is_stalled_with_the_reason(monkeypatch):
    sim = Sim(monkeypatch, spec(*THREE), settings=Settings(pod_start_grace_seconds=30))
    await sim.reconcile()
    sim.catch_up()
    for job in sim.jobs.values():  # the Pods run, then vanish (a node gone) and nothing replaces them
        job["spec"]["suspend"] = False
    sim.vr["status"]["estimatedCompletionTime"] = "2026-01-01T12:00:10Z"  # what accounting published
    sim.now += __import__("datetime").timedelta(seconds=20)
    await sim.reconcile()
    assert next(c for c in sim.status["conditions"] if c["type"] == "Stalled")["status"] == "False"
    sim.now += __import__("datetime").timedelta(seconds=30)
    await sim.reconcile()
    stalled = next(c for c in sim.status["conditions"] if c["type"] == "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "NoProgress")
    assert "estimated completion" in stalled["message"]
    sim.tick()  # a Pod runs again: no longer stalled
    await sim.reconcile()
    assert next(c for c in sim.status["conditions"] if c["type"] == "Stalled")["status"] == "False"


def recreate(sim: Sim, the_spec: dict) -> None:
    """The request is deleted and made again under the same name; the garbage collector has not
    removed the old one's children yet (it runs asynchronously on a real cluster)."""
    sim.vr = {**sim.vr, "metadata": {**sim.vr["metadata"], "uid": "new-uid-0000", "generation": 1},
              "spec": the_spec, "status": {}}  # fmt: skip
    sim.loop = sim.new_loop()


def collect_garbage(sim: Sim, old_uid: str) -> None:
    """The garbage collector removes what the deleted request owned."""
    if any(ref["uid"] == old_uid for ref in sim.configmap_owners):
        sim.configmap, sim.configmap_owners = None, []
    for name in [n for n, j in sim.jobs.items() if j["metadata"]["ownerReferences"][0]["uid"] == old_uid]:
        del sim.jobs[name]
        del sim.pods[name]


async def test_a_recreated_namesake_never_adopts_the_deleted_requests_plan_or_jobs(monkeypatch):
    from .sim import UID

    sim = Sim(monkeypatch, spec("reborn-old"))
    await run(sim)
    assert sim.plan_calls == 1
    recreate(sim, spec(*THREE))
    for _ in range(3):
        await sim.reconcile()
        sim.catch_up()
        sim.tick()
    assert sim.plan_calls == 1  # no paid call whose answer could not be stored
    assert sim.status["phase"] == "Pending" and "garbage collector" in sim.status["message"]
    collect_garbage(sim, UID)
    await run(sim)
    assert sim.status["phase"] == "Succeeded"
    assert [s["name"] for s in sim.status["scenes"]] == list(THREE)
    assert all(j["metadata"]["ownerReferences"][0]["uid"] == "new-uid-0000" for j in sim.jobs.values())


async def test_a_namesakes_leftover_job_is_waited_for_not_counted_as_made(monkeypatch):
    from .sim import UID

    sim = Sim(monkeypatch, spec("intro"))
    await run(sim)
    old_sha = sim.status["scenes"][0]["sha256"]
    sim.configmap, sim.configmap_owners = None, []  # the collector took the ConfigMap first
    recreate(sim, spec("intro", "outro"))
    sim.outcomes[(0, 1)] = Outcome(exit_class=11, tail="NameError: the new code differs")
    for _ in range(4):
        await sim.reconcile()
        sim.catch_up()
        sim.tick()
    assert sim.status["scenes"][0]["phase"] != "Succeeded"  # the old Job's result is not ours
    assert "garbage collector" in sim.status["message"]
    collect_garbage(sim, UID)
    await run(sim)
    assert sim.status["phase"] == "Failed"  # the new attempt ran, with its own (failing) result
    assert sim.status["scenes"][0].get("sha256") != old_sha


def padded(class_name: str, size: int) -> str:
    from .sim import code

    return code(class_name) + "# " + "x" * size + "\n"


async def test_a_fix_that_could_not_be_stored_is_never_paid_for(monkeypatch):
    the_spec = spec("big", "other", planner={"mode": "Gemini"})
    the_spec["scenes"][0]["code"] = padded("Big", 300_000)
    the_spec["scenes"][1]["code"] = padded("Other", 400_000)
    sim = Sim(monkeypatch, the_spec)
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)  # fixable, but a 400 kB revision cannot be stored
    await run(sim)

    assert sim.fix_calls == 0
    assert sim.status["phase"] == "Failed"
    [failed] = [e for e in sim.events if e[0] == "FixFailed"]
    assert "cannot be stored" in failed[1] and "limit of 1000000" in failed[1]


async def test_an_edit_whose_plan_could_not_be_stored_is_refused_once_not_retried(monkeypatch):
    sim = Sim(monkeypatch, spec("a", "b"))
    await run(sim)
    scenes = [dict(s, code=padded(s["className"], 600_000)) for s in sim.vr["spec"]["scenes"]]
    sim.edit(scenes=scenes)
    stored = dict(sim.configmap or {})
    await run(sim)

    assert sim.status["phase"] == "Failed"
    assert "over the API server's limit" in sim.status["message"] and "edit the spec" in sim.status["message"]
    assert sim.configmap == stored  # nothing was written that the server would refuse


async def test_a_new_voice_after_success_combines_again_without_rendering(monkeypatch):
    scenes = spec(*THREE)["scenes"]
    scenes[0]["narration"] = "Hello."
    sim = Sim(monkeypatch, spec(*THREE) | {"scenes": scenes})
    await run(sim)
    first = sim.status["combine"]["job"]
    sim.edit(narration={"mode": "Offline", "voice": "en-gb"})
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.attempts(0) == ["newton-s00-a1"]  # no scene renders again
    combines = [n for n in sim.created if "-combine-" in n]
    assert len(combines) == 2 and combines[0] == first
    args = sim.jobs[combines[1]]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert '"voice":"en-gb"' in args[args.index("--narration") + 1]
    sim.edit(narration={"mode": "Off"})
    await run(sim)
    silent = [n for n in sim.created if "-combine-" in n][-1]
    assert "--narration" not in sim.jobs[silent]["spec"]["template"]["spec"]["containers"][0]["args"]
