"""A Job's status conditions, as the Job controller writes them (pure)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from scenefarm_devkit.jobrunner.timestamps import parse_time


def has_condition(status: Mapping[str, Any], kind: str, value: str = "True") -> bool:
    return any(c.get("type") == kind and c.get("status") == value for c in status.get("conditions") or [])


def get_condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def set_condition(status: dict[str, Any], kind: str, value: bool, why: tuple[str, str], when: str) -> None:
    """Add or update a condition (`why` is reason and message); its time moves when it flips."""
    reason, message = why
    conditions: list[dict[str, Any]] = list(status.get("conditions") or [])
    text = "True" if value else "False"
    for i, old in enumerate(conditions):
        if old.get("type") == kind:
            if old.get("status") != text or old.get("reason") != reason:
                conditions[i] = {**old, "status": text, "reason": reason, "message": message,
                                 "lastProbeTime": when, "lastTransitionTime": when}  # fmt: skip
            status["conditions"] = conditions
            return
    conditions.append({"type": kind, "status": text, "reason": reason, "message": message,
                       "lastProbeTime": when, "lastTransitionTime": when})  # fmt: skip
    status["conditions"] = conditions


def is_finished(job: Mapping[str, Any]) -> bool:
    status = job.get("status") or {}
    return has_condition(status, "Complete") or has_condition(status, "Failed")


def finish_time(status: Mapping[str, Any]) -> datetime.datetime | None:
    for kind in ("Complete", "Failed"):
        condition = get_condition(status, kind)
        if condition and condition.get("status") == "True":
            return parse_time(status.get("completionTime") or condition.get("lastTransitionTime"))
    return None
