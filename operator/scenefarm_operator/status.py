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

from scenefarm_contract.renderer import ExitClass, TerminationMessage

from . import conditions, kueue, naming, phases
from .plan_store import StoredPlan

Obj = Mapping[str, Any]
SCENE_WEIGHT = 90  # progress points for rendering; the combine earns the rest


@dataclasses.dataclass(frozen=True)
class Observed:
    """The children of one VideoRequest as the operator sees them now."""

    scene_jobs: Mapping[int, Sequence[Obj]]  # scene index -> its Jobs (all attempts)
    combines: Mapping[str, Obj]  # Job name -> combine Job (one per distinct input)
    pods: Mapping[str, Sequence[Obj]]  # Job name -> its Pods
    # scene index -> its entry in the last published status, when it had finished (Succeeded or
    # Failed): the record that survives its Jobs' ttlSecondsAfterFinished clean-up
    recorded: Mapping[int, Obj] = dataclasses.field(default_factory=dict)
    held: Mapping[str, str] = dataclasses.field(default_factory=dict)  # Job name -> Kueue's reason

    @classmethod
    def of(
        cls,
        jobs: Sequence[Obj],
        pods: Mapping[str, Sequence[Obj]],
        previous: Mapping[str, Any],
        held: Mapping[str, str] | None = None,
    ) -> Observed:
        """Sort a request's Jobs into scene attempts and combines; keep finished scenes' records."""
        scene_jobs: dict[int, list[Obj]] = {}
        combines: dict[str, Obj] = {}
        for job in jobs:
            labels = job["metadata"].get("labels") or {}
            if labels.get(naming.ROLE_LABEL) == "combine":
                combines[job["metadata"]["name"]] = job
            elif (
                labels.get(naming.ROLE_LABEL, "scene") == "scene"
                and str(labels.get(naming.SCENE_LABEL)).isdigit()
            ):
                scene_jobs.setdefault(int(labels[naming.SCENE_LABEL]), []).append(job)
        finished = (phases.SUCCEEDED, phases.FAILED)
        recorded = {int(s["index"]): s for s in previous.get("scenes") or () if s.get("phase") in finished}
        return cls(scene_jobs, combines, pods, recorded, dict(held or {}))

    def latest(self, index: int) -> Obj | None:
        jobs = self.scene_jobs.get(index, ())
        return max(jobs, key=attempt_of, default=None)


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    phase: str  # Pending | Running | Succeeded | Failed | Suspended
    exit_class: int | None = None
    message: str = ""
    result: TerminationMessage | None = None
    started_at: str | None = None
    finished_at: str | None = None
    oom_killed: bool = False


def revision_of(job: Obj) -> int:
    """The plan revision a scene Job ran (from its code-key annotation `scene-NN.rR.py`)."""
    key = (job["metadata"].get("annotations") or {}).get(naming.CODE_KEY_ANNOTATION, "")
    try:
        return int(key.rsplit(".r", 1)[1].removesuffix(".py"))
    except (IndexError, ValueError):
        return 1


def attempt_of(job: Obj) -> int:
    try:
        return int(job["metadata"].get("labels", {}).get(naming.ATTEMPT_LABEL, "1"))
    except ValueError:
        return 1


def job_condition(job: Obj, type_: str) -> Obj | None:
    for cond in job.get("status", {}).get("conditions") or ():
        if cond.get("type") == type_ and cond.get("status") == "True":
            return dict(cond)
    return None


def outcome(job: Obj, pods: Sequence[Obj]) -> JobOutcome:
    """What one Job says about its scene (or the combine)."""
    status = job.get("status", {})
    started, finished = status.get("startTime"), status.get("completionTime")
    terminated = [t for t in (_terminated(p) for p in pods) if t is not None]
    terminated.sort(key=lambda t: str(t.get("finishedAt") or ""))
    if job_condition(job, "Complete"):
        ok = [t for t in terminated if t.get("exitCode") == 0]
        result = TerminationMessage.from_json(ok[-1].get("message")) if ok else None
        return JobOutcome("Succeeded", 0, "", result, started, finished)
    failed = job_condition(job, "Failed")
    if failed:
        last = terminated[-1] if terminated else {}
        message = TerminationMessage.from_json(last.get("message"))
        oom = last.get("reason") == "OOMKilled"
        exit_class = ExitClass.OOM_KILLED if oom else message.exitClass if message else last.get("exitCode")
        text = _failure_text(failed, message, oom)
        end = failed.get("lastTransitionTime") or last.get("finishedAt")
        return JobOutcome("Failed", exit_class, text, message, started, end, oom)
    if job.get("spec", {}).get("suspend") and not status.get("active"):
        return JobOutcome("Suspended", started_at=started)
    # `active` counts pending Pods too (unschedulable, pulling): only a Running Pod is running.
    running = any(p.get("status", {}).get("phase") == "Running" for p in pods)
    return JobOutcome("Running" if running else "Pending", started_at=started)


def _terminated(pod: Obj) -> Obj | None:
    for cs in pod.get("status", {}).get("containerStatuses") or ():
        term = cs.get("state", {}).get("terminated")
        if term:
            return dict(term)
    return None


