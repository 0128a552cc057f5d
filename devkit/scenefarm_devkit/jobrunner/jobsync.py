"""One Job controller sync as a pure function: (Job, its Pods, now) -> what to do and the status.

It follows the real controller (Kubernetes 1.31+): terminal Pods are first recorded in
`status.uncountedTerminatedPods`, then their tracking finalizer is removed, then they move into
`succeeded`/`failed` — so a crash between steps never counts a Pod twice or loses one.  Success
sets SuccessCriteriaMet, failure FailureTarget; Complete/Failed follow once no Pod is running.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_devkit.jobrunner.failurepolicy import FAIL_JOB, IGNORE, match_pod_failure_policy
from scenefarm_devkit.jobrunner.podmanifest import TRACKING_FINALIZER
from scenefarm_devkit.jobrunner.podstatus import is_ready, is_terminal
from scenefarm_devkit.jobrunner.timestamps import format_time, parse_time

DEFAULT_BACKOFF_LIMIT = 6
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETIONS_MESSAGE = "Reached expected number of succeeded pods"
COMPLETED = ("CompletionsReached", COMPLETIONS_MESSAGE)


@dataclasses.dataclass
class SyncDecision:
    """What one sync wants: the new status, Pods to create or to kill, finalizers to drop."""

    status: dict[str, Any]
    create: int = 0
    terminate: list[str] = dataclasses.field(default_factory=list)  # Pod names to kill and delete
    terminate_reason: str = ""
    release: list[str] = dataclasses.field(default_factory=list)  # Pod names: remove tracking finalizer
    delete_job: bool = False
    requeue_after: float | None = None


def _has_condition(status: Mapping[str, Any], kind: str, value: str = "True") -> bool:
    return any(c.get("type") == kind and c.get("status") == value for c in status.get("conditions") or [])


def _get_condition(status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return None


def _set_condition(status: dict[str, Any], kind: str, value: bool, why: tuple[str, str], when: str) -> None:
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
    return _has_condition(status, "Complete") or _has_condition(status, "Failed")


def _finish_time(status: Mapping[str, Any]) -> datetime.datetime | None:
    for kind in ("Complete", "Failed"):
        condition = _get_condition(status, kind)
        if condition and condition.get("status") == "True":
            return parse_time(status.get("completionTime") or condition.get("lastTransitionTime"))
    return None


def _ttl_decision(job: Mapping[str, Any], status: dict[str, Any], now: datetime.datetime) -> SyncDecision:
    decision = SyncDecision(status=status)
    ttl = job["spec"].get("ttlSecondsAfterFinished")
    finished_at = _finish_time(status)
    if ttl is not None and finished_at is not None:
        remaining = (finished_at + datetime.timedelta(seconds=ttl) - now).total_seconds()
        decision.delete_job = remaining <= 0
        decision.requeue_after = None if remaining <= 0 else remaining
    return decision


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str(pod["metadata"]["name"])


def _pod_uid(pod: Mapping[str, Any]) -> str:
    return str(pod["metadata"].get("uid", ""))


def _tracked(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def _count_terminal_pods(
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], status: dict[str, Any], decision: SyncDecision
) -> str | None:
    """Move counted Pods into the totals, record newly terminal ones; a FailJob rule's message."""
    uncounted = status.get("uncountedTerminatedPods") or {}
    still_tracked = {_pod_uid(p) for p in pods if _tracked(p)}
    for outcome in ("succeeded", "failed"):
        pending = list(uncounted.get(outcome) or [])
        done = [uid for uid in pending if uid not in still_tracked]
        status[outcome] = int(status.get(outcome) or 0) + len(done)
        uncounted[outcome] = [uid for uid in pending if uid in still_tracked]
    fail_job_message = None
    policy = job["spec"].get("podFailurePolicy")
    for pod in pods:
        if not (_tracked(pod) and is_terminal(pod)):
            continue
        decision.release.append(_pod_name(pod))
        uid = _pod_uid(pod)
        if uid in uncounted["succeeded"] or uid in uncounted["failed"]:
            continue
        if pod["status"]["phase"] == "Succeeded":
            uncounted["succeeded"].append(uid)
            continue
        match = match_pod_failure_policy(policy, pod)
        if match is not None and match.action == IGNORE:
            continue
        if match is not None and match.action == FAIL_JOB and fail_job_message is None:
            fail_job_message = match.message
        uncounted["failed"].append(uid)
    status["uncountedTerminatedPods"] = uncounted
    return fail_job_message


def _failure(
    job: Mapping[str, Any], status: Mapping[str, Any], fail_job_message: str | None, now: datetime.datetime
) -> tuple[str, str] | None:
    spec = job["spec"]
    target = _get_condition(status, "FailureTarget")
    if target and target.get("status") == "True":
        return str(target.get("reason", "")), str(target.get("message", ""))
    if fail_job_message is not None:
        return "PodFailurePolicy", fail_job_message
    failed = int(status.get("failed") or 0) + len(status["uncountedTerminatedPods"]["failed"])
    if failed > int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT)):
        return "BackoffLimitExceeded", BACKOFF_MESSAGE
    deadline = spec.get("activeDeadlineSeconds")
    started = parse_time(status.get("startTime"))
    running_for = (now - started).total_seconds() if started is not None else None
    if (
        deadline is not None
        and running_for is not None
        and not spec.get("suspend")
        and running_for >= deadline
    ):
        return "DeadlineExceeded", DEADLINE_MESSAGE
    return None


