"""The decision of one reconcile pass, pure: what exists now -> the effects to perform and the status.

Read this module top-down to learn a VideoRequest's lifecycle. `decide` is a function of the
spec, the stored plan, the observed children, the previous status (and the planner bookkeeping
it carries), the clock and the free slots; it keeps nothing between calls. A restarted operator
builds the same inputs from the cluster and so decides exactly what the old one would have.

    finished (phase terminal, spec unchanged)  -> keep the record; delete it after its TTL
    cancelled, past its deadline, or refused   -> stop every unfinished Job; Cancelled / Failed
    no plan yet                                -> ask the planner (after any outage backoff)
    spec edited since the plan                 -> re-plan (changed scenes get a new revision)
    otherwise                                  -> each scene's fate: launch, wait, fix, give up;
                                                  then combine, or fail and stop the rest
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import clock, phases
from scenefarm_contract.narration import narration_of
from scenefarm_contract.renderer import INPUT_MISMATCH
from scenefarm_operator.engine import effects as fx
from scenefarm_operator.engine import healing, kueue, lifecycle, stages
from scenefarm_operator.engine.admission_signals import Blocker
from scenefarm_operator.engine.chunking import ChunkingPolicy
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import (
    JobOutcome,
    Observed,
    attempt_of,
    outcome,
    role_of,
    suspended_by_us,
)
from scenefarm_operator.engine.plan_store import StoredPlan
from scenefarm_operator.engine.scene_cache import CacheHit
from scenefarm_operator.engine.scheduling import estimates
from scenefarm_operator.engine.scheduling.costmodel import Costs, Load
from scenefarm_operator.engine.status import (
    CANCELLED,
    Note,
    Verdict,
    assemble,
    deadline_verdict,
    scene_statuses,
)
from scenefarm_operator.engine.status import verdict as verdict_of
from scenefarm_operator.support.settings import Settings

Obj = Mapping[str, Any]
LEFTOVER_RECHECK_SECONDS = 2.0  # how soon to look again while a namesake's child holds a name
PLANNERS_THAT_TAKE_TIME = ("Gemini",)  # their "Planning" is published before the call


@dataclasses.dataclass(frozen=True)
class Inputs:
    meta: Obj
    spec: Obj
    previous: Obj  # the status as last published
    plan: StoredPlan | None  # from the plan ConfigMap; None before planning
    observed: Observed
    now: datetime.datetime
    settings: Settings
    capacity: int = 1 << 30  # scene Jobs the cluster-wide cap lets this request start now
    queue_position: int | None = None
    blockers: tuple[Blocker, ...] = ()  # Jobs whose Pod has not started past the grace period
    code: Mapping[str, str] = dataclasses.field(default_factory=dict)  # plan code key -> scene code
    # scenes never run whose cache key has a verified artifact in the namespace (scene_cache)
    cache_hits: Mapping[int, CacheHit] = dataclasses.field(default_factory=dict)
    # names of children still held by a deleted namesake (another owner uid): never adopted
    leftovers: frozenset[str] = frozenset()
    # status.estimatedCompletionTime as the server has it (written by observe/accounting)
    estimate: datetime.datetime | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The owner for children's manifests (ownerReference, labels, names)."""
        return {
            "apiVersion": naming.API_VERSION,
            "kind": naming.KIND,
            "metadata": dict(self.meta),
            "spec": dict(self.spec),
        }

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation", 1))


@dataclasses.dataclass(frozen=True)
class Decision:
    status: dict[str, Any] | None  # None: publish nothing (a finished request keeps its record)
    effects: tuple[fx.Effect, ...] = ()
    wake_after: float | None = None  # seconds until something is due
    started: tuple[str, ...] = ()  # scene Jobs this pass starts (the admission counts them)
    waiting: int = 0  # scene attempts left waiting for a slot
    longest_waiting: float = 0.0  # expected seconds of the longest of them (inf: unknown)
    publish_first: bool = False  # publish the status before the (slow) planner call


