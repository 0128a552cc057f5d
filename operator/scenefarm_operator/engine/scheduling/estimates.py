"""Pure: each scene's expected length, the order scenes start in (longest first), and the load a
chunking decision sees.

A scene's length is its plan's frame count (the plan Job's answer, which the Jobs made from it
carry and `status.scenes[i].chunking.frames` keeps), else the code's static estimate (literal run
times and waits, `chunking.static_seconds`), else unknown. Render farms start the longest tasks
first so that the longest one is not the last to start; a scene of unknown length starts before
the known ones (only its render can tell, and it may be the longest). Everything here is read
from the cluster (the plan ConfigMap's code, the Jobs, the status), never from memory, so a
restarted operator decides the same order.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scenefarm_contract import clock
from scenefarm_contract.chunks import Unit
from scenefarm_contract.renderer import QUALITIES
from scenefarm_operator.engine import chunking, stages
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.observed import Observed, revision_of, role_of
from scenefarm_operator.engine.plan_store import StoredPlan
from scenefarm_operator.engine.scheduling import costmodel
from scenefarm_operator.engine.scheduling.costmodel import Costs, Load, split

Obj = Mapping[str, Any]
DEFAULT_VIDEO_SECONDS = 10.0  # a scene of unknown length, when no scene of the request is known
MIN_REMAINING = 1.0  # a running Job past its expected end still needs a moment


def fps_of(quality: str) -> int:
    found = QUALITIES.get(quality)
    return found.fps if found is not None else QUALITIES["medium"].fps


def lengths(
    plan: StoredPlan, observed: Observed, code: Mapping[str, str], fps: float
) -> dict[int, float | None]:
    """Scene index -> its expected seconds of video (None: unknown): the frames its current
    revision's plan counted (the plan Job's answer, the decision its later Jobs carry, or the
    status record of a finished attempt), else its code's static estimate."""
    found: dict[int, float | None] = {}
    for scene in plan.scenes:
        frames = _planned_frames(scene.index, scene.revision, observed)
        if frames and fps:
            found[scene.index] = frames / fps
        else:
            source = code.get(scene.key)
            found[scene.index] = chunking.static_seconds(source) if source is not None else None
    return found


def _planned_frames(index: int, revision: int, observed: Observed) -> int:
    latest = observed.latest(index)
    if latest is not None and revision_of(latest) == revision:
        out = observed.outcome(latest)
        if role_of(latest) == "plan" and out.result is not None and out.result.frames:
            return int(out.result.frames)
        decision = stages.decision_of(latest)
        return decision.frames if decision is not None else 0
    recorded = observed.recorded.get(index) or {}
    if latest is None and recorded.get("revision", 1) == revision:
        return int((recorded.get("chunking") or {}).get("frames") or 0)
    return 0


def longest_waiting(
    plan: StoredPlan | None, observed: Observed, code: Mapping[str, str], fps: float
) -> float:
    """Expected seconds of the request's longest scene that never ran (inf: one is of unknown
    length; 0: none waits): where the request queues among those of its priority."""
    if plan is None:
        return 0.0
    known = lengths(plan, observed, code, fps)
    waiting = [known[s.index] for s in plan.scenes if observed.never_ran(s.index, s.revision)]
    return max((math.inf if v is None else v for v in waiting), default=0.0)


def render_order(known: Mapping[int, float | None]) -> list[int]:
    """Scene indexes, longest expected first (unknown lengths before every known one, then by index)."""

    def key(n: int) -> tuple[float, int]:
        seconds = known[n]
        return (-(seconds if seconds is not None else math.inf), n)

    return sorted(known, key=key)


