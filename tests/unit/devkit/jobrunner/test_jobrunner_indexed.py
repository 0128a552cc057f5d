"""Indexed Jobs: the index bookkeeping and the controller's decisions, as pure functions."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

import pytest

from scenefarm_devkit.jobrunner import indexed, intervals
from scenefarm_devkit.jobrunner.jobsync import sync_job
from scenefarm_devkit.jobrunner.podmanifest import TRACKING_FINALIZER, build_pod
from scenefarm_devkit.jobrunner.timestamps import format_time

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
_ids = itertools.count()
FAIL_INDEX_ON_42 = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}]}
FAIL_JOB_ON_10 = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [10]}}]}
IGNORE_DISRUPTION = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}


def job(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    spec = {"completionMode": "Indexed", "completions": 3, "parallelism": 3, **spec}
    return {
        "metadata": {"namespace": "ns", "name": "chunks", "uid": "job-uid"},
        "spec": {"template": {"spec": {"containers": [{"name": "main"}]}}, **spec},
        "status": status or {"startTime": format_time(NOW)},
    }


def pod(
    index: int | None, phase: str = "Running", exit_code: int | None = None, **extra: Any
) -> dict[str, Any]:
    n = next(_ids)
    annotations = {} if index is None else {indexed.COMPLETION_INDEX: str(index)}
    if "failures" in extra:
        annotations[indexed.FAILURE_COUNT] = str(extra.pop("failures"))
    status: dict[str, Any] = {"phase": phase, "conditions": extra.pop("conditions", [])}
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {"exitCode": exit_code}}}]
    meta = {
        "namespace": "ns",
        "name": f"chunks-{index}-{n}",
        "uid": f"pod-{n}",
        "annotations": annotations,
        "finalizers": [] if extra.pop("released", False) else [TRACKING_FINALIZER],
        "creationTimestamp": extra.pop("created", format_time(NOW)),
    }
    return {"metadata": meta, "status": status}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status.get("conditions", [])}


def released(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "metadata": {**p["metadata"], "finalizers": []}}


@pytest.mark.parametrize(
    ("indexes", "text"),
    [([0, 1, 2, 4], "0-2,4"), ([5, 6], "5,6"), ([0, 2, 3, 4, 7, 8], "0,2-4,7,8"), ([], "")],
)
def test_indexes_are_written_as_compressed_intervals(indexes: list[int], text: str) -> None:
    found = intervals.with_indexes([], indexes)
    assert intervals.format_indexes(found) == text
    assert intervals.parse_indexes(text, 10) == found
    assert intervals.total(found) == len(indexes)


def test_parsing_indexes_drops_those_beyond_completions_and_skips_corrupted_parts() -> None:
    assert intervals.parse_indexes("0-1,x,3-9,12", 5) == [(0, 1), (3, 4)]
    assert intervals.format_indexes(intervals.with_indexes([(0, 1), (4, 4)], [2, 3])) == "0-4"


def test_a_new_indexed_job_creates_one_pod_per_index_up_to_parallelism() -> None:
    decision = sync_job(job(parallelism=2, completions=5), [], NOW)
    assert [n.index for n in decision.indexes] == [0, 1]
    assert decision.create == 2 and decision.status["active"] == 2
    assert "completedIndexes" not in decision.status and decision.status["succeeded"] == 0


def test_an_index_with_a_running_or_terminating_pod_gets_no_second_one() -> None:
    running = pod(0)
    terminating = pod(1)
    terminating["metadata"]["deletionTimestamp"] = format_time(NOW)
    decision = sync_job(job(), [running, terminating], NOW)
    assert [n.index for n in decision.indexes] == [2]


def test_a_repeated_index_keeps_its_oldest_pod_and_creates_nothing_that_sync() -> None:
    older = pod(1, created=format_time(NOW - datetime.timedelta(seconds=5)))
    newer, stray = pod(1), pod(None)
    decision = sync_job(job(), [older, newer, stray], NOW)
    assert set(decision.terminate) == {newer["metadata"]["name"], stray["metadata"]["name"]}
    assert decision.create == 0


def test_succeeded_indexes_are_recorded_and_never_run_again() -> None:
    done = pod(1, "Succeeded", 0)
    first = sync_job(job(), [done], NOW)
    assert first.status["completedIndexes"] == "1" and first.status["succeeded"] == 1
    assert first.release == [done["metadata"]["name"]]
    assert first.status["uncountedTerminatedPods"]["succeeded"] == []  # indexes count, not uids
    assert sorted(n.index for n in first.indexes) == [0, 2]
    second = sync_job(job(first.status), [released(done)], NOW)
    assert second.status["completedIndexes"] == "1" and second.status["succeeded"] == 1
    assert sorted(n.index for n in second.indexes) == [0, 2]


def test_every_index_succeeded_completes_the_job() -> None:
    pods = [pod(i, "Succeeded", 0) for i in range(3)]
    first = sync_job(job(), pods, NOW)
    assert first.status["completedIndexes"] == "0-2"
    assert conditions(first.status)["SuccessCriteriaMet"][:2] == ("True", "CompletionsReached")
    second = sync_job(job(first.status), [released(p) for p in pods], NOW)
    assert conditions(second.status)["Complete"][:2] == ("True", "CompletionsReached")
    assert second.status["succeeded"] == 3 and second.status["completionTime"] == format_time(NOW)


def test_a_failed_index_is_retried_with_its_failure_count_until_backoff_limit_per_index() -> None:
    spec: dict[str, Any] = {"backoffLimitPerIndex": 1, "maxFailedIndexes": 0}
    first_try = pod(1, "Failed", 1)
    others = [pod(0), pod(2)]
    retry = sync_job(job(**spec), [*others, first_try], NOW)
    assert retry.indexes == [indexed.NewPod(1, failure_count=1)]
    # its finalizer waits for the replacement, which takes the count from it
    assert first_try["metadata"]["name"] not in retry.release
    assert retry.status["failedIndexes"] == "" and "FailureTarget" not in conditions(retry.status)
    second_try = pod(1, failures=1)
    after = sync_job(job(retry.status, **spec), [*others, first_try, second_try], NOW)
    assert after.release == [first_try["metadata"]["name"]]
    assert after.status["uncountedTerminatedPods"]["failed"] == [first_try["metadata"]["uid"]]
    assert after.create == 0
    second_try["status"] = {"phase": "Failed", "containerStatuses": first_try["status"]["containerStatuses"]}
    failing = sync_job(job(after.status, **spec), [*others, released(first_try), second_try], NOW)
    assert failing.status["failedIndexes"] == "1"
    assert failing.status["failed"] == 1
    assert conditions(failing.status)["FailureTarget"] == (
        "True",
        "MaxFailedIndexesExceeded",
        "Job has exceeded the specified maximal number of failed indexes",
    )
    assert sorted(failing.terminate) == sorted(p["metadata"]["name"] for p in others)
    settled = sync_job(job(failing.status, **spec), [released(first_try), released(second_try)], NOW)
    assert conditions(settled.status)["Failed"][:2] == ("True", "MaxFailedIndexesExceeded")
    assert settled.status["failed"] == 2


def test_failed_indexes_within_max_fail_the_job_once_every_index_is_done() -> None:
    spec: dict[str, Any] = {"backoffLimitPerIndex": 0, "maxFailedIndexes": 2}
    lost, ok = pod(0, "Failed", 1), pod(1, "Succeeded", 0)
    first = sync_job(job(**spec), [lost, ok, pod(2)], NOW)
    assert first.status["failedIndexes"] == "0" and first.status["completedIndexes"] == "1"
    assert "FailureTarget" not in conditions(first.status) and first.create == 0
    last = pod(2, "Succeeded", 0)
    done = sync_job(job(first.status, **spec), [released(lost), released(ok), last], NOW)
    assert conditions(done.status)["FailureTarget"] == ("True", "FailedIndexes", "Job has failed indexes")


def test_fail_index_rule_fails_the_index_at_once() -> None:
    spec: dict[str, Any] = {"backoffLimitPerIndex": 3, "podFailurePolicy": FAIL_INDEX_ON_42}
    decision = sync_job(job(**spec), [pod(0), pod(1, "Failed", 42), pod(2)], NOW)
    assert decision.status["failedIndexes"] == "1"
    assert decision.create == 0  # index 1 is not retried
    assert "FailureTarget" not in conditions(decision.status)  # no maxFailedIndexes: others go on


def test_fail_job_rule_fails_an_indexed_job_and_stops_the_other_pods() -> None:
    spec: dict[str, Any] = {
        "backoffLimitPerIndex": 2,
        "maxFailedIndexes": 0,
        "podFailurePolicy": FAIL_JOB_ON_10,
    }
    bad, running = pod(0, "Failed", 10), pod(1)
    decision = sync_job(job(**spec), [bad, running], NOW)
    assert conditions(decision.status)["FailureTarget"][:2] == ("True", "PodFailurePolicy")
    assert decision.terminate == [running["metadata"]["name"]]
    assert bad["metadata"]["name"] in decision.release and decision.create == 0


def test_an_ignored_failure_is_not_counted_against_the_index() -> None:
    spec: dict[str, Any] = {"backoffLimitPerIndex": 0, "podFailurePolicy": IGNORE_DISRUPTION}
    evicted = pod(0, "Failed", 137, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    decision = sync_job(job(**spec), [evicted, pod(1), pod(2)], NOW)
    assert decision.status["failedIndexes"] == ""
    assert decision.indexes == [indexed.NewPod(0, failure_count=0, ignored_failure_count=1)]


def test_backoff_limit_per_index_lifts_the_default_job_backoff_limit() -> None:
    status = {"startTime": format_time(NOW), "failed": 10}
    decision = sync_job(job(status, backoffLimitPerIndex=20), [pod(0, "Failed", 1, failures=10)], NOW)
    assert "FailureTarget" not in conditions(decision.status)
    assert decision.indexes[0] == indexed.NewPod(0, failure_count=11)


def test_without_backoff_limit_per_index_the_job_backoff_limit_applies() -> None:
    decision = sync_job(job(backoffLimit=0), [pod(0, "Failed", 1), pod(1), pod(2)], NOW)
    assert conditions(decision.status)["FailureTarget"][1] == "BackoffLimitExceeded"
    assert "failedIndexes" not in decision.status


def test_a_suspended_indexed_job_stops_its_pods_and_resumes_on_the_pending_indexes() -> None:
    running, done = pod(0), pod(1, "Succeeded", 0, released=True)
    suspended = sync_job(job({"completedIndexes": "1"}, suspend=True), [running, done], NOW)
    assert suspended.terminate == [running["metadata"]["name"]]
    resumed = sync_job(job(suspended.status), [done], NOW)
    assert sorted(n.index for n in resumed.indexes) == [0, 2]


def test_an_indexed_pod_carries_its_index_like_the_real_controller_builds_it() -> None:
    manifest = job(backoffLimitPerIndex=1)
    manifest["spec"]["template"]["spec"]["initContainers"] = [{"name": "init"}]
    built = build_pod(manifest, suffix="abcde", index=indexed.NewPod(2, failure_count=1))
    meta = built["metadata"]
    assert meta["name"] == "chunks-2-abcde"
    assert meta["annotations"][indexed.COMPLETION_INDEX] == meta["labels"][indexed.COMPLETION_INDEX] == "2"
    assert meta["annotations"][indexed.FAILURE_COUNT] == "1"
    assert built["spec"]["hostname"] == "chunks-2"
    for container in [*built["spec"]["containers"], *built["spec"]["initContainers"]]:
        assert container["env"] == [
            {
                "name": "JOB_COMPLETION_INDEX",
                "valueFrom": {
                    "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}
                },
            }
        ]


def test_a_long_job_name_is_cut_so_the_generated_pod_name_fits() -> None:
    prefix = indexed.generate_name("j" * 70, 12)
    assert len(prefix) == indexed.MAX_GENERATED_NAME_LENGTH and prefix.endswith("-12-")


def test_a_deadline_fails_an_indexed_job_and_releases_the_pod_awaiting_replacement() -> None:
    started = format_time(NOW - datetime.timedelta(seconds=11))
    awaiting, running = pod(1, "Failed", 1), pod(0)
    spec: dict[str, Any] = {"backoffLimitPerIndex": 2, "activeDeadlineSeconds": 10}
    decision = sync_job(job({"startTime": started}, **spec), [running, awaiting], NOW)
    assert conditions(decision.status)["FailureTarget"][:2] == ("True", "DeadlineExceeded")
    assert decision.terminate == [running["metadata"]["name"]] and decision.create == 0
    assert awaiting["metadata"]["name"] in decision.release
    assert decision.status["uncountedTerminatedPods"]["failed"] == [awaiting["metadata"]["uid"]]


def test_a_finished_indexed_job_is_deleted_after_its_ttl() -> None:
    pods = [pod(i, "Succeeded", 0, released=True) for i in range(3)]
    status = {"startTime": format_time(NOW), "completedIndexes": "0-2"}
    first = sync_job(job(status, ttlSecondsAfterFinished=0), pods, NOW)
    assert conditions(first.status)["Complete"][0] == "True"
    assert first.delete_job
