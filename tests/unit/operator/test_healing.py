"""`healing.fate`: what a scene needs next, from its Jobs, the stored plan, the persisted fix
bookkeeping, the retry asked for and the clock — nothing kept in memory."""

import datetime
from typing import Any

import pytest

from scenefarm_contract.renderer import ExitClass, TerminationMessage
from scenefarm_operator.engine import healing
from scenefarm_operator.engine.healing import AskFix, GiveUp, Launch, Wait
from scenefarm_operator.engine.observed import Observed, memory_limit_of
from scenefarm_operator.engine.plan_store import SceneEntry, StoredPlan
from scenefarm_operator.support.settings import Settings

SCENE = SceneEntry(0, "intro", "Intro", revision=2, sha256="x")
GEMINI, TEMPLATE = StoredPlan("Gemini", 1, (SCENE,)), StoredPlan("Template", 1, (SCENE,))
FINISHED = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # when the pods below ended
SETTINGS = Settings()  # transient retries: 3, first after 10 s; OOM cap 8Gi


def job(
    attempt: int,
    *,
    failed: bool = True,
    succeeded: bool = False,
    code_key: str = "scene-00.r2.py",
    memory: str = "1Gi",
    reason: str = "PodFailurePolicy",
    retry_generation: str | None = None,
) -> dict[str, Any]:
    conditions = [{"type": "Failed", "status": "True", "reason": reason}] if failed else []
    if succeeded:
        conditions = [{"type": "Complete", "status": "True"}]
    annotations = {"scenefarm.dev/code-key": code_key}
    if retry_generation is not None:
        annotations["scenefarm.dev/retry-generation"] = retry_generation
    return {
        "metadata": {
            "name": f"r-s00-a{attempt}",
            "labels": {"scenefarm.dev/scene": "0", "scenefarm.dev/attempt": str(attempt)},
            "annotations": annotations,
        },
        "spec": {"template": {"spec": {"containers": [{"resources": {"limits": {"memory": memory}}}]}}},
        "status": {"conditions": conditions},
    }


def pod(exit_class: int, *, reason: str = "Error", tail: str = "boom") -> dict[str, Any]:
    message = TerminationMessage(exitClass=exit_class, errorTail=tail).to_json()
    terminated = {
        "exitCode": exit_class,
        "reason": reason,
        "message": message,
        "finishedAt": "2026-01-01T00:00:00Z",
    }
    return {"status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": terminated}}]}}


# --- the facts of a failed attempt ---------------------------------------------------------------


def test_the_facts_of_a_failed_attempt_come_from_its_jobs_and_pods() -> None:
    jobs = [job(1), job(2)]
    pods = {"r-s00-a1": [pod(30, tail="storage down")], "r-s00-a2": [pod(11, tail="ValueError: no")]}
    facts = healing.failed_attempt(SCENE, Observed.of(jobs, pods, {}), mode="Gemini", fix_attempts_allowed=3)

    assert facts.exit_class is ExitClass.CODE_RAISED
    assert facts.error_tail == "ValueError: no"
    assert facts.fix_attempts_used == 1  # revision 2 means one fix so far
    assert facts.transient_retries_used == 1  # attempt 1 failed with exit 30
    assert (facts.memory_limit, facts.planner_mode, facts.fix_attempts_allowed) == ("1Gi", "Gemini", 3)


def test_an_oom_killed_attempt_is_reported_as_such() -> None:
    observed = Observed.of([job(1)], {"r-s00-a1": [pod(137, reason="OOMKilled")]}, {})
    facts = healing.failed_attempt(SCENE, observed, mode="Template", fix_attempts_allowed=0)
    assert facts.pod_reason == "OOMKilled"


def test_a_job_past_its_deadline_is_reported_as_such() -> None:
    observed = Observed.of([job(1, reason="DeadlineExceeded")], {}, {})
    facts = healing.failed_attempt(SCENE, observed, mode="Template", fix_attempts_allowed=0)
    assert facts.pod_reason == "DeadlineExceeded"


def test_a_job_ran_outdated_code_when_the_plan_holds_a_newer_revision() -> None:
    assert healing.ran_outdated_code(SCENE, job(1, code_key="scene-00.r1.py"))
    assert not healing.ran_outdated_code(SCENE, job(1, code_key="scene-00.r2.py"))
    no_annotation = job(1)
    no_annotation["metadata"]["annotations"] = {}
    assert not healing.ran_outdated_code(SCENE, no_annotation)