def load_for(
    index: int,
    plan: StoredPlan,
    observed: Observed,
    known: Mapping[int, float | None],
    *,
    fps: float,
    quality: str,
    costs: Costs,
    slots: int,
    now: datetime.datetime,
) -> Load:
    """What scene `index`'s chunking decision competes with: the seconds left of every other
    running Job of the request, and the expected seconds of every scene that never ran."""
    typical = [v for v in known.values() if v is not None]
    default = sum(typical) / len(typical) if typical else DEFAULT_VIDEO_SECONDS

    def render(scene: int) -> float:
        seconds = known.get(scene)
        return costs.render(quality, round((seconds if seconds is not None else default) * fps))

    busy: list[float] = []
    for job in observed.unfinished():
        labels = job["metadata"].get("labels") or {}
        scene = str(labels.get(naming.SCENE_LABEL, ""))
        if not scene.isdigit() or int(scene) == index:
            continue
        started = clock.parse_time((job.get("status") or {}).get("startTime"))
        elapsed = (now - started).total_seconds() if started is not None else 0.0
        for expected in _expected(job, int(scene), render, costs, quality):
            busy.append(max(MIN_REMAINING, expected - elapsed))
    waiting = tuple(
        render(s.index) for s in plan.scenes if s.index != index and observed.never_ran(s.index, s.revision)
    )
    return Load(slots=max(1, slots), busy=tuple(busy), waiting=waiting)


def _expected(
    job: Obj, scene: int, render: Callable[[int], float], costs: Costs, quality: str
) -> list[float]:
    """Expected seconds of each Pod of a running stage Job."""
    role = role_of(job)
    if role == "plan":
        return [costs.plan_seconds]
    if role == "stitch":
        return [costs.stitch_seconds]
    decision = stages.decision_of(job)
    if role == "chunks" and decision is not None and decision.chunks:
        frames = decision.edges[-1]
        units = [Unit(frames, False)]
        return [costs.render(quality, *span) for span in split(units, decision.edges)]
    return [render(scene)]


def on_paper(
    costs: Costs, quality: str, scenes: Sequence[Sequence[Unit]], slots: int, max_chunks: int
) -> tuple[float, float, int]:
    """A whole request's time-to-video from its start on `slots` nodes (one Pod each), as the
    model sees it, with every scene whole and longest first (chunking Off), and as the operator
    runs it with chunking Auto: one slot, or a longest scene whose durations already show chunks
    cannot pay, renders whole without a plan; otherwise that scene's plan Job starts first, then
    the scene whole or in the best k chunks and a stitch; then the combine.
    (seconds Off, seconds Auto, k; 1: whole)."""
    frames = [sum(u.frames for u in units) for units in scenes]
    long = max(range(len(scenes)), key=lambda n: frames[n])
    whole = [
        costmodel.Job(costs.render(quality, *costmodel.split(u, [0, f])[0]))
        for u, f in zip(scenes, frames, strict=True)
    ]
    off = costmodel.to_video(costs, slots, (), whole, len(whole))
    if slots <= 1:
        return off, off, 1  # no plan Job, every scene whole (chunking.whole_without_plan)
    rest = [job for n, job in enumerate(whole) if n != long]

    def chunked(count: int, before: list[costmodel.Job]) -> tuple[float, int]:
        edges = chunking.layout(scenes[long], count, costs.replay_fraction * chunking.MOVING_COST)
        after = (len(rest),) if before else ()
        parts = [
            costmodel.Job(costs.render(quality, *span), after)
            for span in costmodel.split(scenes[long], edges)
        ]
        first = len(rest) + len(before)
        stitch = costmodel.Job(costs.stitch_seconds, tuple(range(first, first + len(parts))))
        jobs = [*rest, *before, *parts, stitch]
        return costmodel.to_video(costs, slots, (), jobs, len(rest) + len(parts)), len(parts)

    counts = range(2, max_chunks + 1)
    unplanned = min((chunked(k, [])[0] for k in counts), default=off)
    if off - unplanned < max(costmodel.MIN_GAIN_SECONDS, costmodel.MIN_GAIN_SHARE * off):
        return off, off, 1  # chunking.by_estimate: no plan Pod
    plan = costmodel.Job(costs.plan_seconds, rank=whole[long].seconds)  # started first: the longest scene
    planned_whole = dataclasses.replace(whole[long], after=(len(rest),))
    best = (costmodel.to_video(costs, slots, (), [*rest, plan, planned_whole], len(whole)), 1)
    for count in counts:
        best = min(best, chunked(count, [plan]))
    return off, best[0], best[1]
