from typing import Any

from scenefarm_contract.renderer import ExitClass, TerminationMessage
from scenefarm_operator import healing
from scenefarm_operator.plan_store import SceneEntry

SCENE = SceneEntry(0, "intro", "Intro", revision=2, sha256="x")


def job(
    attempt: int,
    *,
    failed: bool = True,
    code_key: str = "scene-00.r2.py",
    memory: str = "1Gi",
    reason: str = "PodFailurePolicy",
) -> dict[str, Any]:
    conditions = [{"type": "Failed", "status": "True", "reason": reason}] if failed else []
    return {
        "metadata": {
            "name": f"r-s00-a{attempt}",
            "labels": {"scenefarm.dev/attempt": str(attempt)},
            "annotations": {"scenefarm.dev/code-key": code_key},
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


def test_the_facts_of_a_failed_attempt_come_from_its_jobs_and_pods() -> None:
    jobs = [job(1), job(2)]
    pods = {"r-s00-a1": [pod(30, tail="storage down")], "r-s00-a2": [pod(11, tail="ValueError: no")]}
    facts = healing.failed_attempt(SCENE, jobs, pods, mode="Gemini", fix_attempts_allowed=3)

    assert facts.exit_class is ExitClass.CODE_RAISED
    assert facts.error_tail == "ValueError: no"
    assert facts.fix_attempts_used == 1  # revision 2 means one fix so far
    assert facts.transient_retries_used == 1  # attempt 1 failed with exit 30
    assert (facts.memory_limit, facts.planner_mode, facts.fix_attempts_allowed) == ("1Gi", "Gemini", 3)


def test_an_oom_killed_attempt_is_reported_as_such() -> None:
    facts = healing.failed_attempt(
        SCENE, [job(1)], {"r-s00-a1": [pod(137, reason="OOMKilled")]}, mode="Template", fix_attempts_allowed=0
    )
    assert facts.pod_reason == "OOMKilled"


def test_a_job_past_its_deadline_is_reported_as_such() -> None:
    facts = healing.failed_attempt(
        SCENE, [job(1, reason="DeadlineExceeded")], {}, mode="Template", fix_attempts_allowed=0
    )
    assert facts.pod_reason == "DeadlineExceeded"


def test_a_fix_is_already_stored_when_the_plan_is_newer_than_what_the_job_ran() -> None:
    assert healing.fix_already_stored(SCENE, job(1, code_key="scene-00.r1.py"))
    assert not healing.fix_already_stored(SCENE, job(1, code_key="scene-00.r2.py"))
    no_annotation = job(1)
    no_annotation["metadata"]["annotations"] = {}
    assert not healing.fix_already_stored(SCENE, no_annotation)


def test_the_memory_limit_is_read_from_the_jobs_container() -> None:
    assert healing.memory_limit_of(job(1, memory="3Gi")) == "3Gi"
    assert healing.memory_limit_of({"metadata": {}, "spec": {}}) is None