def test_the_memory_limit_is_read_from_the_jobs_container() -> None:
    assert memory_limit_of(job(1, memory="3Gi")) == "3Gi"
    assert memory_limit_of({"metadata": {}, "spec": {}}) is None


@pytest.mark.parametrize(("annotation", "generation"), [(None, 0), ("2", 2), ("two", 0), ("-1", 0)])
def test_the_retry_generation_an_attempt_served_is_read_from_its_annotation(
    annotation: str | None, generation: int
) -> None:
    assert healing.retry_generation_of(job(1, retry_generation=annotation)) == generation


# --- fate -------------------------------------------------------------------------------------


def fate(
    jobs: list[dict[str, Any]],
    pods: dict[str, list[dict[str, Any]]] | None = None,
    *,
    plan: StoredPlan = GEMINI,
    spec: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    after: float = 3600.0,
    retry: int | None = None,
) -> healing.Fate | None:
    """The fate of SCENE `after` seconds past the moment its last pod ended."""
    previous = previous or {}
    observed = Observed.of(jobs, pods or {}, previous)
    now = FINISHED + datetime.timedelta(seconds=after)
    return healing.fate(
        SCENE, plan, observed, spec=spec or {}, previous=previous, now=now, settings=SETTINGS, retry=retry
    )


def test_a_scene_that_never_ran_running_or_done_needs_nothing() -> None:
    assert fate([]) is None
    assert fate([job(1, failed=False)]) is None
    assert fate([job(1, succeeded=True)]) is None


def test_a_finished_attempt_of_older_code_is_followed_by_one_of_the_stored_revision() -> None:
    expected = Launch(2, "1Gi", "attempt 2 runs revision 2 of the code")
    assert fate([job(1, code_key="scene-00.r1.py")], {"r-s00-a1": [pod(11)]}) == expected
    assert fate([job(1, succeeded=True, code_key="scene-00.r1.py")]) == expected  # an edit


def test_a_running_attempt_of_older_code_is_left_to_finish() -> None:
    assert fate([job(1, failed=False, code_key="scene-00.r1.py")]) is None


def test_a_retry_forces_a_new_attempt_of_a_failed_scene_marked_with_its_generation() -> None:
    failed = {"r-s00-a1": [pod(20)]}
    assert fate([job(1)], failed, retry=1) == Launch(2, "1Gi", "retry 1 requested", 1)


def test_an_attempt_that_served_the_retry_is_triaged_like_any_other() -> None:
    """A restarted operator sees the annotation and does not start a second forced attempt."""
    decision = fate([job(1), job(2, retry_generation="1")], {"r-s00-a2": [pod(20)]}, retry=1)
    assert isinstance(decision, GiveUp)
    assert decision.message.startswith("the renderer's environment is broken")


def test_a_retry_does_not_touch_a_scene_that_succeeded() -> None:
    assert fate([job(1, succeeded=True)], retry=1) is None


RECORDED_FAILURE = {"index": 0, "name": "intro", "phase": "Failed", "attempt": 2, "revision": 2}


def test_a_retry_continues_the_attempt_count_of_a_failed_scene_whose_jobs_were_cleaned_up() -> None:
    previous = {"scenes": [RECORDED_FAILURE]}
    assert fate([], previous=previous, retry=1) == Launch(3, None, "retry 1 requested", 1)
    assert fate([], previous=previous) is None, "without a retry a recorded failure stays failed"


def test_a_recorded_failure_of_older_code_is_not_retried_here() -> None:
    previous = {"scenes": [RECORDED_FAILURE | {"revision": 1}]}
    assert fate([], previous=previous, retry=1) is None  # a new revision starts as a new scene


def test_a_transient_failure_waits_out_its_backoff_from_the_attempts_end_then_runs_again() -> None:
    pods = {"r-s00-a1": [pod(30)]}
    assert fate([job(1)], pods, after=4) == Wait(
        FINISHED + datetime.timedelta(seconds=10),
        "transient failure, retry 1 of 3; next attempt at 2026-01-01T00:00:10Z",
    )
    assert fate([job(1)], pods, after=10) == Launch(2, "1Gi", "transient failure, retry 1 of 3")


def test_each_transient_retry_waits_twice_as_long() -> None:
    pods = {"r-s00-a1": [pod(30)], "r-s00-a2": [pod(30)]}
    decision = fate([job(1), job(2)], pods, after=19)
    assert isinstance(decision, Wait)
    assert decision.until == FINISHED + datetime.timedelta(seconds=20)
    assert fate([job(1), job(2)], pods, after=20) == Launch(3, "1Gi", "transient failure, retry 2 of 3")


