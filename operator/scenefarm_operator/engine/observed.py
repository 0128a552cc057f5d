"""What one VideoRequest's children say, pure: its Jobs and Pods sorted into scene attempts and
combines, and each Job's outcome read once per pass.

A scene attempt is one Job (role `scene`), or, for a scene rendered in chunks, a chain of Jobs
of the same attempt number: `plan` (count the frames), then `chunks` (an Indexed Job) or a
whole `scene` Job, then `stitch`. The attempt's state is that of its latest stage; a stage that
succeeded but is not the last one leaves the scene Running (the next stage is due).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import k8s, phases
from scenefarm_contract.renderer import ExitClass, TerminationMessage
from scenefarm_operator.engine.manifests import naming

Obj = Mapping[str, Any]
# The order of an attempt's stages; a plain scene Job and an Indexed chunk Job are the same stage.
STAGES = {"plan": 0, "scene": 1, "chunks": 1, "stitch": 2}
INTERMEDIATE = ("plan", "chunks")  # their success is not the scene's


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    phase: str  # Pending | Running | Succeeded | Failed | Suspended
    exit_class: int | None = None
    message: str = ""
    result: TerminationMessage | None = None
    started_at: str | None = None
    finished_at: str | None = None
    oom_killed: bool = False


@dataclasses.dataclass(frozen=True)
class Observed:
    """The children of one VideoRequest as the operator sees them now."""

    scene_jobs: Mapping[int, Sequence[Obj]]  # scene index -> its Jobs (every stage of every attempt)
    combines: Mapping[str, Obj]  # Job name -> combine Job (one per distinct input)
    pods: Mapping[str, Sequence[Obj]]  # Job name -> its Pods
    # scene index -> its entry in the last published status, when it had finished (Succeeded or
    # Failed): the record that survives its Jobs' ttlSecondsAfterFinished clean-up
    recorded: Mapping[int, Obj] = dataclasses.field(default_factory=dict)
    held: Mapping[str, str] = dataclasses.field(default_factory=dict)  # Job name -> Kueue's reason
    # Job name -> the Pod end the last published status kept of a succeeded scene or combine Job
    # (its artifact, sha256...): what such a Job says once its Pod is collected (`kept_ends`)
    kept: Mapping[str, Obj] = dataclasses.field(default_factory=dict)

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
            elif role_of(job) in STAGES and str(labels.get(naming.SCENE_LABEL)).isdigit():
                scene_jobs.setdefault(int(labels[naming.SCENE_LABEL]), []).append(job)
        # a scene reused from a cache entry since evicted (its file was replaced) has no record:
        # it renders here
        evicted = {str(e.get("source")) for e in previous.get("evictions") or ()}
        recorded = {
            int(s["index"]): s
            for s in previous.get("scenes") or ()
            if s.get("phase") in phases.FINISHED and (s.get("reused") or {}).get("source") not in evicted
        }
        return cls(scene_jobs, combines, pods, recorded, dict(held or {}), kept_ends(previous))

    def with_created(self, jobs: Sequence[Obj]) -> Observed:
        """These children as well, as just created (no status, no Pod): what the pass that creates
        them publishes, so their names are in the same status write as the decision."""
        scene_jobs = {index: list(found) for index, found in self.scene_jobs.items()}
        combines = dict(self.combines)
        for job in jobs:
            labels = job["metadata"].get("labels") or {}
            if labels.get(naming.ROLE_LABEL) == "combine":
                combines[job["metadata"]["name"]] = job
            elif str(labels.get(naming.SCENE_LABEL)).isdigit():
                scene_jobs.setdefault(int(labels[naming.SCENE_LABEL]), []).append(job)
        return dataclasses.replace(self, scene_jobs=scene_jobs, combines=combines)

    def latest(self, index: int) -> Obj | None:
        """The latest stage of the scene's latest attempt."""
        return max(self.scene_jobs.get(index, ()), key=stage_key, default=None)

    def never_ran(self, index: int, revision: int) -> bool:
        """No Job, and no record of a finished attempt of this code revision: the scene is new."""
        if self.latest(index) is not None:
            return False
        recorded = self.recorded.get(index)
        return recorded is None or recorded.get("revision", 1) != revision

    def attempts(self, index: int) -> list[Obj]:
        """The latest stage of each attempt of the scene, oldest first."""
        last: dict[int, Obj] = {}
        for job in sorted(self.scene_jobs.get(index, ()), key=stage_key):
            last[attempt_of(job)] = job
        return [last[a] for a in sorted(last)]

    def stage_pods(self, job: Obj, role: str) -> Sequence[Obj]:
        """The Pods of the `role` stage of the same scene attempt as `job` (e.g. its chunks)."""
        labels = job["metadata"].get("labels") or {}
        index, attempt = str(labels.get(naming.SCENE_LABEL)), attempt_of(job)
        if not index.isdigit():
            return ()
        for other in self.scene_jobs.get(int(index), ()):
            if role_of(other) == role and attempt_of(other) == attempt:
                return self.pods.get(other["metadata"]["name"], ())
        return ()

    def completed_indexes(self, job: Obj) -> frozenset[int]:
        """The indexes the attempt's Indexed chunks Job counts as completed (its status, which
        outlives the Pods)."""
        labels = job["metadata"].get("labels") or {}
        index, attempt = str(labels.get(naming.SCENE_LABEL)), attempt_of(job)
        for other in self.scene_jobs.get(int(index), ()) if index.isdigit() else ():
            if role_of(other) == "chunks" and attempt_of(other) == attempt:
                return parse_indexes((other.get("status") or {}).get("completedIndexes"))
        return frozenset()

    def outcome(self, job: Obj) -> JobOutcome:
        """What the Job and its Pods say (read once per pass)."""
        return self._outcomes[job["metadata"]["name"]]

    def scene_outcome(self, job: Obj) -> JobOutcome:
        """What a stage of a scene attempt says about the scene: an intermediate stage that
        succeeded leaves the scene Running."""
        out = self.outcome(job)
        if out.phase == phases.SUCCEEDED and role_of(job) in INTERMEDIATE:
            return JobOutcome(phases.RUNNING, result=out.result, started_at=out.started_at)
        return out

    def unrecorded(self) -> dict[str, str]:
        """Finished Jobs whose deciding Pod end is read from a Pod only and that the status does
        not keep: Job name -> that end, to copy onto the Job (RESULT_ANNOTATION) before the
        terminated-Pod collector removes the Pod. A succeeded scene, stitch or combine Job is
        not among them: the status it is published in keeps its result (`kept_ends`), so only
        failures (their error, for triage) and plans (their frames, for the next stage) are."""
        found = {}
        for job in self._jobs():
            phase = self.outcome(job).phase
            if phase not in phases.FINISHED or _recorded_end(job) is not None:
                continue
            if phase == phases.SUCCEEDED and role_of(job) != "plan":
                continue
            end = deciding_end(job, self.pods.get(job["metadata"]["name"], ()))
            if end is not None:
                found[job["metadata"]["name"]] = json.dumps(end, sort_keys=True)
        return found

    def unfinished(self) -> list[Obj]:
        """Every scene-stage and combine Job that has not finished."""
        return [j for j in self._jobs() if self.outcome(j).phase not in phases.FINISHED]

    def _jobs(self) -> list[Obj]:
        return [*(j for js in self.scene_jobs.values() for j in js), *self.combines.values()]

    @functools.cached_property
    def _outcomes(self) -> dict[str, JobOutcome]:
        outcomes = {}
        for job in self._jobs():
            name = job["metadata"]["name"]
            outcomes[name] = outcome(job, self.pods.get(name, ()), self.kept.get(name))
        return outcomes


