"""Pure: whether a scene is rendered in chunks, and where the chunks start and end.

Input is the scene's plan (the renderer's `plan` command: frames and the segments a chunk may
start at, see `scenefarm_contract.chunks`) and `spec.render.chunking`:

    chunking: {mode: Off|Auto, minChunkSeconds: 10, maxChunks: 4}

`Auto` considers k = 2 .. min(maxChunks, floor(seconds / minChunkSeconds)) chunks and asks the
cost model (`scheduling.costmodel`) which ends the video soonest on the request's slots, with
the work it still has; the scene is chunked only when that beats rendering it whole, and the
decision records both predictions. Otherwise it renders whole, and the decision says why. A
scene that is one long animation is split by time: the renderer cuts every play on a 2-second
segment grid, so a chunk can start inside a long animation or wait and the stitched scene is
still frame-identical. Chunks are balanced by estimated cost, not frames: a frozen frame (a
wait with nothing moving) is rasterized once and repeated, so it counts `STATIC_COST` of a
moving frame, and a chunk also pays for replaying every moving frame before it (`REPLAY_COST`,
or the cost model's replay share), so later chunks get fewer frames.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.chunks import Unit, decode_units, encode_units, segment_frames
from scenefarm_operator.engine.scheduling.costmodel import Costs, Load, predict

MOVING_COST = 10  # integer costs per frame
STATIC_COST = 1
# Replaying a moving frame before a chunk (interpolation and updaters, no pixels) costs about
# 15% of rendering it (bench/chunk_bench.py measured 16-18%); a frozen frame replays for free.
REPLAY_COST = 1.5
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
    predicted: Mapping[str, Any] | None = None  # the cost model's seconds, whole and chunked

    @property
    def edges(self) -> list[int]:
        """Frame edges `[start of chunk 0, end of chunk 0, ..., end of the last chunk]`."""
        return [self.chunks[0].start_frame, *(c.end_frame for c in self.chunks)] if self.chunks else []

    def to_status(self) -> dict[str, Any]:
        status = {
            "decision": "Chunked" if self.chunked else "Whole",
            "reason": self.reason,
            "frames": self.frames,
            "chunks": [
                {"index": c.index, "startFrame": c.start_frame, "endFrame": c.end_frame} for c in self.chunks
            ],
        }
        return status | ({"predicted": dict(self.predicted)} if self.predicted else {})


def needs_plan(spec: Mapping[str, Any], code: str | None = None) -> bool:
    """Whether a scene gets a `plan` Job before it renders: chunking is on, the request has more
    than one slot, and the scene may be long enough. With its `code`, a scene whose plays and
    waits all have literal durations and add up to less than two chunks is known short without
    a Pod (`static_seconds`)."""
    policy = ChunkingPolicy.from_spec(spec)
    return policy.enabled and whole_without_plan(spec, policy, code) is None


def whole_without_plan(
    spec: Mapping[str, Any], policy: ChunkingPolicy, code: str | None
) -> ChunkDecision | None:
    """`Whole`, with the reason, when no plan can make chunks pay: one slot (chunks would run one
    after another, each paying a Pod and a replay), or a source that shows the scene short."""
    slots = int((spec.get("render") or {}).get("parallelism", 4) or 1)
    if slots <= 1:
        reason = "render.parallelism is 1: chunks would run one after another, each paying a Pod and a replay"
        return ChunkDecision(False, reason, 0, 0)
    return short_by_source(policy, code)


def short_by_source(policy: ChunkingPolicy, code: str | None) -> ChunkDecision | None:
    """`Whole`, with the reason, when the scene's source alone shows it is too short to split;
    None when only a plan can tell (or the code is not at hand)."""
    seconds = static_seconds(code) if code is not None else None
    if seconds is None or seconds >= 2 * policy.min_chunk_seconds:
        return None
    reason = (
        f"the code plays {seconds:g}s: less than 2 chunks of minChunkSeconds={policy.min_chunk_seconds:g}"
    )
    return ChunkDecision(False, reason, 0, 0)


def by_estimate(
    policy: ChunkingPolicy, code: str | None, fps: int, *, quality: str, load: Load, costs: Costs
) -> ChunkDecision | None:
    """`Whole`, with the model's prediction, when the code's literal durations already show that
    no chunk count would end the video sooner on this `load`, even if every frame moved (the
    costliest case for a whole render): the plan Pod is spared. None when only a plan can tell."""
    seconds = static_seconds(code) if code is not None else None
    if seconds is None or not fps:
        return None
    frames = round(seconds * fps)
    grid = segment_frames(fps)
    units = [Unit(min(grid, frames - start)) for start in range(0, frames, grid)]
    decision = decide(policy, frames, fps, encode_units(units), quality=quality, load=load, costs=costs)
    if decision.chunked or decision.predicted is None:
        return None
    reason = f"from the code's durations: {decision.reason}"
    return ChunkDecision(False, reason, 0, fps, predicted=decision.predicted)


def static_seconds(code: str) -> float | None:
    """Seconds of a scene read from its source, or None when the source cannot tell.

    Counts `self.play(...)` (its literal `run_time=`, else 1 s) and `self.wait(...)`/`pause`
    (their literal duration, else 1 s). None for anything the text cannot bound: a play or
    wait inside a loop, a comprehension or a helper method (called who knows how often), a
    non-literal duration, a syntax error.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    total = 0.0
    repeated: set[int] = set()
    for node in ast.walk(tree):
        loop = isinstance(node, ast.For | ast.While | ast.AsyncFor | ast.Lambda)
        comprehension = isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp)
        helper = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name != "construct"
        if loop or comprehension or helper:  # may run any number of times
            repeated.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        seconds = _call_seconds(node)
        if seconds == 0.0:
            continue
        if seconds is None or id(node) in repeated:
            return None
        total += seconds
    return total