def _failure_text(cond: Obj, message: TerminationMessage | None, oom: bool) -> str:
    if oom:
        return "killed by the out-of-memory killer (memory limit too small)"
    if message and message.errorTail:
        return message.errorTail.strip().splitlines()[-1][:500]
    return str(cond.get("message") or cond.get("reason") or "failed")


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
) -> list[dict[str, Any]]:
    """One entry per planned scene, from its latest Job attempt and the decider's notes.

    `stopped`: the request ended (failed, cancelled); unfinished scenes say so with this message.
    """
    notes = notes or {}
    entries = []
    for scene in plan.scenes:
        job = observed.latest(scene.index)
        recorded = observed.recorded.get(scene.index)
        entry: dict[str, Any] = {"index": scene.index, "name": scene.name, "attempt": 0}
        if job is None and recorded is not None and recorded.get("revision", 1) == scene.revision:
            entry = dict(recorded)  # its Jobs were cleaned up after it finished
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
    out = outcome(job, observed.pods.get(job["metadata"]["name"], ()))
    entry: dict[str, Any] = {"revision": revision_of(job), "phase": out.phase, "attempt": attempt_of(job)}
    entry |= {"job": job["metadata"]["name"]} | _times(out)
    if out.exit_class is not None and out.phase == phases.FAILED:
        entry["exitClass"] = int(out.exit_class)
    if out.message:
        entry["message"] = out.message
    if out.result and out.result.artifact and out.phase == phases.SUCCEEDED:
        entry["artifact"] = out.result.artifact
        # what `scenefarm download --scene` verifies, and what a scene cache would be keyed by
        entry |= {k: v for k, v in (("sha256", out.result.sha256), ("cacheKey", out.result.cacheKey)) if v}
    if out.phase == phases.SUSPENDED and not suspended_by_us(job):
        reason = observed.held.get(job["metadata"]["name"], "")
        entry["phase"], entry["message"] = phases.QUEUED, kueue.queued_message(job, reason)
    return entry


def suspended_by_us(job: Obj) -> bool:
    return (job["metadata"].get("annotations") or {}).get(naming.SUSPENDED_BY_US_ANNOTATION) == "true"


def _history(observed: Observed, index: int) -> list[dict[str, Any]]:
    """Earlier attempts of a scene, newest last, bounded."""
    jobs = sorted(observed.scene_jobs.get(index, ()), key=attempt_of)[:-1][-HISTORY_KEPT:]
    history = []
    for job in jobs:
        out = outcome(job, observed.pods.get(job["metadata"]["name"], ()))
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
    times = {"startedAt": out.started_at, "finishedAt": out.finished_at}
    return {k: v for k, v in times.items() if v}


@dataclasses.dataclass(frozen=True)
class Verdict:
    phase: str
    reason: str
    message: str


CANCELLED = Verdict(
    phases.CANCELLED, "Cancelled", "cancelled (spec.cancel): every Job was stopped; Cancelled is final"
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
    failed = [s for s in scenes if s["phase"] == "Failed"]
    done = [s for s in scenes if s["phase"] == "Succeeded"]
    skip_failed = spec.get("output", {}).get("partial") == "SkipFailed"
    if failed and not skip_failed:
        first = failed[0]
        text = f"scene {first['name']!r} (#{first['index']}) failed: {first.get('message', 'failed')}"
        return Verdict("Failed", "SceneFailed", text)
    if len(done) + len(failed) < len(scenes):
        if spec.get("suspend"):
            return Verdict("Suspended", "Suspended", "spec.suspend is true: no new scene Jobs start")
        running = sum(1 for s in scenes if s["phase"] == "Running")
        return Verdict("Rendering", "Rendering", f"{len(done)}/{len(scenes)} scenes done, {running} running")
    if not done and failed:
        first = failed[0]
        text = f"every scene failed, nothing to combine; scene {first['name']!r} (#{first['index']}): "
        return Verdict("Failed", "NoSceneSucceeded", text + str(first.get("message", "failed")))
    if not done:
        return Verdict("Failed", "NoSceneSucceeded", "no scene succeeded; there is nothing to combine")
    if combine is None or combine.phase in ("Pending", "Running"):
        return Verdict("Combining", "Combining", f"combining {len(done)} scenes")
    if combine.phase == "Failed":
        return Verdict("Failed", "CombineFailed", f"combine failed: {combine.message}")
    return Verdict("Succeeded", "Succeeded", f"video ready ({len(done)} scenes)")


def progress(scenes: Sequence[Obj], combine: JobOutcome | None) -> int:
    if not scenes:
        return 0
    done = sum(1 for s in scenes if s["phase"] == "Succeeded")
    points = SCENE_WEIGHT * done // len(scenes)
    if combine is not None and combine.phase == "Succeeded":
        points = 100
    return points


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
    desired = conditions.for_phase(verdict.phase, verdict.reason, verdict.message, generation)
    result["conditions"] = conditions.merge(previous.get("conditions") or (), desired, now)
    return result


def _counts(scenes: Sequence[Obj]) -> dict[str, int]:
    return {
        "scenesTotal": len(scenes),
        "scenesSucceeded": sum(1 for s in scenes if s["phase"] == "Succeeded"),
        "scenesFailed": sum(1 for s in scenes if s["phase"] == "Failed"),
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
    }
    return {k: v for k, v in output.items() if v is not None}