def kept_ends(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Job name -> a Pod end rebuilt from what the status kept of each succeeded scene Job (its
    latest stage) and of the succeeded combine Job: the result that Job had when it was published."""
    kept: dict[str, dict[str, Any]] = {}
    for scene in status.get("scenes") or ():
        if scene.get("phase") == phases.SUCCEEDED and scene.get("job") and not scene.get("reused"):
            fields = {k: scene.get(k) for k in ("artifact", "sha256", "cacheKey", "poster", "logTail")}
            kept[str(scene["job"])] = _end_of(TerminationMessage(0, **fields), scene.get("finishedAt"))
    combine, output = status.get("combine") or {}, status.get("output") or {}
    if combine.get("phase") == phases.SUCCEEDED and combine.get("job") and output.get("uri"):
        names = ("durationSeconds", "sizeBytes", "sha256", "frames", "poster", "subtitles", "subtitlesSha256")
        message = TerminationMessage(0, artifact=output["uri"], **{k: output.get(k) for k in names})
        kept[str(combine["job"])] = _end_of(message, status.get("finishedAt"))
    return kept


def _end_of(message: TerminationMessage, finished: Any) -> dict[str, Any]:
    end: dict[str, Any] = {"exitCode": 0, "reason": "Completed", "message": message.to_json()}
    return end | ({"finishedAt": finished} if finished else {})


def parse_indexes(text: str | None) -> frozenset[int]:
    """An Indexed Job's `completedIndexes` ("1,3-5,7") as a set."""
    found: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            found.update(range(int(first), int(last or first) + 1))
    return frozenset(found)


def role_of(job: Obj) -> str:
    return str((job["metadata"].get("labels") or {}).get(naming.ROLE_LABEL, "scene"))


def stage_key(job: Obj) -> tuple[int, int]:
    return attempt_of(job), STAGES.get(role_of(job), 1)


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


def memory_limit_of(job: Obj) -> str | None:
    containers = job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    limit = containers[0].get("resources", {}).get("limits", {}).get("memory")
    return str(limit) if limit is not None else None


def suspended_by_us(job: Obj) -> bool:
    return (job["metadata"].get("annotations") or {}).get(naming.SUSPENDED_BY_US_ANNOTATION) == "true"


def deciding_end(job: Obj, pods: Sequence[Obj]) -> dict[str, Any] | None:
    """The Pod end that decided a finished Job (the last success, or the failure that failed
    it), from its Pods; None when none is left."""
    terminated = _ends(pods)
    if job_condition(job, k8s.JOB_COMPLETE):
        ok = [t for t in terminated if t.get("exitCode") == 0]
        return _kept(ok[-1]) if ok else None
    if job_condition(job, k8s.JOB_FAILED) and terminated:
        return _kept(_last_failure(terminated))
    return None


def _kept(end: Obj) -> dict[str, Any]:
    return {k: end[k] for k in ("exitCode", "reason", "message", "finishedAt") if end.get(k) is not None}


def _recorded_end(job: Obj) -> dict[str, Any] | None:
    raw = (job["metadata"].get("annotations") or {}).get(naming.RESULT_ANNOTATION)
    try:
        end = json.loads(raw) if raw else None
    except ValueError:
        return None
    return end if isinstance(end, dict) else None


def _ends(pods: Sequence[Obj]) -> list[dict[str, Any]]:
    terminated = [t for t in (_terminated(p) for p in pods) if t is not None]
    terminated.sort(key=lambda t: str(t.get("finishedAt") or ""))
    return terminated


def outcome(job: Obj, pods: Sequence[Obj], kept: Obj | None = None) -> JobOutcome:
    """What one Job says about its scene (or the combine): from its Pods, or, once they are
    garbage-collected, from the end recorded on the Job when it was first seen, else from the
    end the published status `kept` of it."""
    status = job.get("status", {})
    started, finished = status.get("startTime"), status.get("completionTime")
    terminated = _ends(pods)
    recorded = _recorded_end(job)
    if recorded is None and kept is not None and not terminated:
        recorded = dict(kept)
    if recorded is not None and (job_condition(job, k8s.JOB_COMPLETE) or job_condition(job, k8s.JOB_FAILED)):
        terminated = [recorded]  # what decided the Job, whatever Pods are left
    if job_condition(job, k8s.JOB_COMPLETE):
        ok = [t for t in terminated if t.get("exitCode") == 0]
        result = TerminationMessage.from_json(ok[-1].get("message")) if ok else None
        return JobOutcome(phases.SUCCEEDED, 0, "", result, started, finished)
    failed = job_condition(job, k8s.JOB_FAILED)
    if failed:
        last = _last_failure(terminated)
        message = TerminationMessage.from_json(last.get("message"))
        oom = last.get("reason") == "OOMKilled"
        exit_class = ExitClass.OOM_KILLED if oom else message.exitClass if message else last.get("exitCode")
        text = _failure_text(failed, message, oom)
        end = failed.get("lastTransitionTime") or last.get("finishedAt")
        return JobOutcome(phases.FAILED, exit_class, text, message, started, end, oom)
    if job.get("spec", {}).get("suspend") and not status.get("active"):
        return JobOutcome(phases.SUSPENDED, started_at=started)
    # `active` counts pending Pods too (unschedulable, pulling): only a Running Pod is running. A
    # Pod that has succeeded while the Job is not Complete yet (the controller's next sync; other
    # indexes) keeps it running: it never goes back to Pending.
    started_pods = (k8s.POD_RUNNING, k8s.POD_SUCCEEDED)
    running = any(p.get("status", {}).get("phase") in started_pods for p in pods)
    return JobOutcome(phases.RUNNING if running else phases.PENDING, started_at=started)


def _last_failure(terminated: Sequence[Obj]) -> Obj:
    """The Pod end that failed the Job: the last non-zero exit (an Indexed Job's other indexes
    may have succeeded after it), else the last end."""
    failed = [t for t in terminated if t.get("exitCode") != 0]
    return (failed or list(terminated) or [{}])[-1]


def _terminated(pod: Obj) -> dict[str, Any] | None:
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
