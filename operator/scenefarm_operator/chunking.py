"""Pure: whether a scene is rendered in chunks, and where the chunks start and end.

Input is the scene's plan (the renderer's `plan` command: frames and the segments a chunk may
start at, see `scenefarm_contract.chunks`) and `spec.render.chunking`:

    chunking: {mode: Off|Auto, minChunkSeconds: 10, maxChunks: 4}

`Auto` splits a scene into k = min(maxChunks, floor(seconds / minChunkSeconds)) chunks when
k >= 2; otherwise it renders the scene whole, and the decision says why. A scene that is one
long animation is split by time: the renderer cuts every play on a 2-second segment grid, so
a chunk can start inside a long animation or wait and the stitched scene is still
frame-identical. Chunks are balanced by estimated cost, not frames: a frozen frame (a wait
with nothing moving) is rasterized once and repeated, so it counts `STATIC_COST` of a moving
frame. Replaying the frames before a chunk is not counted (it rasterizes nothing).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.chunks import Unit, decode_units

MOVING_COST = 10  # integer costs per frame
STATIC_COST = 1
DEFAULT_MIN_CHUNK_SECONDS = 10
DEFAULT_MAX_CHUNKS = 4


@dataclasses.dataclass(frozen=True)
class ChunkingPolicy:
    mode: str = "Off"  # Off | Auto
    min_chunk_seconds: float = DEFAULT_MIN_CHUNK_SECONDS
    max_chunks: int = DEFAULT_MAX_CHUNKS

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> ChunkingPolicy:
        """`spec.render.chunking` of a VideoRequest (the schema has checked the values)."""
        raw = (spec.get("render") or {}).get("chunking") or {}
        return cls(
            mode=str(raw.get("mode", "Off")),
            min_chunk_seconds=float(raw.get("minChunkSeconds", DEFAULT_MIN_CHUNK_SECONDS)),
            max_chunks=int(raw.get("maxChunks", DEFAULT_MAX_CHUNKS)),
        )

    @property
    def enabled(self) -> bool:
        return self.mode == "Auto" and self.max_chunks >= 2


@dataclasses.dataclass(frozen=True)
class Chunk:
    index: int
    start_frame: int
    end_frame: int


@dataclasses.dataclass(frozen=True)
class ChunkDecision:
    """What `status.scenes[i].chunking` shows: `Chunked` with the layout, or `Whole` and why."""

    chunked: bool
    reason: str
    frames: int
    fps: int
    chunks: tuple[Chunk, ...] = ()

    def to_status(self) -> dict[str, Any]:
        return {
            "decision": "Chunked" if self.chunked else "Whole",
            "reason": self.reason,
            "frames": self.frames,
            "chunks": [
                {"index": c.index, "startFrame": c.start_frame, "endFrame": c.end_frame} for c in self.chunks
            ],
        }


def needs_plan(spec: Mapping[str, Any]) -> bool:
    """A scene of this request gets a `plan` Job before rendering (only when chunking may apply)."""
    return ChunkingPolicy.from_spec(spec).enabled


def decide(policy: ChunkingPolicy, frames: int, fps: int, units: Sequence[Sequence[int]]) -> ChunkDecision:
    """Chunk or not, from the plan's `frames`, `fps` and run-length `units`."""
    seconds = frames / fps
    if not policy.enabled:
        return ChunkDecision(False, f"chunking is {policy.mode}", frames, fps)
    count = min(policy.max_chunks, int(seconds // policy.min_chunk_seconds))
    if count < 2:
        return ChunkDecision(
            False,
            f"the scene lasts {seconds:.1f}s: less than 2 chunks of "
            f"minChunkSeconds={policy.min_chunk_seconds:g}",
            frames,
            fps,
        )
    edges = layout(decode_units(units), count)
    if edges[-1] != frames:
        raise ValueError(f"the plan's segments add up to {edges[-1]} frames, not {frames}")
    if len(edges) < 3:
        return ChunkDecision(False, "the scene has a single segment: nothing to split", frames, fps)
    chunks = tuple(Chunk(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(edges)))
    reason = f"{seconds:.1f}s in {len(chunks)} chunks (minChunkSeconds={policy.min_chunk_seconds:g})"
    return ChunkDecision(True, reason, frames, fps, chunks)


def layout(units: Sequence[Unit], count: int) -> list[int]:
    """Frame edges `[0, ..., total]` of at most `count` chunks that minimise the costliest chunk.

    Chunks start only at unit starts. Binary search on the largest chunk cost, greedy packing.
    """
    costs = [u.frames * (STATIC_COST if u.static else MOVING_COST) for u in units]
    if not costs:
        return [0]
    low, high = max(costs), sum(costs)
    while low < high:
        mid = (low + high) // 2
        if len(_pack(costs, mid)) <= count:
            high = mid
        else:
            low = mid + 1
    groups = _pack(costs, low)
    edges, frame, unit = [0], 0, 0
    for size in groups:
        frame += sum(u.frames for u in units[unit : unit + size])
        unit += size
        edges.append(frame)
    return edges


def _pack(costs: Sequence[int], limit: int) -> list[int]:
    """Greedy: sizes (in units) of consecutive groups each costing at most `limit`."""
    groups: list[int] = []
    total, size = 0, 0
    for cost in costs:
        if size and total + cost > limit:
            groups.append(size)
            total, size = 0, 0
        total += cost
        size += 1
    if size:
        groups.append(size)
    return groups
