"""What happens to a scene whose latest attempt failed: the facts for triage, and the next attempt.

The facts are derived from what exists (every attempt is a Job; fix revisions live in the plan
ConfigMap), so a restarted operator reaches the same decision: a fix already stored for a scene
(its current revision is newer than the one its last Job ran) is launched, not asked for again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from scenefarm_contract.renderer import ExitClass

from . import aggregation, naming
from .plan_store import SceneEntry, StoredPlan
from .planning import triage
from .planning.triage import FailedAttempt, TriageLimits

# (scene, facts, why) -> None when the fixed code is stored, else why the fix failed;
# raises FixLater when the planner is down for now
FixCallback = Callable[[SceneEntry, FailedAttempt, str], Awaitable[str | None]]
FIX_OUTAGE_BACKOFF = (15.0, 30.0, 60.0, 120.0, 240.0)  # seconds; then the scene fails


class FixLater(Exception):
    """The planner could not be reached for a fix: ask again after a backoff."""


Obj = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class NextAttempt:
    """A scene Job to create: attempt number and the memory limit it runs with."""

    index: int
    attempt: int
    memory_limit: str | None = None
    reason: str = ""


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
    return TriageLimits(
        memory_cap=settings.oom_memory_cap,
        max_transient_retries=settings.transient_retries,
        base_delay_seconds=settings.retry_base_seconds,
    )


class Healer:
    """Per-request healing state and the triage of failed scene attempts.

    `decide()` returns the next attempt due now (or None). A fix goes through `fix_code`, an
    async callback owned by the request loop (it asks the planner and stores the revision).
    """

    def __init__(self, settings: Any, wake_later: Callable[[float], None]) -> None:
        self.settings = settings
        self.wake_later = wake_later  # wakes the request's loop after that many seconds
        self.healing: dict[int, str] = {}  # scene -> why (an LLM fix is in flight)
        self.retrying: dict[int, str] = {}  # scene -> why (its next attempt is due or waits)
        self.failures: dict[int, str] = {}  # scene -> why it failed for good
        self.retry_at: dict[tuple[int, int], float] = {}  # (scene, attempt) -> loop time
        self.fix_outages: dict[int, int] = {}  # scene -> planner outages met while fixing it

    def forget_failures(self) -> None:
        """A user asked for a retry: failed scenes get a new attempt whatever triage said."""
        self.failures.clear()

    async def due_attempts(
        self,
        plan: StoredPlan,
        observed: aggregation.Observed,
        spec: Mapping[str, Any],
        fix_code: FixCallback,
        *,
        force: bool = False,
    ) -> list[NextAttempt]:
        """Attempts due now for scenes whose latest attempt failed or ran outdated code."""
        due: list[NextAttempt] = []
        for scene in plan.scenes:
            latest = observed.latest(scene.index)
            if latest is None:
                continue
            out = aggregation.outcome(latest, observed.pods.get(latest["metadata"]["name"], ()))
            attempt = aggregation.attempt_of(latest) + 1
            memory = memory_limit_of(latest)
            finished = out.phase in ("Succeeded", "Failed")
            if finished and fix_already_stored(scene, latest):
                self.retrying[scene.index] = f"attempt {attempt} runs revision {scene.revision} of the code"
                due.append(NextAttempt(scene.index, attempt, memory))
            elif out.phase != "Failed":
                self.retrying.pop(scene.index, None)
            elif force:
                self.retrying[scene.index] = f"retry requested: attempt {attempt}"
                due.append(NextAttempt(scene.index, attempt, memory))
            elif scene.index not in self.failures:
                next_ = await self.decide(
                    plan=plan,
                    scene=scene,
                    observed=observed,
                    spec=spec,
                    attempt=attempt,
                    memory=memory,
                    fix_code=fix_code,
                )
                if next_ is not None:
                    due.append(next_)
        return due

    async def decide(
        self,
        *,
        plan: StoredPlan,
        scene: SceneEntry,
        observed: aggregation.Observed,
        spec: Mapping[str, Any],
        attempt: int,
        memory: str | None,
        fix_code: FixCallback,
    ) -> NextAttempt | None:
        render = spec.get("render", {})
        facts = failed_attempt(
            scene,
            observed.scene_jobs[scene.index],
            observed.pods,
            mode=plan.mode,
            fix_attempts_allowed=int(render.get("fixAttempts", 2)),
        )
        decision = triage.triage(facts, limits_for(self.settings))
        if isinstance(decision, triage.Fail):
            self.failures[scene.index] = decision.message
            return None
        if isinstance(decision, triage.RetryWithMoreMemory):
            self.retrying[scene.index] = decision.reason
            return NextAttempt(scene.index, attempt, decision.new_limit, decision.reason)
        if isinstance(decision, triage.RetryAsIs):
            loop = asyncio.get_running_loop()
            at = self.retry_at.setdefault((scene.index, attempt), loop.time() + decision.delay_seconds)
            if loop.time() >= at:
                return NextAttempt(scene.index, attempt, memory, decision.reason)
            self.retrying[scene.index] = f"{decision.reason}; next attempt in {at - loop.time():.0f}s"
            self.wake_later(at - loop.time())
            return None
        return await self._fix(
            scene=scene,
            facts=facts,
            reason=decision.reason,
            attempt=attempt,
            memory=memory,
            fix_code=fix_code,
        )

    async def _fix(
        self,
        *,
        scene: SceneEntry,
        facts: FailedAttempt,
        reason: str,
        attempt: int,
        memory: str | None,
        fix_code: FixCallback,
    ) -> NextAttempt | None:
        """Ask for fixed code; on a planner outage, ask again after a bounded backoff."""
        loop = asyncio.get_running_loop()
        if loop.time() < self.retry_at.get((scene.index, -attempt), 0.0):
            return None  # waiting out a planner outage
        self.healing[scene.index] = reason
        try:
            error = await fix_code(scene, facts, reason)
        except FixLater as later:
            outages = self.fix_outages.get(scene.index, 0)
            if outages >= len(FIX_OUTAGE_BACKOFF):
                self.failures[scene.index] = f"the planner stayed unreachable for a fix: {later}"
                return None
            self.fix_outages[scene.index] = outages + 1
            delay = FIX_OUTAGE_BACKOFF[outages]
            self.retry_at[(scene.index, -attempt)] = loop.time() + delay
            self.retrying[scene.index] = f"planner unavailable, asking again for a fix in {delay:.0f}s"
            self.wake_later(delay)
            return None
        finally:
            self.healing.pop(scene.index, None)
        if error is not None:
            self.failures[scene.index] = error
            return None
        return NextAttempt(scene.index, attempt, memory, "fixed code")