def decide(i: Inputs) -> Decision:  # noqa: PLR0911 - one return per lifecycle branch reads best
    if lifecycle.is_settled(i.meta, i.previous):
        return _finished(i)
    if i.spec.get("cancel"):
        return _stop(i, CANCELLED)
    left = lifecycle.seconds_left(i.spec, i.previous.get("startedAt"), i.now)
    if left is not None and left <= 0:
        return _stop(i, deadline_verdict(i.spec))
    refusal = i.previous.get("refusal") or {}
    if refusal.get("generation") == i.generation:
        text = f"the API server refused {refusal.get('object')}: {refusal.get('message')}; edit the spec"
        return _stop(i, Verdict(phases.FAILED, "Refused", text), extra={"refusal": refusal})
    retry = lifecycle.pending_retry(i.spec, i.previous)
    if i.plan is None and naming.plan_configmap_name(str(i.meta["name"])) in i.leftovers:
        return _waiting_for_namesake(i)
    if i.plan is None:
        return _planning(i, retry)
    if i.generation > i.plan.generation:
        return Decision(None, (fx.Replan(i.generation),))
    return _soonest(_rendering(i, i.plan, retry), left)


# ---- finished, stopped, planning -------------------------------------------------------------


def _finished(i: Inputs) -> Decision:
    left = lifecycle.seconds_until_deletion(i.spec, i.previous.get("finishedAt"), i.now)
    if left is None:
        return Decision(None)
    if left <= 0:
        return Decision(None, (fx.DeleteRequest(),))
    return Decision(None, wake_after=left + 0.1)


def _stop(
    i: Inputs, verdict: Verdict, extra: Mapping[str, Any] | None = None, combine_job: Obj | None = None
) -> Decision:
    """The request ends: every unfinished Job is stopped and every scene says what became of it."""
    stopped = f"not finished: {verdict.message}"
    scenes = scene_statuses(i.plan, i.observed, stopped=stopped) if i.plan else []
    effects = tuple(fx.DeleteJob(name) for name in _unfinished_jobs(i.observed))
    status = _assemble(i, scenes, verdict, combine_job=combine_job, extra=extra)
    return Decision(status, effects)


def _waiting_for_namesake(i: Inputs) -> Decision:
    """A deleted request of the same name still has children the garbage collector has not
    removed: plan nothing (its plan ConfigMap holds our plan's name) until they are gone."""
    names = ", ".join(sorted(i.leftovers))
    text = f"waiting for the garbage collector to remove {names}, left by a deleted request of this name"
    status = _assemble(i, [], Verdict(phases.PENDING, "WaitingForNamesake", text))
    return Decision(status, wake_after=LEFTOVER_RECHECK_SECONDS)


def _planning(i: Inputs, retry: int | None) -> Decision:
    planning = dict(i.previous.get("planning") or {})
    if retry is None and planning.get("error"):
        verdict = Verdict(phases.FAILED, "PlanningFailed", str(planning["error"]))
        return Decision(_assemble(i, [], verdict, extra={"planning": planning}))
    at = clock.parse_time(planning.get("nextAttemptAt"))
    if retry is None and at is not None and i.now < at:
        text = f"{planning.get('message', 'the planner is unavailable')}; planning again at {clock.iso(at)}"
        verdict = Verdict(phases.PLANNING, "PlannerUnavailable", text)
        status = _assemble(i, [], verdict, extra={"planning": planning})
        return Decision(status, wake_after=(at - i.now).total_seconds())
    verdict = Verdict(phases.PLANNING, phases.PLANNING, "planning the scenes")
    slow = str((i.spec.get("planner") or {}).get("mode", "")) in PLANNERS_THAT_TAKE_TIME
    status = _assemble(i, [], verdict, extra={"planning": planning})
    return Decision(status, (fx.AskPlan(retry),), publish_first=slow)


# ---- rendering: each scene's fate, then the combine ------------------------------------------


@dataclasses.dataclass
class _Pass:
    """What one rendering pass collects while it goes through the scenes."""

    notes: dict[int, Note] = dataclasses.field(default_factory=dict)
    launches: list[tuple[int, healing.Launch]] = dataclasses.field(default_factory=list)
    fixes: list[fx.AskFix] = dataclasses.field(default_factory=list)
    wake_at: list[datetime.datetime] = dataclasses.field(default_factory=list)


