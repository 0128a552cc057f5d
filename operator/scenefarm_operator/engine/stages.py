"""A scene attempt's stages, pure: which Job starts it, which continues it, what status shows.

With `spec.render.chunking.mode: Auto`, an attempt starts with a `plan` Job (frames and
segments, no pixels) unless the scene's source alone shows it is too short to split. The
plan's answer decides (`chunking.decide`): a `chunks` Indexed Job then a `stitch` Job, or a
whole `scene` Job. Each Job made from a plan carries the decision and the plan's cache key as
annotations, so what status shows, and the stitch that follows the chunks, are read from the
cluster (a restarted operator continues the same chain).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import k8s, keys, phases
from scenefarm_contract.renderer import QUALITIES, TerminationMessage
from scenefarm_operator.engine import chunking
from scenefarm_operator.engine.chunking import Chunk, ChunkDecision, ChunkingPolicy
from scenefarm_operator.engine.manifests import chunks as chunk_manifests
from scenefarm_operator.engine.manifests import jobs as manifests
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import INTERMEDIATE, JobOutcome, attempt_of, memory_limit_of, role_of
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.engine.scheduling.costmodel import Costs, Load
from scenefarm_operator.support.settings import Settings

Obj = Mapping[str, Any]
CHUNKING_ANNOTATION = keys.CHUNKING_ANNOTATION
CACHE_KEY_ANNOTATION = keys.CACHE_KEY_ANNOTATION
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"  # on each Pod of an Indexed Job
# What a chunk's status copies from its Pod's message (status.scenes[i].chunking.chunks[j])
CHUNK_FIGURES = ("renderSeconds", "replaySeconds", "replayFastForwarded", "replayStepped", "replayStepReason")


def first_stage(
    owner: Obj,
    settings: Settings,
    scene: SceneEntry,
    attempt: int,
    *,
    code: str | None,
    memory_limit: str | None = None,
    load: Load | None = None,
) -> dict[str, Any]:
    """The Job that starts attempt `attempt` of the scene: a plan Job when chunking is on and
    neither the source nor the cost model on the request's `load` rules chunks out."""
    spec = owner.get("spec", {})
    policy = ChunkingPolicy.from_spec(spec)
    short = chunking.whole_without_plan(spec, policy, code) if policy.enabled else None
    if policy.enabled and short is None and load is not None:
        quality = manifests.quality_of(spec, settings)
        fps = QUALITIES[quality].fps if quality in QUALITIES else 0
        costs = Costs.parse(settings.cost_model)
        short = chunking.by_estimate(policy, code, fps, quality=quality, load=load, costs=costs)
    if policy.enabled and short is None:
        return chunk_manifests.plan_job(owner, settings, scene, attempt, memory_limit=memory_limit)
    job = manifests.scene_job(owner, settings, scene, attempt, memory_limit=memory_limit)
    if short is not None:
        _annotate(job, short, None)
    return job


def next_stage(
    owner: Obj, settings: Settings, scene: SceneEntry, job: Obj, out: JobOutcome, *, load: Load | None = None
) -> dict[str, Any] | None:
    """The Job that continues the attempt after its stage `job` succeeded; None when `job` is the
    attempt's last stage, has not succeeded, or ran code the plan has since replaced. After a
    plan, the cost model decides chunked or whole on the request's `load` (its slots and work)."""
    role = role_of(job)
    if out.phase != phases.SUCCEEDED or role not in INTERMEDIATE:
        return None
    if (job["metadata"].get("annotations") or {}).get(naming.CODE_KEY_ANNOTATION) != scene.key:
        return None  # a fix or an edit: the scene's next attempt runs the new code
    attempt, memory = attempt_of(job), memory_limit_of(job)
    if role == "plan":
        decision = _from_plan(owner.get("spec", {}), settings, out.result, load)
        if decision.chunked:
            created = chunk_manifests.chunks_job(
                owner, settings, scene, attempt, decision, memory_limit=memory
            )
        else:
            created = manifests.scene_job(owner, settings, scene, attempt, memory_limit=memory)
        key = out.result.cacheKey if out.result else None
    else:
        decision = decision_of(job) or ChunkDecision(False, "", 0, 0)
        created = chunk_manifests.stitch_job(owner, settings, scene, attempt, decision)
        key = cache_key_of(job)
    _annotate(created, decision, key)
    retry = (job["metadata"].get("annotations") or {}).get(naming.RETRY_GENERATION_ANNOTATION)
    if retry is not None:  # the attempt serves a user's retry in every stage
        created["metadata"]["annotations"][naming.RETRY_GENERATION_ANNOTATION] = retry
    return created


