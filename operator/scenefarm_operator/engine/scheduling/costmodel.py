"""Pure: a request's time-to-video predicted from measured costs, and the chunk count that minimises it.

A render farm's question: on the slots this request has, with the work it still has, does
splitting a scene into k chunks end the video sooner than rendering it whole, and for which k?
Every Pod pays a fixed cost (a fresh interpreter, Manim's import, building the scene, verifying
and hashing its output); a chunk also replays every moving frame before its window; a chunked
scene pays a stitch Pod. The work is list-scheduled longest first on the slots (`finish_time`),
as the operator launches it (`estimates.render_order`), and the combine follows.

The costs are the ones docs/benchmarks.md measured ("Chunked rendering": 720p30 scenes of 390
animated dots on an idle 2-core machine, two Pods at a time: a core per Pod); `SCENEFARM_COST_MODEL`
overrides any of them, e.g. `pod=1.5,replay=0.02,medium=0.05` (keys: pod, plan, stitch, combine,
replay, one per quality: the render seconds of one moving frame; cores, pod_cores).

A Pod alone on a node is faster than one core: Manim draws the frames on one while PyAV's encoder
threads run beside (the 16 s scene alone: 26.4 CPU s in 19 s). With `cores` (the CPUs the
request's Pods share, e.g. one node's; the dev cluster sets its machine's) each Pod of a schedule
runs `Costs.speed` times faster: up to `pod_cores` when fewer Pods than cores run at once. Without
it (0, the default) every slot is one core, which is right when the slots fill the nodes.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Mapping, Sequence

from scenefarm_contract.chunks import Unit

# docs/benchmarks.md, issue 26 re-run on an idle 2-core machine, 2 Pods at a time (a core each):
# the 6-scene request (1080 frames of 720p30) took 62.5 Pod-seconds, its Pods' fixed cost is
# ~1.2 s (bench/pod_overhead_bench.py), so a moving frame takes ~0.051 s; plan Pods 2 s, stitch
# Pods 1 s, the combine up to 1 s; replaying a moving frame costs ~20% of rendering it (0.011
# against 0.051 s a frame, the TracedPath scene stepped). A render Pod alone used 1.3-1.4 cores.
POD_SECONDS = 1.2
PLAN_SECONDS = 2.0
STITCH_SECONDS = 1.0
COMBINE_SECONDS = 1.0
REPLAY_FRACTION = 0.2
POD_CORES = 1.4
# Render seconds of one moving frame, by quality: measured at medium, the others scaled by pixels.
FRAME_SECONDS = {"low": 0.023, "medium": 0.051, "high": 0.115, "fourk": 0.46}
STATIC_SHARE = 0.1  # a frozen frame is rasterized once and repeated: a tenth of a moving one
MIN_GAIN_SECONDS = 1.0  # a predicted gain below this (and below 3%) is noise: render whole
MIN_GAIN_SHARE = 0.03


@dataclasses.dataclass(frozen=True)
class Costs:
    pod_seconds: float = POD_SECONDS
    plan_seconds: float = PLAN_SECONDS
    stitch_seconds: float = STITCH_SECONDS
    combine_seconds: float = COMBINE_SECONDS
    replay_fraction: float = REPLAY_FRACTION
    frame_seconds: tuple[tuple[str, float], ...] = tuple(FRAME_SECONDS.items())
    cores: float = 0.0  # CPUs the request's Pods share; 0: unknown, a core per slot
    pod_cores: float = POD_CORES  # the most cores one render Pod keeps busy

    @classmethod
    def parse(cls, text: str) -> Costs:
        """`SCENEFARM_COST_MODEL`: comma-separated `key=seconds` over the defaults; ValueError
        names a key or value it cannot use."""
        fields = {"pod": "pod_seconds", "plan": "plan_seconds", "stitch": "stitch_seconds",
                  "combine": "combine_seconds", "replay": "replay_fraction", "cores": "cores",
                  "pod_cores": "pod_cores"}  # fmt: skip
        values: dict[str, float] = {}
        frames = dict(FRAME_SECONDS)
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, _, raw = part.partition("=")
            key = key.strip()
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{part!r}: not key=seconds") from None
            if value < 0 or (key not in fields and key not in frames):
                raise ValueError(f"{part!r}: keys are {', '.join([*fields, *frames])}, values >= 0")
            if key in fields:
                values[fields[key]] = value
            else:
                frames[key] = value
        return cls(**values, frame_seconds=tuple(frames.items()))

    def speed(self, slots: int, jobs: int) -> float:
        """How many times faster than on one core each Pod runs when `jobs` Pods, at most `slots`
        at a time, share `cores` (1 when `cores` is unknown)."""
        if self.cores <= 0:
            return 1.0
        running = max(1, min(slots, jobs))
        return max(1.0, min(self.pod_cores, self.cores / running))

    def per_frame(self, quality: str) -> float:
        return dict(self.frame_seconds).get(quality, FRAME_SECONDS["medium"])

    def render(self, quality: str, moving: int, static: int = 0, replayed: int = 0) -> float:
        """Seconds of one Pod that renders `moving` and `static` frames after replaying `replayed`
        moving ones."""
        frame = self.per_frame(quality)
        return self.pod_seconds + frame * (moving + STATIC_SHARE * static + self.replay_fraction * replayed)


@dataclasses.dataclass(frozen=True)
class Job:
    seconds: float
    after: tuple[int, ...] = ()  # indexes of the jobs that must end before this one starts
    rank: float | None = None  # started before jobs of a smaller rank (default: its seconds)

    @property
    def priority(self) -> float:
        return self.seconds if self.rank is None else self.rank


@dataclasses.dataclass(frozen=True)
class Load:
    """The request as a chunking decision finds it: its slots, the seconds until each busy slot is
    free, and the expected seconds of each scene not started yet."""

    slots: int
    busy: tuple[float, ...] = ()
    waiting: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class Prediction:
    chunked: bool  # the model's choice: the best count beats whole by MIN_GAIN
    chunks: int  # the best chunk count it found
    edges: tuple[int, ...]  # that count's frame edges
    whole_seconds: float  # time-to-video from now, the scene rendered whole
    chunked_seconds: float  # the same in `chunks` chunks
    slots: int

    def to_status(self) -> dict[str, float | int]:
        """`status.scenes[i].chunking.predicted` (seconds from the decision to the video)."""
        return {
            "wholeSeconds": round(self.whole_seconds, 1),
            "chunkedSeconds": round(self.chunked_seconds, 1),
            "chunks": self.chunks,
            "slots": self.slots,
        }


def finish_time(slots: int, busy: Sequence[float], jobs: Sequence[Job]) -> float:
    """When the last job (and every busy slot) ends: list scheduling, longest ready job first (by
    `rank`) on the first free slot; a job waits for the jobs it comes `after`."""
    heap = [*busy, *[0.0] * max(0, slots - len(busy))] or [0.0]
    heapq.heapify(heap)
    ends: dict[int, float] = {}
    pending = set(range(len(jobs)))
    while pending:
        free = heapq.heappop(heap)
        ready = {j: max((ends[p] for p in jobs[j].after), default=0.0) for j in pending
                 if all(p in ends for p in jobs[j].after)}  # fmt: skip
        if not ready:
            raise ValueError("the jobs wait for each other")
        start = max(free, min(ready.values()))
        chosen = max((j for j, at in ready.items() if at <= start), key=lambda j: (jobs[j].priority, -j))
        ends[chosen] = start + jobs[chosen].seconds
        heapq.heappush(heap, ends[chosen])
        pending.discard(chosen)
    return max([*ends.values(), *busy, 0.0])


def to_video(costs: Costs, slots: int, busy: Sequence[float], jobs: Sequence[Job], pods: int) -> float:
    """Seconds until the video: `jobs` list-scheduled on `slots` beside the `busy` ones, then the
    combine, all at the speed `pods` render Pods sharing the request's cores get."""
    return (finish_time(slots, busy, jobs) + costs.combine_seconds) / costs.speed(slots, pods)