def _rendering(i: Inputs, plan: StoredPlan, retry: int | None) -> Decision:
    work = _fates(i, plan, retry)
    suspended = bool(i.spec.get("suspend"))
    never_ran = [s.index for s in plan.scenes if i.observed.never_ran(s.index, s.revision)]
    reused = {n: i.cache_hits[n] for n in never_ran if n in i.cache_hits}
    fresh = [n for n in never_ran if n not in reused]
    known = estimates.lengths(plan, i.observed, i.code, _fps(i))
    order = estimates.render_order(known)  # longest expected first: the launches follow it
    rank = {n: k for k, n in enumerate(order)}
    candidates = [] if suspended else work.launches + [(n, healing.Launch(1)) for n in fresh]
    candidates.sort(key=lambda c: rank[c[0]])
    allowed = max(0, _parallelism(i.spec) - _busy(i.observed))  # this request's own parallelism
    chosen = candidates[: min(allowed, i.capacity)]
    waiting = min(len(candidates), allowed) - len(chosen)  # held back by the cluster-wide cap only
    chosen_fresh = {n for n, launch in chosen if launch.attempt == 1}
    queued = [n for n in fresh if n not in chosen_fresh]
    launches, held = _without_leftovers(i, _creates(i, plan, chosen, known))
    stages_next, held_next = _without_leftovers(i, [] if suspended else _next_stages(i, plan, known))
    held += held_next
    # the Jobs this pass creates are shown by this pass's status (one write, not two)
    seen = i.observed.with_created([c.job for c in [*launches, *stages_next] if isinstance(c, fx.CreateJob)])
    scenes = scene_statuses(plan, seen, queued, work.notes, reused=reused)
    verdict, combine_effects, combine_job, evicted = _combine(i, scenes, retry)
    if verdict.phase == phases.FAILED:
        return _stop(i, verdict, combine_job=combine_job)  # a failed combine stays in the record
    combine_effects, combine_held = _without_leftovers(i, combine_effects)
    combine_job = None if combine_held else combine_job
    held += combine_held
    verdict, blocked = _with_blockers(i, verdict)
    verdict, stall_due = _beyond_estimate(i, verdict, scenes)
    if held:
        names = ", ".join(sorted(held))
        text = f"waiting for the garbage collector to remove job {names} of a deleted request of this name"
        verdict = dataclasses.replace(verdict, message=f"{verdict.message}; {text}")
    effects = [*_suspend_sync(i.observed, suspended), *launches, *combine_effects, *blocked, *stages_next]
    effects += _reuse_events(i, reused)
    effects += [fx.RecordResult(name, end) for name, end in sorted(i.observed.unrecorded().items())]
    if not suspended:
        effects += work.fixes
    served = _retry_served(retry, work.launches, chosen, combine_effects)
    extra = {"healing": _healing_records(i), "evictions": _evictions(i, evicted), "renderOrder": order}
    status = _assemble(i, scenes, verdict, combine_job=combine_job, retry=served, extra=extra)
    wake = min(((t - i.now).total_seconds() for t in work.wake_at), default=None)
    if held:
        wake = min(wake if wake is not None else LEFTOVER_RECHECK_SECONDS, LEFTOVER_RECHECK_SECONDS)
    if stall_due is not None:
        wake = min(wake if wake is not None else stall_due, stall_due)
    started = tuple(
        c.job["metadata"]["name"] for c in effects if isinstance(c, fx.CreateJob) and _is_scene(c.job)
    )
    left = [known[n] for n, _ in candidates[len(chosen) : len(chosen) + waiting]]  # held by the cap
    return Decision(
        status,
        tuple(effects),
        wake,
        started,
        waiting,
        max((math.inf if v is None else v for v in left), default=0.0),
        publish_first=bool(work.fixes) and not suspended,
    )


def _fates(i: Inputs, plan: StoredPlan, retry: int | None) -> _Pass:
    work = _Pass()
    for scene in plan.scenes:
        f = healing.fate(
            scene,
            plan,
            i.observed,
            spec=i.spec,
            previous=i.previous,
            now=i.now,
            settings=i.settings,
            retry=retry,
        )
        if isinstance(f, healing.Launch):
            work.launches.append((scene.index, f))
            work.notes[scene.index] = Note(phases.RETRYING, f.reason)
        elif isinstance(f, healing.Wait):
            work.notes[scene.index] = Note(phases.RETRYING, f.message)
            work.wake_at.append(f.until)
        elif isinstance(f, healing.AskFix):
            work.notes[scene.index] = Note(phases.HEALING, f.reason)
            work.fixes.append(fx.AskFix(scene.index, f.attempt, f.facts, f.reason))
        elif isinstance(f, healing.GiveUp):
            work.notes[scene.index] = Note(None, f.message)
    return work