def _completions(spec: Mapping[str, Any]) -> int | None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        return 1  # the API server's default when both are unset
    completions = spec.get("completions")
    return None if completions is None else int(completions)


def _succeeded_enough(spec: Mapping[str, Any], status: Mapping[str, Any], active: int) -> bool:
    succeeded = int(status.get("succeeded") or 0) + len(status["uncountedTerminatedPods"]["succeeded"])
    completions = _completions(spec)
    if completions is None:  # a work queue: done when one succeeded and the rest stopped
        return succeeded > 0 and active == 0
    return succeeded >= completions


def sync_job(
    job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], now: datetime.datetime
) -> SyncDecision:
    """Decide one sync of `job` given all its Pods (deleted ones excluded)."""
    spec = job["spec"]
    status: dict[str, Any] = copy.deepcopy(dict(job.get("status") or {}))
    when = format_time(now)
    if is_finished(job):
        return _ttl_decision(job, status, now)
    decision = SyncDecision(status=status)
    fail_job_message = _count_terminal_pods(job, pods, status, decision)
    active = [p for p in pods if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
    terminating = [p for p in pods if not is_terminal(p) and p["metadata"].get("deletionTimestamp")]
    suspended = bool(spec.get("suspend"))
    if not suspended and status.get("startTime") is None:
        status["startTime"] = when

    failure = _failure(job, status, fail_job_message, now)
    success = failure is None and _succeeded_enough(spec, status, len(active))
    if failure is not None:
        _set_condition(status, "FailureTarget", True, failure, when)
    elif success:
        _set_condition(status, "SuccessCriteriaMet", True, COMPLETED, when)

    if failure is not None or success:
        decision.terminate = [_pod_name(p) for p in active]
        decision.terminate_reason = failure[0] if failure else "CompletionsReached"
        settled = not active and not terminating and not any(status["uncountedTerminatedPods"].values())
        if settled and failure is not None:
            _set_condition(status, "Failed", True, failure, when)
        elif settled:
            _set_condition(status, "Complete", True, COMPLETED, when)
            status["completionTime"] = when
        active = []
    elif suspended:
        _set_condition(status, "Suspended", True, ("JobSuspended", "Job suspended"), when)
        # Clearing startTime is what stops the activeDeadlineSeconds clock while suspended.
        status.pop("startTime", None)
        decision.terminate = [_pod_name(p) for p in active]
        decision.terminate_reason = "JobSuspended"
        active = []
    else:
        if _has_condition(status, "Suspended"):
            _set_condition(status, "Suspended", False, ("JobResumed", "Job resumed"), when)
            status["startTime"] = when
        active, decision.create = _scale(spec, status, active, terminating, decision)
        decision.requeue_after = _deadline_in(spec, status, now)

    status["active"] = len(active) + decision.create
    status["ready"] = sum(1 for p in active if is_ready(p))
    status["terminating"] = len(terminating) + len(decision.terminate)
    if is_finished({"status": status}):
        ttl = _ttl_decision(job, status, now)
        decision.delete_job, decision.requeue_after = ttl.delete_job, ttl.requeue_after
    return decision


def _scale(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    active: list[Mapping[str, Any]],
    terminating: list[Mapping[str, Any]],
    decision: SyncDecision,
) -> tuple[list[Mapping[str, Any]], int]:
    """How many Pods to add (or which to remove) to reach parallelism without overshooting."""
    parallelism = int(spec.get("parallelism", 1))
    succeeded = int(status.get("succeeded") or 0) + len(status["uncountedTerminatedPods"]["succeeded"])
    completions = _completions(spec)
    if completions is None:
        wanted = parallelism if succeeded == 0 else 0
    else:
        wanted = max(0, min(parallelism, completions - succeeded))
    if len(active) > wanted:
        # Newest first, as the real controller prefers killing Pods that have done the least.
        extra = sorted(active, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)
        extra = extra[: len(active) - wanted]
        decision.terminate = [_pod_name(p) for p in extra]
        decision.terminate_reason = "ParallelismReduced"
        return [p for p in active if p not in extra], 0
    # Pods still terminating hold their slot (podReplacementPolicy: Failed semantics).
    return active, max(0, wanted - len(active) - len(terminating))


def _deadline_in(spec: Mapping[str, Any], status: Mapping[str, Any], now: datetime.datetime) -> float | None:
    deadline = spec.get("activeDeadlineSeconds")
    started = parse_time(status.get("startTime"))
    if deadline is None or started is None:
        return None
    return max(0.0, (started - now).total_seconds() + float(deadline))
