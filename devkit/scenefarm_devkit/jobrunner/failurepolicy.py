"""`spec.podFailurePolicy` matching, as the real Job controller does it (rules in order).

A rule matches a failed Pod by exit codes (`onExitCodes`: operator In/NotIn, optional
`containerName`; exit code 0 never matches) or by Pod conditions (`onPodConditions`, e.g.
DisruptionTarget).  The first matching rule's action wins: FailJob, Ignore, Count, or
FailIndex (the index of an Indexed Job with backoffLimitPerIndex fails at once; see `indexed`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

FAIL_JOB = "FailJob"
FAIL_INDEX = "FailIndex"
IGNORE = "Ignore"
COUNT = "Count"


@dataclasses.dataclass(frozen=True)
class PolicyMatch:
    action: str
    rule_index: int
    message: str


def _terminated_containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            terminated = (cs.get("state") or {}).get("terminated")
            if terminated is not None:
                yield cs.get("name", ""), int(terminated.get("exitCode", 0))


def _exit_code_match(rule: Mapping[str, Any], pod: Mapping[str, Any]) -> tuple[str, int] | None:
    requirement = rule["onExitCodes"]
    wanted_container = requirement.get("containerName")
    values = set(requirement.get("values") or [])
    operator = requirement.get("operator", "In")
    for name, code in _terminated_containers(pod):
        if code == 0 or (wanted_container and name != wanted_container):
            continue
        if (code in values) == (operator == "In"):
            return name, code
    return None


def _condition_match(rule: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    conditions = (pod.get("status") or {}).get("conditions") or []
    for pattern in rule["onPodConditions"]:
        for condition in conditions:
            if condition.get("type") == pattern.get("type") and condition.get("status") == pattern.get(
                "status", "True"
            ):
                return str(condition["type"])
    return None


def match_pod_failure_policy(policy: Mapping[str, Any] | None, pod: Mapping[str, Any]) -> PolicyMatch | None:
    """The first rule of `policy` that matches the failed `pod`, with the controller's message."""
    if not policy or (pod.get("status") or {}).get("phase") != "Failed":
        return None
    meta = pod.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action", COUNT)
        if rule.get("onExitCodes") is not None:
            found = _exit_code_match(rule, pod)
            if found is not None:
                message = (
                    f"Container {found[0]} for pod {where} failed with exit code {found[1]} "
                    f"matching {action} rule at index {index}"
                )
                return PolicyMatch(action, index, message)
        elif rule.get("onPodConditions") is not None:
            condition = _condition_match(rule, pod)
            if condition is not None:
                message = f"Pod {where} has condition {condition} matching {action} rule at index {index}"
                return PolicyMatch(action, index, message)
    return None
