"""The VideoRequest status, pure: (spec, plan, observed Jobs and Pods, the decider's notes) -> status.

Every status the operator writes is built here. Level-triggered: the status is derived from
what exists every time, never from counting events, so running it twice gives the same answer.
The caller supplies `now` and the previous status (for timestamps that must not move, and for
the persisted planner bookkeeping it carries over).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import phases
from scenefarm_contract.renderer import TerminationMessage, clip_log_tail
from scenefarm_operator.engine import conditions, kueue, stages
from scenefarm_operator.engine.observed import JobOutcome, Observed, attempt_of, revision_of, suspended_by_us
from scenefarm_operator.engine.plan_store import StoredPlan
from scenefarm_operator.engine.scene_cache import CacheHit

Obj = Mapping[str, Any]
SCENE_WEIGHT = 90  # progress points for rendering; the combine earns the rest


HISTORY_KEPT = 5


@dataclasses.dataclass(frozen=True)
class Note:
    """What the decider knows about a scene beyond its latest Job: Healing, Retrying, or why it
    failed for good (`phase` None keeps the derived phase and replaces the message)."""

    phase: str | None
    message: str


def scene_statuses(
    plan: StoredPlan,
    observed: Observed,
    queued: Sequence[int] = (),
    notes: Mapping[int, Note] | None = None,
    *,
    stopped: str | None = None,
    reused: Mapping[int, CacheHit] | None = None,
) -> list[dict[str, Any]]:
    """One entry per planned scene, from its latest Job attempt and the decider's notes.

    `stopped`: the request ended (failed, cancelled); unfinished scenes say so with this message.
    `reused`: scenes that never ran, served from the scene cache.
    """
    notes, reused = notes or {}, reused or {}
    entries = []
    for scene in plan.scenes:
        job = observed.latest(scene.index)
        recorded = observed.recorded.get(scene.index)
        entry: dict[str, Any] = {"index": scene.index, "name": scene.name, "attempt": 0}
        if job is None and recorded is not None and recorded.get("revision", 1) == scene.revision:
            entry = dict(recorded)  # its Jobs were cleaned up after it finished
        elif job is None and scene.index in reused:
            entry |= reused[scene.index].scene_entry(scene.revision)
        elif job is None:
            entry["phase"] = phases.QUEUED if scene.index in queued else phases.PENDING
        else:
            entry |= _attempt_entry(job, observed)
        note = notes.get(scene.index)
        if note is not None:
            entry["phase"] = note.phase or entry["phase"]
            entry["message"] = note.message
        if stopped is not None and entry["phase"] not in phases.FINISHED:
            entry["phase"], entry["message"] = phases.STOPPED, stopped
        history = _history(observed, scene.index)
        if history:
            entry["history"] = history
        entries.append(entry)
    return entries


def _attempt_entry(job: Obj, observed: Observed) -> dict[str, Any]:
    out = observed.scene_outcome(job)
    entry: dict[str, Any] = {"revision": revision_of(job), "phase": out.phase, "attempt": attempt_of(job)}
    entry |= {"job": job["metadata"]["name"]} | _times(out)
    if out.exit_class is not None and out.phase == phases.FAILED:
        entry["exitClass"] = int(out.exit_class)
    if out.message:
        entry["message"] = out.message
    if out.result and out.result.logTail and out.phase in phases.FINISHED:
        entry["logTail"] = clip_log_tail(out.result.logTail)  # the last lines of the render's log
    entry |= stages.status_of(job, out, observed.stage_pods(job, "chunks"), observed.completed_indexes(job))
    if out.result and out.result.artifact and out.phase == phases.SUCCEEDED:
        entry["artifact"] = out.result.artifact
        # what `scenefarm download --scene` verifies, and what the scene cache is keyed by
        key = out.result.cacheKey or stages.cache_key_of(job)
        entry |= {k: v for k, v in (("sha256", out.result.sha256), ("cacheKey", key)) if v}
        if out.result.poster:  # a still of the scene, stored beside its MP4
            entry["poster"] = out.result.poster
    if out.phase == phases.SUSPENDED and not suspended_by_us(job):
        reason = observed.held.get(job["metadata"]["name"], "")
        entry["phase"], entry["message"] = phases.QUEUED, kueue.queued_message(job, reason)
    return entry


def _history(observed: Observed, index: int) -> list[dict[str, Any]]:
    """Earlier attempts of a scene (the latest stage of each), newest last, bounded."""
    history = []
    for job in observed.attempts(index)[:-1][-HISTORY_KEPT:]:
        out = observed.scene_outcome(job)
        item: dict[str, Any] = {
            "attempt": attempt_of(job),
            "job": job["metadata"]["name"],
            "phase": out.phase,
        }
        if out.exit_class is not None:
            item["exitClass"] = int(out.exit_class)
        if out.message:
            item["message"] = out.message
        history.append(item)
    return history


def _times(out: JobOutcome) -> dict[str, str]:
    """When the attempt started (once its Pod runs: a Job's startTime while its Pod waits is no
    news worth a status write) and finished."""
    started = out.started_at if out.phase != phases.PENDING else None
    times = {"startedAt": started, "finishedAt": out.finished_at}
    return {k: v for k, v in times.items() if v}


@dataclasses.dataclass(frozen=True)
class Verdict:
    phase: str
    reason: str
    message: str
    stalled: str = ""  # in progress but stuck: why (Stalled=True)


CANCELLED = Verdict(
    phases.CANCELLED, phases.CANCELLED, "cancelled (spec.cancel): every Job was stopped; Cancelled is final"
)


def deadline_verdict(spec: Obj) -> Verdict:
    limit = spec.get("activeDeadlineSeconds")
    text = f"the request ran longer than spec.activeDeadlineSeconds ({limit}s); raise it to continue"
    return Verdict(phases.FAILED, "DeadlineExceeded", text)


def verdict(  # noqa: PLR0911 - one return per phase reads best
    spec: Obj, scenes: Sequence[Obj], combine: JobOutcome | None, *, deadline_exceeded: bool = False
) -> Verdict:
    """The request's phase from its scenes' phases and the combine Job."""
    if spec.get("cancel"):
        return CANCELLED
    if deadline_exceeded:
        return deadline_verdict(spec)
    failed = [s for s in scenes if s["phase"] == phases.FAILED]
    done = [s for s in scenes if s["phase"] == phases.SUCCEEDED]
    skip_failed = spec.get("output", {}).get("partial") == "SkipFailed"
    if failed and not skip_failed:
        first = failed[0]
        text = f"scene {first['name']!r} (#{first['index']}) failed: {first.get('message', 'failed')}"
        return Verdict(phases.FAILED, "SceneFailed", text)
    if len(done) + len(failed) < len(scenes):
        if spec.get("suspend"):
            return Verdict(
                phases.SUSPENDED, phases.SUSPENDED, "spec.suspend is true: no new scene Jobs start"
            )
        running = sum(1 for s in scenes if s["phase"] == phases.RUNNING)
        return Verdict(
            phases.RENDERING, phases.RENDERING, f"{len(done)}/{len(scenes)} scenes done, {running} running"
        )
    if not done and failed:
        first = failed[0]
        text = f"every scene failed, nothing to combine; scene {first['name']!r} (#{first['index']}): "
        return Verdict(phases.FAILED, "NoSceneSucceeded", text + str(first.get("message", "failed")))
    if not done:
        return Verdict(phases.FAILED, "NoSceneSucceeded", "no scene succeeded; there is nothing to combine")
    if combine is None or combine.phase in phases.ACTIVE:
        return Verdict(phases.COMBINING, phases.COMBINING, f"combining {len(done)} scenes")
    if combine.phase == phases.FAILED:
        text = f"combine failed: {combine.message}"
        if any(s.get("reused") for s in done):
            text += (
                "; it read scenes reused from other requests (their files may be gone):"
                " set spec.retryGeneration to render them here"
            )
        return Verdict(phases.FAILED, "CombineFailed", text)
    return Verdict(phases.SUCCEEDED, phases.SUCCEEDED, f"video ready ({len(done)} scenes)")


def progress(scenes: Sequence[Obj], combine: JobOutcome | None) -> int:
    if not scenes:
        return 0
    done = sum(1 for s in scenes if s["phase"] == phases.SUCCEEDED)
    points = SCENE_WEIGHT * done // len(scenes)
    if combine is not None and combine.phase == phases.SUCCEEDED:
        points = 100
    return points


# Every status key the reconcile loop owns: those `assemble` writes (with the decider's `extra`
# bookkeeping) and `appwrite` (the mirror's report). Publishing removes an owned key the new
# status lacks and leaves every other key to its owner (accounting.py: the ETA and the cost).
OWNED_KEYS = frozenset(
    {
        "observedGeneration", "startedAt", "finishedAt", "planner", "scenesTotal", "scenesSucceeded",
        "scenesFailed", "phase", "message", "progress", "scenes", "combine", "output", "queuePosition",
        "retryGeneration", "currentScene", "conditions", "planning", "healing", "refusal", "appwrite",
        "evictions", "renderOrder",
    }
)  # fmt: skip


def assemble(
    *,
    spec: Obj,
    generation: int,
    previous: Obj,
    now: str,
    scenes: Sequence[Obj],
    verdict: Verdict,
    plan: StoredPlan | None = None,
    combine_job: Obj | None = None,
    combine: JobOutcome | None = None,
    queue_position: int | None = None,
    retry_generation: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole status object for one VideoRequest.

    `extra`: persisted bookkeeping the decider carries over (`planning`, `healing`, `refusal`).
    """
    result: dict[str, Any] = {"observedGeneration": generation}
    result["startedAt"] = previous.get("startedAt") or now
    if plan is not None:
        result["planner"] = {
            "mode": plan.mode,
            "promptTokens": plan.usage.prompt_tokens,
            "candidateTokens": plan.usage.candidate_tokens,
            "calls": plan.usage.calls,
        }
    result |= _counts(scenes)
    result |= {
        "phase": verdict.phase,
        "message": verdict.message,
        "progress": progress(scenes, combine),
        "scenes": list(scenes),
    }
    if combine is not None and combine_job is not None:
        result["combine"] = _combine_status(combine_job, combine)
        if combine.phase == phases.SUCCEEDED and combine.result:
            result["output"] = _output(combine.result)
            missing = [s["name"] for s in scenes if s["phase"] != phases.SUCCEEDED]
            if missing:
                result["output"] |= {"partial": True, "missingScenes": missing}
    if queue_position is not None and verdict.phase == phases.RENDERING:
        result["queuePosition"] = queue_position
    if retry_generation:
        result["retryGeneration"] = retry_generation
    result |= {k: v for k, v in (extra or {}).items() if v}
    if verdict.phase in phases.TERMINAL:
        result["finishedAt"] = previous.get("finishedAt") or now
    running = [s for s in scenes if s["phase"] == phases.RUNNING]
    if running:
        result["currentScene"] = running[0]["name"]
    desired = conditions.for_phase(
        verdict.phase, verdict.reason, verdict.message, generation, verdict.stalled
    )
    result["conditions"] = conditions.merge(previous.get("conditions") or (), desired, now)
    return result


def _counts(scenes: Sequence[Obj]) -> dict[str, int]:
    return {
        "scenesTotal": len(scenes),
        "scenesSucceeded": sum(1 for s in scenes if s["phase"] == phases.SUCCEEDED),
        "scenesFailed": sum(1 for s in scenes if s["phase"] == phases.FAILED),
    }


def _combine_status(job: Obj, out: JobOutcome) -> dict[str, Any]:
    combine = {"phase": out.phase, "job": job["metadata"]["name"]}
    if out.message:
        combine["message"] = out.message
    return combine


def _output(result: TerminationMessage) -> dict[str, Any]:
    output = {
        "uri": result.artifact,
        "durationSeconds": result.durationSeconds,
        "sizeBytes": result.sizeBytes,
        "sha256": result.sha256,
        "frames": result.frames,
        "poster": result.poster,
        "subtitles": result.subtitles,
        "subtitlesSha256": result.subtitlesSha256,
    }
    return {k: v for k, v in output.items() if v is not None}