def split(units: Sequence[Unit], edges: Sequence[int]) -> list[tuple[int, int, int]]:
    """(moving, static, replayed moving) frames of each chunk between `edges`."""
    spans: list[tuple[int, int, int]] = []
    for start, end in itertools.pairwise(edges):
        moving = static = replayed = 0
        at = 0
        for unit in units:
            inside = max(0, min(end, at + unit.frames) - max(start, at))
            before = max(0, min(start, at + unit.frames) - at)
            if unit.static:
                static += inside
            else:
                moving += inside
                replayed += before
            at += unit.frames
        spans.append((moving, static, replayed))
    return spans


def predict(
    units: Sequence[Unit],
    layouts: Mapping[int, Sequence[int]],
    quality: str,
    load: Load,
    costs: Costs,
) -> Prediction:
    """The chunk count (among `layouts`: count -> frame edges, at least one) with the shortest
    predicted time-to-video; chunked only when it beats whole by MIN_GAIN."""
    frames = sum(u.frames for u in units)
    others = [Job(seconds) for seconds in load.waiting]
    [(moving, static, _)] = split(units, [0, frames])
    running = len(load.busy) + len(others)
    whole_job = Job(costs.render(quality, moving, static))
    whole = to_video(costs, load.slots, load.busy, [*others, whole_job], running + 1)
    options = []
    for count, edges in sorted(layouts.items()):
        parts = [Job(costs.render(quality, *span)) for span in split(units, edges)]
        first = len(others)
        stitch = Job(costs.stitch_seconds, tuple(range(first, first + len(parts))))
        seconds = to_video(costs, load.slots, load.busy, [*others, *parts, stitch], running + len(parts))
        options.append((seconds, count, tuple(edges)))
    seconds, _, edges = min(options)
    gain = whole - seconds >= max(MIN_GAIN_SECONDS, MIN_GAIN_SHARE * whole)
    return Prediction(gain, len(edges) - 1, edges, whole, seconds, load.slots)