def _combine(
    i: Inputs, scenes: Sequence[Obj], retry: int | None
) -> tuple[Verdict, list[fx.Effect], Obj | None, dict[str, str] | None]:
    """The verdict, with the combine Job the finished scenes call for (created once per input),
    and the scene-cache entry a failed combine found replaced (to evict), if any."""
    verdict = verdict_of(i.spec, scenes, None)
    if verdict.phase != phases.COMBINING:
        return verdict, [], None, None
    indexes, digest = lifecycle.combine_inputs(scenes)
    narrations = {s.index: s.narration for s in i.plan.scenes} if i.plan else {}
    narration = narration_of(i.spec, [narrations.get(k, "") for k in indexes])
    if narration.speaks:  # another voice or text is another video: a new combine Job
        digest = hashlib.sha256(f"{digest}\n{narration.to_json()}".encode()).hexdigest()
    name = naming.combine_job_name(str(i.meta["name"]), digest)
    job = i.observed.combines.get(name)
    if job is None:
        sources, digests = lifecycle.combine_sources(scenes), lifecycle.combine_digests(scenes)
        job_manifest = manifests.combine_job(
            i.body, i.settings, indexes, digest, sources, digests=digests, narrations=narrations
        )
        return verdict, [fx.CreateJob(job_manifest)], job_manifest, None  # shown at once, Pending
    result = i.observed.outcome(job)
    if retry is not None and result.phase == phases.FAILED:  # a retry runs a failed combine again
        return verdict, [fx.DeleteJob(name)], None, None
    evicted = _evicted_input(scenes, result) if result.phase == phases.FAILED else None
    if evicted is not None:  # a reused scene's file changed: not this request's failure; render it here
        text = (
            f"the reused scene file {evicted['source']} no longer has its recorded sha256: evicted from "
            f"the scene cache, the scene renders here"
        )
        effects: list[fx.Effect] = [fx.PostEvent("CacheEntryEvicted", text)]
        return Verdict(phases.RENDERING, "CacheEntryEvicted", text), effects, None, evicted
    return verdict_of(i.spec, scenes, result), [], job, None


def _evicted_input(scenes: Sequence[Obj], result: JobOutcome) -> dict[str, str] | None:
    """The reused input a failed combine found replaced (renderer's INPUT_MISMATCH), if any."""
    tail = (result.result.errorTail if result.result else None) or result.message
    if not tail.startswith(INPUT_MISMATCH + ": "):
        return None
    key = tail[len(INPUT_MISMATCH) + 2 :].split(":", 1)[0]
    for scene in scenes:
        reused = scene.get("reused") or {}
        if reused.get("source") == key:
            return {"source": key, "sha256": str(scene.get("sha256", ""))}
    return None


def _with_blockers(i: Inputs, verdict: Verdict) -> tuple[Verdict, list[fx.Effect]]:
    """A Pod the cluster refuses or cannot place, past the grace period: say which object is
    missing in the message (Ready's condition) and post one Event when it first appears."""
    if not i.blockers or verdict.phase not in (phases.RENDERING, phases.COMBINING):
        return verdict, []
    first = i.blockers[0]
    text = f"Job {first.job} cannot start its Pod ({first.what}): {first.message}"
    effects: list[fx.Effect] = []
    if text not in str(i.previous.get("message", "")):
        effects.append(fx.PostEvent("PodNotStarting", text))
    stalled = f"{text} (waited past SCENEFARM_POD_START_GRACE_SECONDS; it will not start by itself)"
    return dataclasses.replace(
        verdict, reason="PodNotStarting", message=f"{verdict.message}; {text}", stalled=stalled
    ), effects


def _beyond_estimate(i: Inputs, verdict: Verdict, scenes: Sequence[Obj]) -> tuple[Verdict, float | None]:
    """No scene running and the estimated completion long past: Stalled=True says so (the CLI then
    shows the ETA as unknown). Returns the verdict and, before that point, the seconds until it."""
    eta = i.estimate
    if eta is None or verdict.stalled or verdict.phase not in (phases.RENDERING, phases.COMBINING):
        return verdict, None
    if any(s.get("phase") == phases.RUNNING for s in scenes):
        return verdict, None
    late = (i.now - eta).total_seconds() - i.settings.pod_start_grace_seconds
    if late < 0:
        return verdict, -late + 0.1
    text = f"no progress: no scene is running and the estimated completion ({clock.iso(eta)}) has passed"
    return dataclasses.replace(verdict, reason="NoProgress", stalled=text), None


