"""What happens next to each scene, pure: launch an attempt, wait, ask for a fix, or give up.

Every input is something that exists: the scene's Jobs (attempts, exit classes, memory limits,
finish times), the stored plan (a fix is stored as a newer code revision), the persisted fix
bookkeeping (`status.healing`: planner outages and errors per failed attempt), the retry asked
for (`spec.retryGeneration` against the annotation on each attempt) and the clock. So a
restarted operator decides exactly what the old one would have.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from scenefarm_contract import k8s, phases
from scenefarm_contract.backoff import PLANNER_OUTAGES, Backoff, after_outage
from scenefarm_contract.clock import iso, parse_time
from scenefarm_contract.renderer import ExitClass
from scenefarm_operator.engine import triage
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import Observed, attempt_of, job_condition, memory_limit_of
from scenefarm_operator.engine.plan_store import SceneEntry, StoredPlan
from scenefarm_operator.engine.triage import FailedAttempt, TriageLimits

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Launch:
    """Create attempt `attempt` of the scene now."""

    attempt: int
    memory_limit: str | None = None
    reason: str = ""  # why a further attempt runs (empty for a first attempt)
    retry_generation: int | None = None  # set when a user's retry forced this attempt


@dataclasses.dataclass(frozen=True)
class Wait:
    """The next attempt (or the next fix call) is due at `until`."""

    until: datetime.datetime
    message: str


@dataclasses.dataclass(frozen=True)
class AskFix:
    """Ask the planner for new code for the failed attempt `attempt`."""

    attempt: int
    facts: FailedAttempt
    reason: str


@dataclasses.dataclass(frozen=True)
class GiveUp:
    """The scene failed for good (until the user retries or edits it)."""

    message: str


Fate = Launch | Wait | AskFix | GiveUp


def retry_generation_of(job: Obj) -> int:
    value = (job["metadata"].get("annotations") or {}).get(naming.RETRY_GENERATION_ANNOTATION, "0")
    return int(value) if str(value).isdigit() else 0


def ran_outdated_code(scene: SceneEntry, job: Obj) -> bool:
    """The plan holds a newer revision than the job ran (a stored fix, or an edit)."""
    ran = (job["metadata"].get("annotations") or {}).get(naming.CODE_KEY_ANNOTATION)
    return ran is not None and ran != scene.key


def failed_attempt(
    scene: SceneEntry, observed: Observed, *, mode: str, fix_attempts_allowed: int
) -> FailedAttempt:
    """The triage facts for a scene whose latest Job (the failed stage of its latest attempt) failed."""
    *earlier_jobs, latest = observed.attempts(scene.index)
    out = observed.outcome(latest)
    earlier = [observed.outcome(j) for j in earlier_jobs]
    failed_cond = job_condition(latest, k8s.JOB_FAILED) or {}
    pod_reason = "OOMKilled" if out.oom_killed else None
    if failed_cond.get("reason") == "DeadlineExceeded":
        pod_reason = "DeadlineExceeded"
    exit_class = ExitClass.from_exit_code(int(out.exit_class)) if out.exit_class is not None else None
    return FailedAttempt(
        exit_class=exit_class,
        pod_reason=pod_reason,
        error_tail=(out.result.errorTail or "") if out.result else out.message,
        planner_mode=mode,
        fix_attempts_used=scene.revision - 1,
        fix_attempts_allowed=fix_attempts_allowed,
        transient_retries_used=sum(1 for o in earlier if o.exit_class == ExitClass.TRANSIENT),
        memory_limit=memory_limit_of(latest),
    )


def limits_for(settings: Any) -> TriageLimits:
    return TriageLimits(
        memory_cap=settings.oom_memory_cap,
        max_transient_retries=settings.transient_retries,
        base_delay_seconds=settings.retry_base_seconds,
    )


def healing_record(previous: Obj, index: int, attempt: int) -> Obj:
    """The persisted fix bookkeeping of this failed attempt ({} when none)."""
    for record in previous.get("healing") or ():
        if record.get("index") == index and record.get("attempt") == attempt:
            return dict(record)
    return {}


def fate(
    scene: SceneEntry,
    plan: StoredPlan,
    observed: Observed,
    *,
    spec: Obj,
    previous: Obj,
    now: datetime.datetime,
    settings: Any,
    retry: int | None,
) -> Fate | None:
    """What the scene needs now; None when nothing (never ran, running, or done)."""
    latest = observed.latest(scene.index)
    if latest is None:
        recorded = observed.recorded.get(scene.index) or {}  # its Jobs were cleaned up after it finished
        return _without_jobs(scene, recorded, previous, retry)
    attempt, memory = attempt_of(latest), memory_limit_of(latest)
    if observed.outcome(latest).phase in phases.FINISHED and ran_outdated_code(scene, latest):
        return Launch(
            attempt + 1, memory, f"attempt {attempt + 1} runs revision {scene.revision} of the code"
        )
    out = observed.scene_outcome(latest)  # a plan or chunks stage that succeeded is still Running
    if out.phase != phases.FAILED:
        return None
    if retry is not None and retry_generation_of(latest) < retry:
        return Launch(attempt + 1, memory, f"retry {retry} requested", retry)
    facts = failed_attempt(
        scene,
        observed,
        mode=plan.mode,
        fix_attempts_allowed=int(spec.get("render", {}).get("fixAttempts", 2)),
    )
    return _after_failure(
        _Failed(scene.index, attempt, memory, out.finished_at, facts), previous, now, settings
    )


def _without_jobs(scene: SceneEntry, recorded: Obj, previous: Obj, retry: int | None) -> Fate | None:
    """A scene with no Job: a retry runs it again if it failed, or renders it if it was reused
    from the cache before a combine that failed; otherwise nothing."""
    if retry is None:
        return None
    failed = recorded.get("phase") == phases.FAILED and recorded.get("revision", 1) == scene.revision
    if failed:
        return Launch(int(recorded.get("attempt") or 0) + 1, None, f"retry {retry} requested", retry)
    if _reused_before_a_failed_combine(recorded, scene, previous):
        why = f"retry {retry} requested after the combine failed: the reused scene is rendered here"
        return Launch(1, None, why, retry)
    return None


def _reused_before_a_failed_combine(recorded: Obj, scene: SceneEntry, previous: Obj) -> bool:
    """A scene served from the cache when the combine then failed: its origin's file may be gone
    (deleted with its request, or by a store's retention), so a retry renders it instead."""
    combine_failed = (previous.get("combine") or {}).get("phase") == phases.FAILED
    same_code = recorded.get("revision", 1) == scene.revision
    return combine_failed and same_code and bool(recorded.get("reused"))


@dataclasses.dataclass(frozen=True)
class _Failed:
    """The latest, failed attempt of a scene, as triage needs it."""

    index: int
    attempt: int
    memory: str | None
    finished_at: str | None
    facts: FailedAttempt


def _after_failure(failed: _Failed, previous: Obj, now: datetime.datetime, settings: Any) -> Fate:
    """Triage of a scene whose latest attempt failed: more memory, a later retry, a fix, or the end."""
    attempt, memory, facts = failed.attempt, failed.memory, failed.facts
    decision = triage.triage(facts, limits_for(settings))
    if isinstance(decision, triage.Fail):
        return GiveUp(decision.message)
    if isinstance(decision, triage.RetryWithMoreMemory):
        return Launch(attempt + 1, decision.new_limit, decision.reason)
    if isinstance(decision, triage.RetryAsIs):
        due = (parse_time(failed.finished_at) or now) + datetime.timedelta(seconds=decision.delay_seconds)
        if now >= due:
            return Launch(attempt + 1, memory, decision.reason)
        return Wait(due, f"{decision.reason}; next attempt at {iso(due)}")
    return _fix(failed.index, attempt, facts=facts, reason=decision.reason, previous=previous, now=now)


def _fix(
    index: int, attempt: int, *, facts: FailedAttempt, reason: str, previous: Obj, now: datetime.datetime
) -> Fate:
    record = healing_record(previous, index, attempt)
    if record.get("error"):
        return GiveUp(str(record["error"]))
    next_try = parse_time(record.get("nextAttemptAt"))
    if next_try is not None and now < next_try:
        return Wait(next_try, f"planner unavailable, asking again for a fix at {iso(next_try)}")
    return AskFix(attempt, facts, reason)


def fix_outage(
    record: Obj,
    index: int,
    attempt: int,
    error: str,
    now: datetime.datetime,
    *,
    policy: Backoff = PLANNER_OUTAGES,
) -> dict[str, Any]:
    """The healing record after the planner was unreachable for a fix (or gave up for good)."""
    gave_up = f"the planner stayed unreachable for a fix: {error}"
    return {"index": index, "attempt": attempt} | after_outage(record, error, now, policy, gave_up=gave_up)
