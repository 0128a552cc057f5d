"""Indexed Jobs' bookkeeping, as pkg/controller/job/indexed_job_utils.go does it (pure).

Each Pod of an Indexed Job carries its completion index in the annotation (and label)
`batch.kubernetes.io/job-completion-index`. Succeeded indexes are kept in
`status.completedIndexes` as ordered intervals ("0-2,4"; two neighbours are "5,6"); with
`backoffLimitPerIndex`, indexes that failed for good go to `status.failedIndexes` the same way.

Per-index retries: a replacement Pod carries `batch.kubernetes.io/job-index-failure-count`, the
counted failures of its index before it (and the ignored ones in
`batch.kubernetes.io/job-index-ignored-failure-count`). An index fails for good when a counted
failure happens with that count already at `backoffLimitPerIndex`, or at once on a FailIndex rule.
The failed Pod an index is waiting to replace keeps its tracking finalizer until the replacement
exists ("delayed deletion"), so the count is never lost between the two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scenefarm_devkit.jobrunner.failurepolicy import FAIL_INDEX, IGNORE, match_pod_failure_policy
from scenefarm_devkit.jobrunner.intervals import (
    Interval,
    format_indexes,
    has,
    merge,
    parse_indexes,
    pending_indexes,
    total,
    with_indexes,
)

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"  # annotation and label
FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
MAX_FAILED_INDEXES = (
    "MaxFailedIndexesExceeded",
    "Job has exceeded the specified maximal number of failed indexes",
)
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
MAX_GENERATED_NAME_LENGTH = 58  # 63 minus the 5 random characters of generateName
_INT32_MAX = 2**31 - 1

Pod = Mapping[str, Any]
Tracked = Callable[[Pod], bool]  # whether the Pod still has its tracking finalizer


@dataclasses.dataclass(frozen=True)
class NewPod:
    """One Pod to create for `index`, with the failure counts its annotations carry."""

    index: int
    failure_count: int | None = None  # None: the Job has no backoffLimitPerIndex
    ignored_failure_count: int = 0


def is_indexed(spec: Mapping[str, Any]) -> bool:
    return spec.get("completionMode") == "Indexed"


def per_index(spec: Mapping[str, Any]) -> bool:
    return is_indexed(spec) and spec.get("backoffLimitPerIndex") is not None


# -- Pods ---------------------------------------------------------------------------------------


def completion_index(pod: Pod) -> int | None:
    """The Pod's index from its annotation; None when missing or not a non-negative integer."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        index = int(str(value))
    except ValueError:
        return None
    return index if index >= 0 else None


def valid_index(pod: Pod, completions: int) -> int | None:
    index = completion_index(pod)
    return index if index is not None and index < completions else None


def _count_annotation(pod: Pod, key: str) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        number = int(str(value))
    except ValueError:
        return 0  # missing or forged: the controller falls back to 0
    return number if 0 <= number <= _INT32_MAX else 0


def failure_count(pod: Pod) -> int:
    return _count_annotation(pod, FAILURE_COUNT)


def ignored_failure_count(pod: Pod) -> int:
    return _count_annotation(pod, IGNORED_FAILURE_COUNT)


def _failed(pod: Pod) -> bool:
    return (pod.get("status") or {}).get("phase") == "Failed"


def index_failed(spec: Mapping[str, Any], pod: Pod) -> bool:
    """Whether this failed Pod fails its index for good (isIndexFailed)."""
    if not _failed(pod):
        return False
    match = match_pod_failure_policy(spec.get("podFailurePolicy"), pod)
    if match is not None and match.action == FAIL_INDEX:
        return True
    counted = match is None or match.action != IGNORE
    return counted and failure_count(pod) >= int(spec["backoffLimitPerIndex"])


def next_failure_counts(spec: Mapping[str, Any], replaced: Pod | None) -> tuple[int, int]:
    """(failure count, ignored count) for the Pod that replaces `replaced` (getNewIndexFailureCounts)."""
    if replaced is None:
        return 0, 0
    counted, ignored = failure_count(replaced), ignored_failure_count(replaced)
    match = match_pod_failure_policy(spec.get("podFailurePolicy"), replaced)
    if match is not None and match.action == IGNORE:
        return counted, ignored + 1
    return counted + 1, ignored


def succeeded_indexes(
    status: Mapping[str, Any], pods: Sequence[Pod], completions: int, tracked: Tracked
) -> list[Interval]:
    """`completedIndexes` plus the indexes of tracked Succeeded Pods (calculateSucceededIndexes)."""
    previous = parse_indexes(status.get("completedIndexes"), completions)
    new = [
        index
        for pod in pods
        if (pod.get("status") or {}).get("phase") == "Succeeded"
        and tracked(pod)
        and (index := valid_index(pod, completions)) is not None
    ]
    return with_indexes(previous, new)


def failed_indexes(
    spec: Mapping[str, Any], status: Mapping[str, Any], pods: Sequence[Pod], tracked: Tracked
) -> list[Interval]:
    """`failedIndexes` plus the indexes tracked Pods just failed for good (calculateFailedIndexes)."""
    completions = int(spec["completions"])
    previous = parse_indexes(status.get("failedIndexes"), completions)
    new = [
        index
        for pod in pods
        if tracked(pod) and (index := valid_index(pod, completions)) is not None and index_failed(spec, pod)
    ]
    return with_indexes(previous, new)


