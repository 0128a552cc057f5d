"""Pure builders for a chunked scene: its plan Job, its Indexed chunk Job and its stitch Job.

All three run the renderer in the same restricted Pod as a plain scene Job (`manifests`):

- **plan** `<base>-sNN-aK-plan`: `python -m scenefarm_renderer plan`, no pixels; its
  termination message carries the scene's frames and segments (`units`) for `chunking.decide`.
- **chunks** `<base>-sNN-aK-chunks`: one Indexed Job, one index per chunk
  (`completionMode: Indexed`, `completions = parallelism = k`); each Pod reads its chunk from
  `JOB_COMPLETION_INDEX` and the shared `--chunk-layout`. A transient failure retries only that
  index (`backoffLimitPerIndex`); the first index that fails for good fails the Job
  (`maxFailedIndexes: 0`), and fixable or environment exits fail it at once (podFailurePolicy
  `FailJob`, as for scene Jobs): a chunk failure is triaged exactly like a scene failure.
- **stitch** `<base>-sNN-aK-stitch`: joins the chunks by stream copy into `scene-NN.mp4` and
  verifies it against the plan's frame count.

Every Job carries the scene's labels with `scenefarm.dev/role` = `plan`, `chunks` or `stitch`
(a plain scene Job has `scene`), so observers tell them from scene attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scenefarm_contract.chunks import indexed_chunk_argv, plan_argv, stitch_argv
from scenefarm_contract.renderer import artifact_prefix
from scenefarm_operator.engine.chunking import ChunkDecision
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.manifests.jobs import (
    ARTIFACT_MOUNT,
    DEADLINE_MARGIN_SECONDS,
    PLAN_MOUNT,
    quality_of,
    render_deadline,
    scene_render_argv,
    scene_stage_job,
    store_of,
)
from scenefarm_operator.engine.plan_store import SceneEntry
from scenefarm_operator.support.settings import Settings

Body = Mapping[str, Any]
ROLES = ("plan", "chunks", "stitch")
_BASE_MAX = 38  # "<base>-sNN-aKK-chunks" stays within 63 characters


def chunk_job_name(request: str, index: int, attempt: int, role: str) -> str:
    return f"{naming.job_base(request, _BASE_MAX)}-s{index:02d}-a{attempt}-{role}"


def chunk_labels(request: str, index: int, attempt: int, role: str) -> dict[str, str]:
    return naming.scene_labels(request, index, attempt) | {naming.ROLE_LABEL: role}


def plan_job(
    owner: Body, settings: Settings, scene: SceneEntry, attempt: int, *, memory_limit: str | None = None
) -> dict[str, Any]:
    """Count the scene's frames and segments (the renderer's `plan` command). `memory_limit`
    (raised after an out-of-memory kill) is kept here for the attempt's later stages."""
    spec = owner.get("spec", {})
    args = plan_argv(
        code_path=f"{PLAN_MOUNT}/{scene.key}",
        class_name=scene.class_name,
        quality=quality_of(spec, settings),
        deadline_seconds=max(render_deadline(spec) - DEADLINE_MARGIN_SECONDS, 10),
    )
    return _stage(
        owner, settings, scene, attempt, "plan", args=args, with_plan=True, memory_limit=memory_limit
    )


def chunks_job(
    owner: Body,
    settings: Settings,
    scene: SceneEntry,
    attempt: int,
    decision: ChunkDecision,
    *,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    """The Indexed Job rendering every chunk of `decision` (which must be `chunked`)."""
    if not decision.chunked:
        raise ValueError(f"scene {scene.index} is rendered whole: {decision.reason}")
    args = scene_render_argv(owner, settings, scene) + indexed_chunk_argv(edges=decision.edges)
    job = _stage(
        owner, settings, scene, attempt, "chunks", args=args, with_plan=True, memory_limit=memory_limit
    )
    count = len(decision.chunks)
    job_spec = job["spec"]
    backoff = job_spec.pop("backoffLimit")
    job_spec.update(
        completionMode="Indexed",
        completions=count,
        parallelism=count,
        backoffLimitPerIndex=backoff,
        maxFailedIndexes=0,
    )
    return job


def stitch_job(
    owner: Body, settings: Settings, scene: SceneEntry, attempt: int, decision: ChunkDecision
) -> dict[str, Any]:
    """Join the chunks of `decision` into the verified `scene-NN.mp4`."""
    meta, spec = owner["metadata"], owner.get("spec", {})
    args = stitch_argv(
        scene_index=scene.index,
        chunk_count=len(decision.chunks),
        quality=quality_of(spec, settings),
        expected_frames=decision.frames,
        prefix=artifact_prefix(meta["namespace"], meta["name"], meta["uid"]),
        store=store_of(spec, settings).lower(),
        store_root=ARTIFACT_MOUNT,
    )
    return _stage(owner, settings, scene, attempt, "stitch", args=args, with_plan=False)


def _stage(
    owner: Body,
    settings: Settings,
    scene: SceneEntry,
    attempt: int,
    role: str,
    *,
    args: list[str],
    with_plan: bool,
    memory_limit: str | None = None,
) -> dict[str, Any]:
    name = owner["metadata"]["name"]
    return scene_stage_job(
        owner,
        settings,
        scene,
        name=chunk_job_name(name, scene.index, attempt, role),
        labels=chunk_labels(name, scene.index, attempt, role),
        args=args,
        with_plan=with_plan,
        memory_limit=memory_limit,
    )
