"""One Job controller sync as a pure function: (Job, its Pods, now) -> what to do and the status.

It follows the real controller (Kubernetes 1.31+): terminal Pods are first recorded in
`status.uncountedTerminatedPods`, then their tracking finalizer is removed, then they move into
`succeeded`/`failed` — so a crash between steps never counts a Pod twice or loses one.  Success
sets SuccessCriteriaMet, failure FailureTarget; Complete/Failed follow once no Pod is running.
Indexed Jobs (`completionMode: Indexed`) count succeeded indexes instead of Pods and, with
`backoffLimitPerIndex`, retry each index on its own (the bookkeeping is in `indexed`).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_devkit.jobrunner import indexed
from scenefarm_devkit.jobrunner.conditions import (
    finish_time,
    get_condition,
    has_condition,
    is_finished,
    set_condition,
)
from scenefarm_devkit.jobrunner.failurepolicy import FAIL_JOB, IGNORE, match_pod_failure_policy
from scenefarm_devkit.jobrunner.podmanifest import TRACKING_FINALIZER
from scenefarm_devkit.jobrunner.podstatus import is_ready, is_terminal
from scenefarm_devkit.jobrunner.timestamps import format_time, parse_time

DEFAULT_BACKOFF_LIMIT = 6
UNLIMITED = 2**31 - 1  # the API server's default backoffLimit when backoffLimitPerIndex is set
BACKOFF_MESSAGE = "Job has reached the specified backoff limit"
DEADLINE_MESSAGE = "Job was active longer than specified deadline"
COMPLETIONS_MESSAGE = "Reached expected number of succeeded pods"
COMPLETED = ("CompletionsReached", COMPLETIONS_MESSAGE)


@dataclasses.dataclass
class SyncDecision:
    """What one sync wants: the new status, Pods to create or to kill, finalizers to drop."""

    status: dict[str, Any]
    create: int = 0
    indexes: list[indexed.NewPod] = dataclasses.field(default_factory=list)  # Indexed Jobs: what to create
    terminate: list[str] = dataclasses.field(default_factory=list)  # Pod names to kill and delete
    terminate_reason: str = ""
    release: list[str] = dataclasses.field(default_factory=list)  # Pod names: remove tracking finalizer
    delete_job: bool = False
    requeue_after: float | None = None


def _ttl_decision(job: Mapping[str, Any], status: dict[str, Any], now: datetime.datetime) -> SyncDecision:
    decision = SyncDecision(status=status)
    ttl = job["spec"].get("ttlSecondsAfterFinished")
    finished_at = finish_time(status)
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


def _settle_counted(pods: Sequence[Mapping[str, Any]], status: dict[str, Any]) -> None:
    """Move recorded Pods whose finalizer is gone from `uncountedTerminatedPods` into the totals."""
    uncounted = status.get("uncountedTerminatedPods") or {}
    still_tracked = {_pod_uid(p) for p in pods if _tracked(p)}
    for outcome in ("succeeded", "failed"):
        pending = list(uncounted.get(outcome) or [])
        done = [uid for uid in pending if uid not in still_tracked]
        status[outcome] = int(status.get(outcome) or 0) + len(done)
        uncounted[outcome] = [uid for uid in pending if uid in still_tracked]
    status["uncountedTerminatedPods"] = uncounted


def _record_terminal_pods(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    status: dict[str, Any],
    decision: SyncDecision,
    held: set[str] | frozenset[str] = frozenset(),
) -> str | None:
    """Record newly terminal Pods (all but `held` ones) and release them; a FailJob rule's message.

    An Indexed Job's succeeded Pods are counted through `completedIndexes`, not by uid, and its
    Pods without a valid index are released without being counted.
    """
    spec = job["spec"]
    uncounted = status["uncountedTerminatedPods"]
    completions = int(spec.get("completions") or 0)
    fail_job_message = None
    for pod in pods:
        if not (_tracked(pod) and is_terminal(pod)):
            continue
        uid, succeeded = _pod_uid(pod), pod["status"]["phase"] == "Succeeded"
        match = None if succeeded else match_pod_failure_policy(spec.get("podFailurePolicy"), pod)
        if match is not None and match.action == FAIL_JOB and fail_job_message is None:
            fail_job_message = match.message
        if uid in held:
            continue
        decision.release.append(_pod_name(pod))
        if uid in uncounted["succeeded"] or uid in uncounted["failed"]:
            continue
        if indexed.is_indexed(spec) and indexed.valid_index(pod, completions) is None:
            continue
        if succeeded:
            if not indexed.is_indexed(spec):
                uncounted["succeeded"].append(uid)
        elif match is None or match.action != IGNORE:
            uncounted["failed"].append(uid)
    return fail_job_message


def _backoff_limit(spec: Mapping[str, Any]) -> int:
    if spec.get("backoffLimit") is not None:
        return int(spec["backoffLimit"])
    return UNLIMITED if spec.get("backoffLimitPerIndex") is not None else DEFAULT_BACKOFF_LIMIT


def _failure(
    job: Mapping[str, Any],
    status: Mapping[str, Any],
    fail_job_message: str | None,
    now: datetime.datetime,
    view: indexed.IndexView | None = None,
) -> tuple[str, str] | None:
    spec = job["spec"]
    target = get_condition(status, "FailureTarget")
    if target and target.get("status") == "True":
        return str(target.get("reason", "")), str(target.get("message", ""))
    if fail_job_message is not None:
        return "PodFailurePolicy", fail_job_message
    failed = int(status.get("failed") or 0) + len(status["uncountedTerminatedPods"]["failed"])
    if view is not None:  # failed Pods whose finalizer waits for their replacement count already
        failed += sum(1 for p in view.delayed.values() if not _ignored(job, p))
    if failed > _backoff_limit(spec):
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
    return view.failure(spec) if view is not None else None


def _ignored(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    match = match_pod_failure_policy(job["spec"].get("podFailurePolicy"), pod)
    return match is not None and match.action == IGNORE


def _completions(spec: Mapping[str, Any]) -> int | None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        return 1  # the API server's default when both are unset
    completions = spec.get("completions")
    return None if completions is None else int(completions)


def _succeeded_enough(spec: Mapping[str, Any], status: Mapping[str, Any], active: int) -> bool:
    succeeded = int(status.get("succeeded") or 0) + len(status["uncountedTerminatedPods"]["succeeded"])
    if indexed.is_indexed(spec):
        return succeeded >= int(spec["completions"])  # `succeeded` already holds every completed index
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
    _settle_counted(pods, status)
    active = [p for p in pods if not is_terminal(p) and not p["metadata"].get("deletionTimestamp")]
    terminating = [p for p in pods if not is_terminal(p) and p["metadata"].get("deletionTimestamp")]
    view = indexed.assess(spec, status, pods, active, _tracked) if indexed.is_indexed(spec) else None
    fail_job_message = _record_terminal_pods(job, pods, status, decision, view.held if view else set())
    if view is not None:
        view.write(status)
    suspended = bool(spec.get("suspend"))
    if not suspended and status.get("startTime") is None:
        status["startTime"] = when

    failure = _failure(job, status, fail_job_message, now, view)
    success = failure is None and _succeeded_enough(spec, status, len(active))
    if failure is not None or success:
        _finish(
            job, pods, decision, failure=failure, when=when, active=active, terminating=terminating, view=view
        )
        active = []
    elif suspended:
        set_condition(status, "Suspended", True, ("JobSuspended", "Job suspended"), when)
        # Clearing startTime is what stops the activeDeadlineSeconds clock while suspended.
        status.pop("startTime", None)
        decision.terminate = [_pod_name(p) for p in active]
        decision.terminate_reason = "JobSuspended"
        active = []
    else:
        if has_condition(status, "Suspended"):
            set_condition(status, "Suspended", False, ("JobResumed", "Job resumed"), when)
            status["startTime"] = when
        if view is not None:
            active = _scale_indexed(spec, view, active, terminating, decision)
        else:
            active, decision.create = _scale(spec, status, active, terminating, decision)
        decision.requeue_after = _deadline_in(spec, status, now)

    status["active"] = len(active) + decision.create
    status["ready"] = sum(1 for p in active if is_ready(p))
    status["terminating"] = len(terminating) + len(decision.terminate)
    if is_finished({"status": status}):
        ttl = _ttl_decision(job, status, now)
        decision.delete_job, decision.requeue_after = ttl.delete_job, ttl.requeue_after
    return decision


def _finish(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    decision: SyncDecision,
    *,
    failure: tuple[str, str] | None,
    when: str,
    active: list[Mapping[str, Any]],
    terminating: list[Mapping[str, Any]],
    view: indexed.IndexView | None,
) -> None:
    """FailureTarget or SuccessCriteriaMet now; Failed or Complete once no Pod is left to count."""
    status = decision.status
    if failure is not None:
        set_condition(status, "FailureTarget", True, failure, when)
    else:
        set_condition(status, "SuccessCriteriaMet", True, COMPLETED, when)
    if view is not None:  # a finishing Job waits for no replacement: held Pods are recorded too
        _record_terminal_pods(job, [p for p in pods if _pod_uid(p) in view.held], status, decision)
    decision.terminate = [_pod_name(p) for p in active]
    decision.terminate_reason = failure[0] if failure else "CompletionsReached"
    settled = not active and not terminating and not any(status["uncountedTerminatedPods"].values())
    if settled and failure is not None:
        set_condition(status, "Failed", True, failure, when)
    elif settled:
        set_condition(status, "Complete", True, COMPLETED, when)
        status["completionTime"] = when


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


def _scale_indexed(
    spec: Mapping[str, Any],
    view: indexed.IndexView,
    active: list[Mapping[str, Any]],
    terminating: list[Mapping[str, Any]],
    decision: SyncDecision,
) -> list[Mapping[str, Any]]:
    """Remove surplus or duplicate-index Pods, else create Pods for the first pending indexes."""
    remove, decision.indexes = indexed.plan_pods(spec, view, active, terminating)
    decision.create = len(decision.indexes)
    if remove:
        decision.terminate = [_pod_name(p) for p in remove]
        decision.terminate_reason = "ParallelismReduced"
    return [p for p in active if p not in remove]


def _deadline_in(spec: Mapping[str, Any], status: Mapping[str, Any], now: datetime.datetime) -> float | None:
    deadline = spec.get("activeDeadlineSeconds")
    started = parse_time(status.get("startTime"))
    if deadline is None or started is None:
        return None
    return max(0.0, (started - now).total_seconds() + float(deadline))
