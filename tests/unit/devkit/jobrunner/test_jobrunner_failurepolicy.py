"""podFailurePolicy matching: rules in order, exit codes and Pod conditions."""

from __future__ import annotations

from typing import Any

import pytest

from scenefarm_devkit.jobrunner.failurepolicy import match_pod_failure_policy


def failed_pod(
    exit_code: int, container: str = "main", conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "job-abcde"},
        "status": {
            "phase": "Failed",
            "conditions": conditions or [],
            "containerStatuses": [{"name": container, "state": {"terminated": {"exitCode": exit_code}}}],
        },
    }


FAIL_ON_10 = {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [10, 11]}}
IGNORE_DISRUPTION = {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
COUNT_NOT_IN_20 = {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [20]}}
EVICTED = [{"type": "DisruptionTarget", "status": "True"}]


@pytest.mark.parametrize(
    ("rules", "pod", "expected"),
    [
        ([FAIL_ON_10], failed_pod(10), ("FailJob", 0)),
        ([FAIL_ON_10], failed_pod(12), None),
        ([IGNORE_DISRUPTION, FAIL_ON_10], failed_pod(137, conditions=EVICTED), ("Ignore", 0)),
        ([FAIL_ON_10, IGNORE_DISRUPTION], failed_pod(137, conditions=EVICTED), ("Ignore", 1)),
        ([COUNT_NOT_IN_20, FAIL_ON_10], failed_pod(11), ("Count", 0)),
        ([COUNT_NOT_IN_20, FAIL_ON_10], failed_pod(20), None),
        (
            [{**FAIL_ON_10, "onExitCodes": {**FAIL_ON_10["onExitCodes"], "containerName": "other"}}],
            failed_pod(10),
            None,
        ),
        ([{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1]}}], failed_pod(0), None),
        (
            [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "False"}]}],
            failed_pod(1, conditions=EVICTED),
            None,
        ),
    ],
)
def test_first_matching_rule_decides_the_action(
    rules: list[dict[str, Any]], pod: dict[str, Any], expected: tuple[str, int] | None
) -> None:
    match = match_pod_failure_policy({"rules": rules}, pod)
    assert ((match.action, match.rule_index) if match else None) == expected


def test_fail_job_message_reads_like_the_job_controllers() -> None:
    match = match_pod_failure_policy({"rules": [FAIL_ON_10]}, failed_pod(10))
    assert match is not None
    assert (
        match.message
        == "Container main for pod ns/job-abcde failed with exit code 10 matching FailJob rule at index 0"
    )


def test_condition_rule_message_names_the_condition() -> None:
    match = match_pod_failure_policy({"rules": [IGNORE_DISRUPTION]}, failed_pod(137, conditions=EVICTED))
    assert match is not None
    assert match.message == "Pod ns/job-abcde has condition DisruptionTarget matching Ignore rule at index 0"


def test_pods_that_did_not_fail_match_no_rule() -> None:
    pod = failed_pod(10)
    pod["status"]["phase"] = "Running"
    assert match_pod_failure_policy({"rules": [FAIL_ON_10]}, pod) is None
    assert match_pod_failure_policy(None, failed_pod(10)) is None
