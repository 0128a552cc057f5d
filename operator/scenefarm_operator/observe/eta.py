"""Estimated completion time: running statistics of scene durations and a pure estimate.

Statistics are kept per quality ("low", "medium", ...) plus "combine": an exponentially weighted
mean and variance of recent durations (Job start -> Job completion, as status.scenes[] records
them), so the estimate follows the cluster as it gets busier or idler. They live in a small
ConfigMap per namespace (`scenefarm-eta`), so a restarted operator keeps what it learned, and
they need no permission beyond the ConfigMap access the operator already has.

The estimate simulates the rest of the request: `parallelism` slots; each running scene frees its
slot after the expected duration less its elapsed time; scenes not started yet take the
expected duration each, in order, on the first free slot; then the combine.
"""

from __future__ import annotations

import dataclasses
import datetime
import heapq
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract import clock, phases

CONFIGMAP = "scenefarm-eta"
ALPHA = 0.2  # weight of the newest duration: about the last ten scenes matter
PRIOR_SECONDS = {"low": 20.0, "medium": 45.0, "high": 120.0, "fourk": 400.0, "combine": 5.0}
MIN_REMAINING = 1.0  # a running scene past its expected duration still needs a moment
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclasses.dataclass(frozen=True)
class Stat:
    """Exponentially weighted mean and variance of durations (seconds), and how many were seen."""

    count: int = 0
    mean: float = 0.0
    var: float = 0.0

    def add(self, seconds: float) -> Stat:
        if self.count == 0:
            return Stat(1, seconds, 0.0)
        delta = seconds - self.mean
        mean = self.mean + ALPHA * delta
        var = (1 - ALPHA) * (self.var + ALPHA * delta * delta)
        return Stat(self.count + 1, mean, var)

    def to_json(self) -> str:
        return json.dumps({"count": self.count, "mean": round(self.mean, 3), "var": round(self.var, 3)})

    @classmethod
    def from_json(cls, text: str) -> Stat:
        try:
            raw = json.loads(text)
            return cls(int(raw["count"]), float(raw["mean"]), float(raw["var"]))
        except (KeyError, TypeError, ValueError):
            return cls()


def expected(stats: Mapping[str, Stat], key: str) -> float:
    stat = stats.get(key)
    if stat is None or stat.count == 0:
        return PRIOR_SECONDS.get(key, PRIOR_SECONDS["medium"])
    return stat.mean


def parse_time(text: str | None) -> float | None:
    """A timestamp as epoch seconds (scenefarm_contract.clock.parse_time); None when it is not one."""
    moment = clock.parse_time(text)
    return moment.timestamp() if moment is not None else None


def format_time(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime(TIME_FORMAT)


def scene_duration(scene: Mapping[str, Any]) -> float | None:
    """Seconds a succeeded scene took (its Job's start -> completion), if both are recorded."""
    if scene.get("phase") != phases.SUCCEEDED:
        return None
    start, end = parse_time(scene.get("startedAt")), parse_time(scene.get("finishedAt"))
    if start is None or end is None or end < start:
        return None
    return end - start


def estimate(
    spec: Mapping[str, Any], status: Mapping[str, Any], stats: Mapping[str, Stat], now: float, quality: str
) -> float | None:
    """Epoch seconds at which the request should be done; None when it is not in progress."""
    phase = status.get("phase") or phases.PENDING
    if phase not in phases.IN_PROGRESS:
        return None
    per_scene = expected(stats, quality)
    combine = expected(stats, "combine")
    scenes: Sequence[Mapping[str, Any]] = status.get("scenes") or ()
    if phase == phases.COMBINING:
        return now + combine
    if not scenes:  # not planned yet: a guess from the spec's scenes or the planner's limit
        count = len(spec.get("scenes") or ()) or int((spec.get("planner") or {}).get("maxScenes") or 6)
        scenes = [{"phase": phases.PENDING}] * count
    parallelism = max(1, int((spec.get("render") or {}).get("parallelism") or 4))
    return now + remaining_seconds(scenes, per_scene, parallelism, now) + combine


def remaining_seconds(
    scenes: Sequence[Mapping[str, Any]], per_scene: float, parallelism: int, now: float
) -> float:
    """Seconds until the last unfinished scene is done, simulating `parallelism` slots."""
    slots: list[float] = []  # when each busy slot frees up, seconds from now
    waiting = 0
    for scene in scenes:
        if scene.get("phase") in phases.SCENE_TERMINAL:
            continue
        started = parse_time(scene.get("startedAt"))
        if scene.get("phase") == phases.RUNNING and started is not None:
            slots.append(max(MIN_REMAINING, per_scene - (now - started)))
        else:
            waiting += 1
    if not slots and not waiting:
        return 0.0
    free = [0.0] * max(0, parallelism - len(slots))
    # More running than slots (parallelism lowered): a waiting scene starts when enough end.
    heap = sorted(slots)[-parallelism:] + free if slots else free
    heapq.heapify(heap)
    end = max(slots) if slots else 0.0
    for _ in range(waiting):
        at = heapq.heappop(heap) + per_scene
        end = max(end, at)
        heapq.heappush(heap, at)
    return end


def changed_enough(old: str | None, new: str, now: float) -> bool:
    """Publish a new estimate only when it moved by over 10 s and 10% of the time left.

    A request that waits has an estimate that slides with the clock: without this, every event
    of it would write its status again (and wake its reconcile loop).
    """
    before = parse_time(old)
    after = parse_time(new)
    if before is None or after is None:
        return old != new
    return abs(after - before) > max(10.0, 0.1 * max(0.0, after - now))


def stats_from_data(data: Mapping[str, str]) -> dict[str, Stat]:
    return {key: Stat.from_json(value) for key, value in data.items()}


def stats_to_data(stats: Mapping[str, Stat]) -> dict[str, str]:
    return {key: stat.to_json() for key, stat in sorted(stats.items()) if not math.isnan(stat.mean)}
