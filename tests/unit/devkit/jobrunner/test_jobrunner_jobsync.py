"""The Job controller's decisions, as a pure function of (Job, Pods, now)."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from scenefarm_devkit.jobrunner.jobsync import sync_job
from scenefarm_devkit.jobrunner.podmanifest import TRACKING_FINALIZER
from scenefarm_devkit.jobrunner.timestamps import format_time

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
_ids = itertools.count()


def job(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "render", "uid": "job-uid"},
        "spec": {"template": {"spec": {"containers": [{"name": "main"}]}}, **spec},
        "status": status or {},
    }


def pod(
    phase: str = "Running", exit_code: int | None = None, tracked: bool = True, **extra: Any
) -> dict[str, Any]:
    n = next(_ids)
    status: dict[str, Any] = {"phase": phase, "conditions": extra.pop("conditions", [])}
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {"exitCode": exit_code}}}]
    meta = {
        "namespace": "ns",
        "name": f"render-{n}",
        "uid": f"pod-{n}",
        "finalizers": [TRACKING_FINALIZER] if tracked else [],
        **extra,
    }
    return {"metadata": meta, "status": status}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status.get("conditions", [])}


def test_a_new_job_starts_as_many_pods_as_parallelism_allows() -> None:
    decision = sync_job(job(parallelism=2, completions=5), [], NOW)
    assert decision.create == 2
    assert decision.status["startTime"] == format_time(NOW)
    assert decision.status["active"] == 2


def test_a_job_never_runs_more_pods_than_remaining_completions() -> None:
    status = {"startTime": format_time(NOW), "succeeded": 4}
    decision = sync_job(job(status, parallelism=3, completions=5), [], NOW)
    assert decision.create == 1


def test_a_finished_pod_is_recorded_before_its_finalizer_goes_then_counted() -> None:
    done = pod("Succeeded", 0)
    first = sync_job(job(parallelism=1, completions=2), [done], NOW)
    assert first.status["uncountedTerminatedPods"]["succeeded"] == [done["metadata"]["uid"]]
    assert first.release == [done["metadata"]["name"]]
    assert first.status.get("succeeded", 0) == 0
    released = {**done, "metadata": {**done["metadata"], "finalizers": []}}
    second = sync_job(job(first.status, parallelism=1, completions=2), [released], NOW)
    assert second.status["succeeded"] == 1
    assert second.status["uncountedTerminatedPods"]["succeeded"] == []


def test_reaching_completions_sets_success_criteria_then_complete_once_pods_are_gone() -> None:
    done = pod("Succeeded", 0)
    first = sync_job(job(parallelism=1, completions=1), [done], NOW)
    assert conditions(first.status)["SuccessCriteriaMet"][0] == "True"
    assert "Complete" not in conditions(first.status)
    second = sync_job(job(first.status, parallelism=1, completions=1), [], NOW)
    assert conditions(second.status)["Complete"] == (
        "True",
        "CompletionsReached",
        "Reached expected number of succeeded pods",
    )
    assert second.status["completionTime"] == format_time(NOW)
    assert second.status["succeeded"] == 1


def test_exit_code_matching_fail_job_fails_the_job_at_once_and_stops_the_others() -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [10]}}]}
    bad, running = pod("Failed", 10), pod("Running")
    first = sync_job(
        job(parallelism=2, completions=2, backoffLimit=6, podFailurePolicy=policy), [bad, running], NOW
    )
    target = conditions(first.status)["FailureTarget"]
    assert target[:2] == ("True", "PodFailurePolicy")
    assert (
        target[2]
        == f"Container main for pod ns/{bad['metadata']['name']} failed with exit code 10 matching FailJob rule at index 0"
    )
    assert first.terminate == [running["metadata"]["name"]]
    assert first.create == 0
    settled = sync_job(job(first.status, parallelism=2, completions=2, podFailurePolicy=policy), [], NOW)
    assert conditions(settled.status)["Failed"] == ("True", "PodFailurePolicy", target[2])


def test_failures_beyond_backoff_limit_fail_the_job() -> None:
    status = {"startTime": format_time(NOW), "failed": 1}
    decision = sync_job(job(status, backoffLimit=1), [pod("Failed", 1)], NOW)
    assert conditions(decision.status)["FailureTarget"][1:] == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )


def test_a_failure_within_backoff_limit_is_replaced() -> None:
    decision = sync_job(job(backoffLimit=2), [pod("Failed", 1)], NOW)
    assert decision.create == 1
    assert "FailureTarget" not in conditions(decision.status)
    assert len(decision.status["uncountedTerminatedPods"]["failed"]) == 1


def test_a_failure_ignored_by_policy_is_not_counted_and_is_replaced() -> None:
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    evicted = pod("Failed", 137, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    decision = sync_job(job(backoffLimit=0, podFailurePolicy=policy), [evicted], NOW)
    assert decision.create == 1
    assert decision.status["uncountedTerminatedPods"]["failed"] == []
    assert decision.release == [evicted["metadata"]["name"]]
    assert "FailureTarget" not in conditions(decision.status)


def test_a_job_running_past_its_deadline_fails_and_kills_its_pods() -> None:
    started = format_time(NOW - datetime.timedelta(seconds=11))
    running = pod("Running")
    decision = sync_job(job({"startTime": started}, activeDeadlineSeconds=10), [running], NOW)
    assert conditions(decision.status)["FailureTarget"][1:] == (
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    assert decision.terminate == [running["metadata"]["name"]]


def test_a_job_before_its_deadline_asks_to_be_synced_when_it_expires() -> None:
    started = format_time(NOW - datetime.timedelta(seconds=4))
    decision = sync_job(job({"startTime": started}, activeDeadlineSeconds=10), [pod("Running")], NOW)
    assert decision.requeue_after == 6


def test_suspending_kills_active_pods_and_stops_the_clock() -> None:
    running = pod("Running")
    decision = sync_job(job({"startTime": format_time(NOW)}, suspend=True), [running], NOW)
    assert conditions(decision.status)["Suspended"] == ("True", "JobSuspended", "Job suspended")
    assert decision.terminate == [running["metadata"]["name"]]
    assert decision.create == 0
    assert "startTime" not in decision.status


def test_resuming_clears_suspended_and_resets_start_time() -> None:
    suspended = sync_job(job(suspend=True), [], NOW).status
    later = NOW + datetime.timedelta(minutes=5)
    decision = sync_job(job(suspended, suspend=False), [], later)
    assert conditions(decision.status)["Suspended"] == ("False", "JobResumed", "Job resumed")
    assert decision.status["startTime"] == format_time(later)
    assert decision.create == 1


def test_a_finished_job_is_deleted_once_its_ttl_runs_out() -> None:
    done = sync_job(job({"succeeded": 1, "uncountedTerminatedPods": {"succeeded": [], "failed": []}},
                        completions=1, parallelism=1), [], NOW).status  # fmt: skip
    assert sync_job(job(done, ttlSecondsAfterFinished=30), [], NOW).requeue_after == 30
    assert sync_job(
        job(done, ttlSecondsAfterFinished=30), [], NOW + datetime.timedelta(seconds=30)
    ).delete_job


def test_syncing_twice_changes_nothing() -> None:
    pods = [pod("Running"), pod("Running")]
    first = sync_job(job(parallelism=2, completions=4), pods, NOW)
    second = sync_job(
        job(first.status, parallelism=2, completions=4), pods, NOW + datetime.timedelta(seconds=1)
    )
    assert second.status == first.status
    assert second.create == 0