def _call_seconds(node: ast.AST) -> float | None:
    """A `self.play/wait/pause` call's seconds; 0.0 for any other node; None when not literal."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return 0.0
    if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
        return 0.0
    name = node.func.attr
    if name == "play":
        value = next((k.value for k in node.keywords if k.arg == "run_time"), None)
    elif name in ("wait", "pause"):
        value = (
            node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "duration"), None)
        )
    else:
        return 0.0
    if value is None:
        return 1.0
    if isinstance(value, ast.Constant) and isinstance(value.value, int | float):
        return float(value.value)
    return None


def decide(
    policy: ChunkingPolicy,
    frames: int,
    fps: int,
    units: Sequence[Sequence[int]],
    *,
    quality: str = "medium",
    load: Load | None = None,
    costs: Costs | None = None,
) -> ChunkDecision:
    """Chunk or not, from the plan's `frames`, `fps` and run-length `units`, and the request's
    `load` (its slots and remaining work; default: a free slot for every chunk, nothing else)."""
    seconds = frames / fps
    if not policy.enabled:
        return ChunkDecision(False, f"chunking is {policy.mode}", frames, fps)
    most = min(policy.max_chunks, int(seconds // policy.min_chunk_seconds))
    if most < 2:
        return ChunkDecision(
            False,
            f"the scene lasts {seconds:.1f}s: less than 2 chunks of "
            f"minChunkSeconds={policy.min_chunk_seconds:g}",
            frames,
            fps,
        )
    decoded = decode_units(units)
    if sum(u.frames for u in decoded) != frames:
        raise ValueError(
            f"the plan's segments add up to {sum(u.frames for u in decoded)} frames, not {frames}"
        )
    costs = costs or Costs()
    replay = costs.replay_fraction * MOVING_COST
    layouts = {len(e) - 1: e for e in (layout(decoded, k, replay) for k in range(2, most + 1)) if len(e) >= 3}
    if not layouts:
        return ChunkDecision(False, "the scene has a single segment: nothing to split", frames, fps)
    p = predict(decoded, layouts, quality, load or Load(slots=most), costs)
    on = f"{p.slots} slot{'s' if p.slots != 1 else ''}"
    if not p.chunked:
        reason = (
            f"the scene lasts {seconds:.1f}s: on {on} the model predicts the video in {p.whole_seconds:.0f}s"
            f" whole, {p.chunked_seconds:.0f}s at best in {p.chunks} chunks"
        )
        return ChunkDecision(False, reason, frames, fps, predicted=p.to_status())
    chunks = tuple(Chunk(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(p.edges)))
    reason = (
        f"{seconds:.1f}s in {len(chunks)} chunks: on {on} the model predicts the video in"
        f" {p.chunked_seconds:.0f}s, {p.whole_seconds:.0f}s whole"
    )
    return ChunkDecision(True, reason, frames, fps, chunks, predicted=p.to_status())


def layout(units: Sequence[Unit], count: int, replay: float = REPLAY_COST) -> list[int]:
    """Frame edges `[0, ..., total]` of at most `count` chunks that minimise the costliest chunk.

    A chunk costs its frames plus the replay of the moving frames before it (`replay` per
    frame, against MOVING_COST for rendering one). Chunks start only at unit starts. Binary
    search on the largest chunk cost, greedy packing (a chunk's cost only grows with its start,
    so the greedy packing is optimal for a given limit).
    """
    costs = [u.frames * (STATIC_COST if u.static else MOVING_COST) for u in units]
    replays = [0.0 if u.static else u.frames * replay for u in units]
    if not costs:
        return [0]
    low, high = max(costs), int(sum(costs) + sum(replays)) + 1
    while low < high:
        mid = (low + high) // 2
        if len(_pack(costs, replays, mid)) <= count:
            high = mid
        else:
            low = mid + 1
    groups = _pack(costs, replays, low)
    edges, frame, unit = [0], 0, 0
    for size in groups:
        frame += sum(u.frames for u in units[unit : unit + size])
        unit += size
        edges.append(frame)
    return edges


def _pack(costs: Sequence[int], replays: Sequence[float], limit: int) -> list[int]:
    """Greedy: sizes (in units) of consecutive groups each costing at most `limit`,
    a group's cost starting at the replay of everything before it."""
    groups: list[int] = []
    replayed, total, size = 0.0, 0.0, 0
    for cost, replay in zip(costs, replays, strict=True):
        if size and total + cost > limit:
            groups.append(size)
            total, size = replayed, 0
        total += cost
        replayed += replay
        size += 1
    if size:
        groups.append(size)
    return groups