def _without_leftovers(i: Inputs, effects: list[fx.Effect]) -> tuple[list[fx.Effect], list[str]]:
    """Creates whose name a deleted namesake's child still holds wait for the garbage collector:
    the other effects, and the names held."""
    held = [e.job["metadata"]["name"] for e in effects if isinstance(e, fx.CreateJob)]
    held = [name for name in held if name in i.leftovers]
    kept = [e for e in effects if not (isinstance(e, fx.CreateJob) and e.job["metadata"]["name"] in held)]
    return kept, held


def _creates(
    i: Inputs,
    plan: StoredPlan,
    chosen: Sequence[tuple[int, healing.Launch]],
    known: Mapping[int, float | None],
) -> list[fx.Effect]:
    creates: list[fx.Effect] = []
    auto = ChunkingPolicy.from_spec(i.spec).enabled
    for index, launch in chosen:
        scene = plan.scene(index)
        code = i.code.get(scene.key)
        load = _load(i, plan, index, known) if auto else None
        job = stages.first_stage(
            i.body, i.settings, scene, launch.attempt, code=code, memory_limit=launch.memory_limit, load=load
        )
        if launch.retry_generation is not None:
            job["metadata"]["annotations"][naming.RETRY_GENERATION_ANNOTATION] = str(launch.retry_generation)
        event = None
        if launch.attempt > 1:
            event = (
                phases.RETRYING,
                f"scene {scene.name!r}: attempt {launch.attempt} started ({launch.reason})",
            )
        creates.append(fx.CreateJob(job, event))
    return creates


def _suspend_sync(observed: Observed, suspended: bool) -> list[fx.Effect]:
    """spec.suspend: hold unfinished scene Jobs; on resume, release exactly the Jobs we hold.

    Our hold is recorded on each Job (the annotation `kube.set_job_suspended` writes with
    `spec.suspend`), so a restarted operator releases the same Jobs, and a Job suspended by
    someone else is not ours to release. Kueue owns `spec.suspend` of the Jobs it manages (it
    un-suspends a Job it admits), so those are never flipped: a Job Kueue has not admitted yet is
    withdrawn (deleted; the scene starts again from scratch on resume) and one already admitted
    runs to its end. No new attempt starts while suspended either way.
    """
    effects: list[fx.Effect] = []
    for job in _scene_jobs(observed):
        if observed.outcome(job).phase in phases.FINISHED:
            continue
        name = job["metadata"]["name"]
        is_suspended = bool(job.get("spec", {}).get("suspend"))
        if kueue.is_kueue_managed(job):
            if suspended and is_suspended and not (job.get("status") or {}).get("startTime"):
                effects.append(fx.DeleteJob(name))
        elif suspended and not is_suspended:
            effects.append(fx.SuspendJob(name, True))
        elif not suspended and is_suspended and suspended_by_us(job):
            effects.append(fx.SuspendJob(name, False))
    return effects


# ---- small facts ------------------------------------------------------------------------------


def _is_scene(job: Obj) -> bool:
    """The first Job of a scene attempt (what the cluster-wide admission counts)."""
    return role_of(job) in ("scene", "plan")


def _parallelism(spec: Obj) -> int:
    return int((spec.get("render") or {}).get("parallelism", 4))


def _scene_jobs(observed: Observed) -> list[Obj]:
    return [job for jobs in observed.scene_jobs.values() for job in jobs]


def _busy(observed: Observed) -> int:
    """Pods of unfinished scene Jobs, except Jobs we suspended: each Pod holds a parallelism
    slot (an Indexed chunk Job runs one Pod per chunk)."""
    return sum(
        int(job.get("spec", {}).get("parallelism") or 1)
        for job in _scene_jobs(observed)
        if observed.outcome(job).phase not in phases.FINISHED and not suspended_by_us(job)
    )


def _unfinished_jobs(observed: Observed) -> list[str]:
    return [j["metadata"]["name"] for j in observed.unfinished()]


