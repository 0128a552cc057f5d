"""Pod status documents the kubelet stand-in writes through `pods/<name>/status`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from scenefarm_devkit.jobrunner.timestamps import format_time, now

TERMINAL_PHASES = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class Termination:
    """How a container ended, as `state.terminated` records it."""

    exit_code: int
    reason: str  # Completed | Error | OOMKilled | DeadlineExceeded | ContainerStatusUnknown
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None


def is_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _condition(
    kind: str, status: bool, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": format_time(now()),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _container_status(container: Mapping[str, Any], state: dict[str, Any], ready: bool) -> dict[str, Any]:
    return {
        "name": container.get("name", "main"),
        "image": container.get("image", ""),
        "imageID": "",
        "containerID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": state,
    }


def pending_status(
    container: Mapping[str, Any], reason: str = "ContainerCreating", message: str = ""
) -> dict[str, Any]:
    """Scheduled and waiting: for a free local process slot or for its config."""
    waiting: dict[str, Any] = {"reason": reason}
    if message:
        waiting["message"] = message
    return {
        "phase": "Pending",
        "conditions": [_condition("PodScheduled", True)],
        "containerStatuses": [_container_status(container, {"waiting": waiting}, ready=False)],
    }


def running_status(container: Mapping[str, Any], pid: int, started_at: str) -> dict[str, Any]:
    status = _container_status(container, {"running": {"startedAt": started_at}}, ready=True)
    status["containerID"] = f"local://{pid}"
    return {
        "phase": "Running",
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "startTime": started_at,
        "conditions": [
            _condition("PodReadyToStartContainers", True),
            _condition("Initialized", True),
            _condition("Ready", True),
            _condition("ContainersReady", True),
            _condition("PodScheduled", True),
        ],
        "containerStatuses": [status],
    }


def terminated_status(
    container: Mapping[str, Any],
    ending: Termination,
    extra_conditions: list[dict[str, Any]] | None = None,
    pid: int | None = None,
) -> dict[str, Any]:
    """The final status: phase from the exit code, Ready False, `state.terminated` filled in."""
    terminated: dict[str, Any] = {"exitCode": ending.exit_code, "reason": ending.reason}
    if ending.message:
        terminated["message"] = ending.message
    started = ending.started_at or format_time(now())
    terminated["startedAt"] = started
    terminated["finishedAt"] = ending.finished_at or format_time(now())
    container_status = _container_status(container, {"terminated": terminated}, ready=False)
    container_status["containerID"] = f"local://{pid}" if pid else ""
    succeeded = ending.exit_code == 0
    reason = "PodCompleted" if succeeded else "PodFailed"
    return {
        "phase": "Succeeded" if succeeded else "Failed",
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "startTime": started,
        "conditions": [
            *(extra_conditions or []),
            _condition("PodReadyToStartContainers", False),
            _condition("Initialized", True, reason),
            _condition("Ready", False, reason),
            _condition("ContainersReady", False, reason),
            _condition("PodScheduled", True),
        ],
        "containerStatuses": [container_status],
    }


def disruption_condition(reason: str, message: str) -> dict[str, Any]:
    """`DisruptionTarget`: what podFailurePolicy `onPodConditions` rules look for."""
    return _condition("DisruptionTarget", True, reason, message)
