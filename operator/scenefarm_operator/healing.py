"""What happens to a scene whose latest attempt failed: the facts for triage, and the next attempt.

The facts are derived from what exists (every attempt is a Job; fix revisions live in the plan
ConfigMap), so a restarted operator reaches the same decision: a fix already stored for a scene
(its current revision is newer than the one its last Job ran) is launched, not asked for again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_renderer.contract import ExitClass

from . import aggregation, naming
from .plan_store import SceneEntry
from .planning.triage import FailedAttempt, TriageLimits

Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class NextAttempt:
    """A scene Job to create: attempt number and the memory limit it runs with."""

    index: int
    attempt: int
    memory_limit: str | None = None


def memory_limit_of(job: Obj) -> str | None:
    containers = job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    limit = containers[0].get("resources", {}).get("limits", {}).get("memory")
    return str(limit) if limit is not None else None


def code_key_of(job: Obj) -> str | None:
    return (job["metadata"].get("annotations") or {}).get(naming.CODE_KEY_ANNOTATION)


def fix_already_stored(scene: SceneEntry, latest: Obj) -> bool:
    """The plan holds a newer revision than the latest attempt ran: launch it, don't ask again."""
    ran = code_key_of(latest)
    return ran is not None and ran != scene.key


def failed_attempt(
    scene: SceneEntry,
    jobs: Sequence[Obj],
    pods: Mapping[str, Sequence[Obj]],
    *,
    mode: str,
    fix_attempts_allowed: int,
) -> FailedAttempt:
    """The triage facts for a scene whose latest Job failed."""
    ordered = sorted(jobs, key=aggregation.attempt_of)
    latest = ordered[-1]
    out = aggregation.outcome(latest, pods.get(latest["metadata"]["name"], ()))
    earlier = [aggregation.outcome(j, pods.get(j["metadata"]["name"], ())) for j in ordered[:-1]]
    transient = sum(1 for o in earlier if o.exit_class == ExitClass.TRANSIENT)
    failed_cond = aggregation.job_condition(latest, "Failed") or {}
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
        transient_retries_used=transient,
        memory_limit=memory_limit_of(latest),
    )


def limits_for(settings: Any) -> TriageLimits:
    return TriageLimits(memory_cap=settings.oom_memory_cap)