def _next_stages(i: Inputs, plan: StoredPlan, known: Mapping[int, float | None]) -> list[fx.Effect]:
    """A chunked attempt goes on: after its plan, the chunks or a whole render, as the cost model
    predicts the video sooner on this request's slots with the work it still has; after the
    chunks, the stitch."""
    effects: list[fx.Effect] = []
    for scene in plan.scenes:
        latest = i.observed.latest(scene.index)
        if latest is None:
            continue
        out = i.observed.outcome(latest)
        planned = role_of(latest) == "plan" and out.phase == phases.SUCCEEDED
        load = _load(i, plan, scene.index, known) if planned else None
        job = stages.next_stage(i.body, i.settings, scene, latest, out, load=load)
        if job is not None:
            effects.append(fx.CreateJob(job))
    return effects


def _load(i: Inputs, plan: StoredPlan, index: int, known: Mapping[int, float | None]) -> Load:
    """What scene `index`'s chunking decision competes with on this request's slots."""
    slots = min(_parallelism(i.spec), _busy(i.observed) + i.capacity)
    costs = Costs.parse(i.settings.cost_model)
    quality = manifests.quality_of(i.spec, i.settings)
    return estimates.load_for(
        index, plan, i.observed, known, fps=_fps(i), quality=quality, costs=costs, slots=slots, now=i.now
    )


def _fps(i: Inputs) -> int:
    return estimates.fps_of(manifests.quality_of(i.spec, i.settings))


def _reuse_events(i: Inputs, reused: Mapping[int, CacheHit]) -> list[fx.Effect]:
    """One Event per scene served from the cache, when the status first says so."""
    shown = {int(s.get("index", -1)) for s in i.previous.get("scenes") or () if s.get("reused")}
    return [
        fx.PostEvent("Reused", f"scene #{n}: {hit.scene_entry(0)['message']}")
        for n, hit in sorted(reused.items())
        if n not in shown
    ]


def _retry_served(
    retry: int | None,
    launches: Sequence[tuple[int, healing.Launch]],
    chosen: Sequence[tuple[int, healing.Launch]],
    combine: Sequence[fx.Effect],
) -> int | None:
    """The retry generation to publish: a pending retry counts as served once every attempt it
    forces is started (each carries the generation, so a restart sees it) and no failed combine
    is left to run again."""
    if retry is None:
        return None
    forced = {n for n, launch in launches if launch.retry_generation == retry}
    started = {n for n, _ in chosen}
    if forced - started or any(isinstance(e, fx.DeleteJob) for e in combine):
        return None
    return retry


def _evictions(i: Inputs, evicted: dict[str, str] | None) -> list[dict[str, Any]]:
    """Scene-cache entries this request found replaced (kept: the namespace's lookups skip them)."""
    kept = [dict(e) for e in i.previous.get("evictions") or ()]
    if evicted is not None and evicted not in kept:
        kept.append(evicted)
    return kept


def _healing_records(i: Inputs) -> list[dict[str, Any]]:
    """Fix bookkeeping still about a scene's latest, failed attempt (older records are done)."""
    kept = []
    for record in i.previous.get("healing") or ():
        latest = i.observed.latest(int(record.get("index", -1)))
        if latest is None or attempt_of(latest) != record.get("attempt"):
            continue
        if i.observed.scene_outcome(latest).phase == phases.FAILED:
            kept.append(dict(record))
    return kept


def _assemble(
    i: Inputs,
    scenes: Sequence[Obj],
    verdict: Verdict,
    *,
    combine_job: Obj | None = None,
    retry: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    combine = None
    if combine_job is not None:  # one this pass creates is not observed yet: Pending
        name = combine_job["metadata"]["name"]
        combine = i.observed.outcome(combine_job) if name in i.observed.combines else outcome(combine_job, ())
    served = retry or int(i.previous.get("retryGeneration") or 0) or None
    kept = {k: i.previous.get(k) for k in ("evictions", "renderOrder")}  # kept for good
    extra = kept | dict(extra or {})
    return assemble(
        spec=i.spec,
        generation=i.generation,
        previous=i.previous,
        now=clock.iso(i.now),
        scenes=scenes,
        verdict=verdict,
        plan=i.plan,
        combine_job=combine_job,
        combine=combine,
        queue_position=i.queue_position,
        retry_generation=served,
        extra=extra,
    )


def _soonest(decision: Decision, deadline_left: float | None) -> Decision:
    if deadline_left is None:
        return decision
    wake = min(deadline_left + 0.1, decision.wake_after if decision.wake_after is not None else 1e12)
    return dataclasses.replace(decision, wake_after=wake)