def test_an_oom_killed_scene_runs_again_with_twice_the_memory() -> None:
    pods = {"r-s00-a1": [pod(137, reason="OOMKilled")]}
    assert fate([job(1)], pods, after=0) == Launch(2, "2Gi", "OOMKilled at 1Gi; retrying with 2Gi")


def test_failing_code_in_gemini_mode_asks_for_a_fix() -> None:
    decision = fate([job(1)], {"r-s00-a1": [pod(11, tail="NameError: x")]})
    assert isinstance(decision, AskFix)
    assert (decision.attempt, decision.reason) == (1, "the scene code raised (exit 11); fix attempt 2 of 2")
    assert (decision.facts.error_tail, decision.facts.fix_attempts_used) == ("NameError: x", 1)


def test_failing_code_without_fix_attempts_left_fails_for_good() -> None:
    pods = {"r-s00-a1": [pod(11, tail="NameError: x")]}
    decision = fate([job(1)], pods, spec={"render": {"fixAttempts": 1}})
    assert decision == GiveUp("the scene code raised (exit 11) after 1 of 1 fix attempts: NameError: x")


def test_failing_code_in_template_mode_fails_for_good() -> None:
    decision = fate([job(1)], {"r-s00-a1": [pod(10, tail="PolicyError")]}, plan=TEMPLATE)
    assert decision == GiveUp(
        "the scene code was rejected (exit 10); planner mode Template does not rewrite code: PolicyError"
    )


# --- the persisted fix bookkeeping (status.healing) ------------------------------------------------

NOW = datetime.datetime(2026, 1, 1, 1, 0, 0, tzinfo=datetime.UTC)  # FINISHED + the default `after`
CODE_ERROR = {"r-s00-a1": [pod(11, tail="NameError: x")]}


def healing_status(**record: Any) -> dict[str, Any]:
    return {"healing": [{"index": 0, "attempt": 1} | record]}


def test_a_planner_outage_for_a_fix_waits_until_the_stored_next_try() -> None:
    previous = healing_status(outages=2, nextAttemptAt="2026-01-01T01:00:30Z", message="503")
    assert fate([job(1)], CODE_ERROR, previous=previous) == Wait(
        NOW + datetime.timedelta(seconds=30),
        "planner unavailable, asking again for a fix at 2026-01-01T01:00:30Z",
    )


def test_the_fix_is_asked_again_once_the_stored_next_try_has_come() -> None:
    previous = healing_status(outages=2, nextAttemptAt="2026-01-01T01:00:00Z")
    assert isinstance(fate([job(1)], CODE_ERROR, previous=previous), AskFix)


def test_a_fix_that_failed_for_good_gives_the_scene_up_with_its_error() -> None:
    previous = healing_status(error="the planner answered code that does not parse")
    assert fate([job(1)], CODE_ERROR, previous=previous) == GiveUp(
        "the planner answered code that does not parse"
    )


def test_bookkeeping_of_another_attempt_does_not_count() -> None:
    previous = {
        "healing": [{"index": 0, "attempt": 7, "error": "old"}, {"index": 1, "attempt": 1, "error": "x"}]
    }
    assert isinstance(fate([job(1)], CODE_ERROR, previous=previous), AskFix)
    assert healing.healing_record(previous, 0, 1) == {}
    assert healing.healing_record(previous, 0, 7) == {"index": 0, "attempt": 7, "error": "old"}


OUTAGES = [
    # (outages so far, what the record says after one more)
    (0, {"outages": 1, "nextAttemptAt": "2026-01-01T01:00:15Z", "message": "503 busy"}),
    (1, {"outages": 2, "nextAttemptAt": "2026-01-01T01:00:30Z", "message": "503 busy"}),
    (4, {"outages": 5, "nextAttemptAt": "2026-01-01T01:04:00Z", "message": "503 busy"}),
    (5, {"outages": 6, "error": "the planner stayed unreachable for a fix: 503 busy"}),
]


@pytest.mark.parametrize(("outages", "after"), OUTAGES, ids=[f"after {o[0]} outages" for o in OUTAGES])
def test_fix_outages_back_off_then_give_up(outages: int, after: dict[str, Any]) -> None:
    record = {"index": 0, "attempt": 1, "outages": outages} if outages else {}
    assert healing.fix_outage(record, 0, 1, "503 busy", NOW) == {"index": 0, "attempt": 1} | after