def _finished_at(pod: Pod) -> str:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            return str(finished)
    return str((pod.get("metadata") or {}).get("creationTimestamp") or "")


def delayed_deletion(
    spec: Mapping[str, Any],
    pods: Sequence[Pod],
    active: Sequence[Pod],
    done: Sequence[Interval],
    tracked: Tracked,
) -> dict[int, Pod]:
    """Per pending index, the latest failed tracked Pod its replacement takes its counts from.

    `done` holds the succeeded and failed indexes. The finalizer of these Pods stays until the
    replacement exists (getPodsWithDelayedDeletionPerIndex).
    """
    completions = int(spec["completions"])
    active_indexes = {completion_index(p) for p in active}
    latest: dict[int, Pod] = {}
    for pod in pods:
        index = valid_index(pod, completions)
        if not (tracked(pod) and _failed(pod)) or index is None:
            continue
        if has(done, index) or index in active_indexes:
            continue
        before = latest.get(index)
        absolute = failure_count(pod) + ignored_failure_count(pod)
        if before is None or (
            failure_count(before) + ignored_failure_count(before) <= absolute
            and _finished_at(pod) >= _finished_at(before)
        ):
            latest[index] = pod
    return latest


def extra_pods(active: Sequence[Pod], completions: int) -> list[Pod]:
    """Active Pods with no valid index, and all but the furthest along of a repeated index."""
    by_index: dict[int, list[Pod]] = {}
    extra: list[Pod] = []
    for pod in active:
        index = valid_index(pod, completions)
        if index is None:
            extra.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    for same in by_index.values():
        extra.extend(removal_order(same)[:-1])
    return extra


def removal_order(pods: Sequence[Pod]) -> list[Pod]:
    """controller.ActivePods order: the least advanced and, among equals, the newest first."""
    newest_first = sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp") or ""), reverse=True)
    return sorted(newest_first, key=_stage)


def _stage(pod: Pod) -> tuple[int, int]:  # (running, ready): more is further along
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    return int(status.get("phase") == "Running"), int(ready)


def generate_name(job_name: str, index: int) -> str:
    """`<job>-<index>-`, the job name cut so the whole fits generateName (podGenerateNameWithIndex)."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


@dataclasses.dataclass(frozen=True)
class IndexView:
    """One sync's view of an Indexed Job's indexes."""

    succeeded: list[Interval]
    failed: list[Interval] | None  # None without backoffLimitPerIndex
    delayed: dict[int, Pod]  # index -> failed Pod whose finalizer waits for its replacement

    @property
    def held(self) -> set[str]:
        return {str(p["metadata"].get("uid", "")) for p in self.delayed.values()}

    def write(self, status: dict[str, Any]) -> None:
        """`completedIndexes` (omitted when empty), `succeeded`, `failedIndexes` (per-index only)."""
        status.pop("completedIndexes", None)
        if self.succeeded:
            status["completedIndexes"] = format_indexes(self.succeeded)
        status["succeeded"] = total(self.succeeded)
        if self.failed is not None:
            status["failedIndexes"] = format_indexes(self.failed)

    def failure(self, spec: Mapping[str, Any]) -> tuple[str, str] | None:
        """MaxFailedIndexesExceeded, or FailedIndexes once every index is done and some failed."""
        if self.failed is None or not self.failed:
            return None
        limit = spec.get("maxFailedIndexes")
        if limit is not None and total(self.failed) > int(limit):
            return MAX_FAILED_INDEXES
        if total(self.failed) + total(self.succeeded) >= int(spec["completions"]):
            return FAILED_INDEXES
        return None


def assess(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    pods: Sequence[Pod],
    active: Sequence[Pod],
    tracked: Tracked,
) -> IndexView:
    completions = int(spec["completions"])
    succeeded = succeeded_indexes(status, pods, completions, tracked)
    if not per_index(spec):
        return IndexView(succeeded, None, {})
    failed = failed_indexes(spec, status, pods, tracked)
    return IndexView(
        succeeded, failed, delayed_deletion(spec, pods, active, merge(succeeded, failed), tracked)
    )


def plan_pods(
    spec: Mapping[str, Any], view: IndexView, active: Sequence[Pod], terminating: Sequence[Pod]
) -> tuple[list[Pod], list[NewPod]]:
    """Pods to remove, else Pods to create, to reach parallelism with one Pod per index (manageJob).

    Removal wins: a sync that removes creates nothing. Terminating Pods keep their index busy
    (the runner replaces only Pods that are gone, as podReplacementPolicy Failed does).
    """
    completions = int(spec["completions"])
    want = max(0, min(int(spec.get("parallelism", 1)), completions - total(view.succeeded)))
    remove = extra_pods(active, completions)
    if len(remove) < len(active) - want:
        left = removal_order([p for p in active if p not in remove])
        remove += left[: len(active) - want - len(remove)]
    if remove:
        return remove, []
    busy = [i for p in [*active, *terminating] if (i := completion_index(p)) is not None]
    done = merge(view.succeeded, view.failed or [])
    indexes = pending_indexes(want - len(active) - len(terminating), completions, busy, done)
    if not per_index(spec):
        return [], [NewPod(i) for i in indexes]
    return [], [NewPod(i, *next_failure_counts(spec, view.delayed.get(i))) for i in indexes]