def decision_of(job: Obj) -> ChunkDecision | None:
    """The chunking decision a Job was made with (its annotation)."""
    raw = (job["metadata"].get("annotations") or {}).get(CHUNKING_ANNOTATION)
    if not raw:
        return None
    data = json.loads(raw)
    chunks = tuple(
        Chunk(int(c["index"]), int(c["startFrame"]), int(c["endFrame"])) for c in data.get("chunks", ())
    )
    return ChunkDecision(
        data.get("decision") == "Chunked",
        str(data.get("reason", "")),
        int(data.get("frames", 0)),
        0,
        chunks,
        data.get("predicted") or None,
    )


def cache_key_of(job: Obj) -> str | None:
    return (job["metadata"].get("annotations") or {}).get(CACHE_KEY_ANNOTATION)


def status_of(
    job: Obj, out: JobOutcome, chunk_pods: Sequence[Obj], completed: frozenset[int] = frozenset()
) -> dict[str, Any]:
    """The stage's part of `status.scenes[i]`: the chunking decision with each chunk's state (from
    the Pods of the attempt's chunks Job), and what the attempt is doing when its Job says
    nothing else."""
    role = role_of(job)
    decision = decision_of(job)
    entry: dict[str, Any] = {}
    if decision is not None:
        entry["chunking"] = decision.to_status()
        if decision.chunked:
            entry["chunking"]["chunks"] = _chunk_states(decision, chunk_pods, completed)
    if out.message or out.phase in phases.FINISHED:
        return entry
    count = len(decision.chunks) if decision else 0
    done = out.result is not None  # an intermediate stage that succeeded (the scene is Running)
    doing = {
        "plan": "planned; its render Job is due" if done else "counting the scene's frames (plan Job)",
        "chunks": f"{count} chunks rendered; stitching is due" if done else f"rendering {count} chunks",
        "stitch": f"stitching {count} chunks",
    }.get(role)
    if doing:
        entry["message"] = doing
    return entry


def _from_plan(
    spec: Obj, settings: Settings, result: TerminationMessage | None, load: Load | None
) -> ChunkDecision:
    """The decision from the plan Job's answer; a plan that says nothing usable renders whole."""
    policy = ChunkingPolicy.from_spec(spec)
    if result is None or not result.frames or not result.fps or not result.units:
        return ChunkDecision(False, "the plan Job reported no frames: rendering whole", 0, 0)
    quality, costs = manifests.quality_of(spec, settings), Costs.parse(settings.cost_model)
    try:
        return chunking.decide(
            policy, int(result.frames), int(result.fps), result.units, quality=quality, load=load, costs=costs
        )
    except ValueError as e:
        return ChunkDecision(
            False, f"the plan could not be split ({e}): rendering whole", int(result.frames), 0
        )


def _annotate(job: dict[str, Any], decision: ChunkDecision, key: str | None) -> None:
    annotations = job["metadata"].setdefault("annotations", {})
    annotations[CHUNKING_ANNOTATION] = json.dumps(decision.to_status(), separators=(",", ":"), sort_keys=True)
    if key:
        annotations[CACHE_KEY_ANNOTATION] = key


def _chunk_states(
    decision: ChunkDecision, pods: Sequence[Obj], completed: frozenset[int]
) -> list[dict[str, Any]]:
    """Each chunk's layout with the state of its Pods (an index succeeds once; later Pods of a
    failed index are its retries); an index the Job lists in `completedIndexes` succeeded even
    when the terminated-Pod collector has taken its Pod."""
    chunks = []
    for item in decision.to_status()["chunks"]:
        mine = [p for p in pods if _index_of(p) == str(item["index"])]
        seen = [str((p.get("status") or {}).get("phase", k8s.POD_PENDING)) for p in mine]
        seen += [k8s.POD_SUCCEEDED] if int(item["index"]) in completed else []
        last = seen[-1] if seen else k8s.POD_PENDING
        item["phase"] = next((ph for ph in (k8s.POD_SUCCEEDED, k8s.POD_RUNNING) if ph in seen), last)
        done = [p for p in mine if (p.get("status") or {}).get("phase") == k8s.POD_SUCCEEDED]
        message = _message(done[-1]) if done else None
        if message is not None:  # its times, and which replayed plays were skipped or stepped
            reported = {k: getattr(message, k) for k in CHUNK_FIGURES}
            item |= {k: v for k, v in reported.items() if v is not None}
        chunks.append(item)
    return chunks


def _index_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX))


def _message(pod: Obj) -> TerminationMessage | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated")
        if terminated:
            return TerminationMessage.from_json(terminated.get("message"))
    return None
