"""What the watches tell about requests and render Pods, kept for metrics, ETA and cost.

Fed by kopf's VideoRequest and Pod events (not by the reconcile loop): the gauges are derived
from the latest status of every request, the counters and histograms from Pods that finish
while this process watches (Pods already finished at startup arrive with event type None and are
not counted again, so a restart never double-counts). In-memory and bounded by the live objects.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from scenefarm_contract import phases
from scenefarm_contract.renderer import QUALITIES, ExitClass, TerminationMessage
from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.observe import eta, metrics

Obj = Mapping[str, Any]
Key = tuple[str, str]  # (namespace, request label)
COUNTED_PODS_KEPT = 20_000


@dataclasses.dataclass
class Tracked:
    key: Key
    phase: str
    since: float  # epoch seconds the request entered `phase`
    queued: int = 0
    unsynced: bool = False


@dataclasses.dataclass(frozen=True)
class Change:
    """What one VideoRequest event changed: a phase transition and newly finished scenes."""

    old_phase: str | None
    new_phase: str
    finished_scenes: tuple[float, ...] = ()  # durations (s) of scenes that succeeded just now
    combine_seconds: float | None = None


class Telemetry:
    def __init__(self) -> None:
        self.requests: dict[str, Tracked] = {}
        # request -> Pod uid -> (kind, renderSeconds, cpuSeconds)
        self.pods: dict[Key, dict[str, tuple[str, float, float]]] = collections.defaultdict(dict)
        self._counted: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._scenes_seen: dict[str, set[tuple[Any, ...]]] = {}
        self._queued_since: dict[str, dict[Any, float]] = {}  # uid -> scene index -> entered Queued

    # ---- the metrics collector's view ---------------------------------------------------

    def phase_counts(self) -> dict[str, int]:
        return dict(collections.Counter(t.phase for t in self.requests.values()))

    def oldest_in_phase(self, now: float) -> dict[str, float]:
        oldest: dict[str, float] = {}
        for tracked in self.requests.values():
            if tracked.phase not in phases.TERMINAL:
                oldest[tracked.phase] = max(oldest.get(tracked.phase, 0.0), now - tracked.since)
        return oldest

    def queued_scenes(self) -> int:
        return sum(t.queued for t in self.requests.values())

    def unsynced(self) -> int:
        return sum(1 for t in self.requests.values() if t.unsynced)

    # ---- VideoRequests ------------------------------------------------------------------

    def observe_request(self, body: Obj, event_type: str | None) -> Change:
        meta, status = body["metadata"], body.get("status") or {}
        uid = str(meta["uid"])
        phase = str(status.get("phase") or phases.PENDING)
        scenes = status.get("scenes") or ()
        before = self.requests.get(uid)
        old = before.phase if before is not None else None
        old_since = before.since if before is not None else None
        now = time.time()
        if before is None:
            since = _entered(meta, status) or now
            tracked = Tracked((meta["namespace"], naming.base_name(meta["name"], 63)), phase, since)
            self.requests[uid] = tracked
        else:
            tracked = before
            if tracked.phase != phase:
                tracked.phase, tracked.since = phase, now
        tracked.queued = sum(1 for s in scenes if s.get("phase") == phases.QUEUED)
        tracked.unsynced = (status.get("appwrite") or {}).get("synced") is False
        if old is not None and old != phase and phase in phases.TERMINAL:
            metrics.REQUESTS_FINISHED.labels(phase.lower()).inc()
        live = event_type is not None and before is not None
        finished = self._newly_finished(uid, status, count=live)
        self._time_queue(uid, scenes, now, live)
        combine = None
        if old is not None and old != phase and phase == phases.SUCCEEDED and old == phases.COMBINING:
            combine = _combine_seconds(status, old_since)
        return Change(old, phase, finished, combine)

    def _newly_finished(self, uid: str, status: Obj, count: bool) -> tuple[float, ...]:
        seen = self._scenes_seen.setdefault(uid, set())
        durations = []
        for scene in status.get("scenes") or ():
            mark = (scene.get("index"), scene.get("attempt"), scene.get("finishedAt"))
            seconds = eta.scene_duration(scene)
            if seconds is None or mark in seen:
                continue
            seen.add(mark)
            if count:
                durations.append(seconds)
        return tuple(durations)

    def _time_queue(self, uid: str, scenes: Any, now: float, live: bool) -> None:
        """Observe how long each scene sat in Queued, when it leaves (seen live from entry to exit)."""
        since = self._queued_since.setdefault(uid, {})
        queued = {s.get("index") for s in scenes if s.get("phase") == phases.QUEUED}
        for index in list(since):
            if index not in queued:
                metrics.SCENE_QUEUE_SECONDS.observe(now - since.pop(index))
        for index in queued:
            if index not in since and live:
                since[index] = now

    def forget_request(self, uid: str) -> None:
        tracked = self.requests.pop(uid, None)
        self._scenes_seen.pop(uid, None)
        self._queued_since.pop(uid, None)
        if tracked is not None:
            self.pods.pop(tracked.key, None)

    # ---- render Pods --------------------------------------------------------------------

    def observe_pod(self, body: Obj, event_type: str | None) -> Key | None:
        """Record a finished render Pod; the request's key when this Pod just finished."""
        meta = body["metadata"]
        labels = meta.get("labels") or {}
        key = (meta["namespace"], labels.get(naming.REQUEST_LABEL, ""))
        uid = str(meta.get("uid") or meta["name"])
        if event_type == "DELETED":
            return None  # its render seconds stay in the request's published cost
        terminated = _terminated(body)
        if terminated is None:
            return None
        message = TerminationMessage.from_json(terminated.get("message")) or TerminationMessage(
            exitClass=int(terminated.get("exitCode") or 0)
        )
        kind = labels.get(naming.ROLE_LABEL, "scene")
        seconds = float(message.renderSeconds or 0.0)
        cpu = float(message.cpuSeconds or 0.0)
        known = uid in self.pods[key]
        self.pods[key][uid] = (kind, seconds, cpu)
        if known or uid in self._counted:
            return None
        self._counted[uid] = None
        if len(self._counted) > COUNTED_PODS_KEPT:
            self._counted.popitem(last=False)
        if event_type is None:  # listed at startup: finished before this process watched
            return key
        triage = triage_of(terminated, message)
        metrics.RENDER_SECONDS_TOTAL.labels("combine" if kind == "combine" else "scene").inc(seconds)
        metrics.RENDER_CPU_SECONDS.labels("combine" if kind == "combine" else "scene").inc(cpu)
        if kind != "combine":
            metrics.SCENE_ATTEMPTS.labels(triage).inc()
            quality = metrics.quality_label(_argument(body, "--quality"), QUALITIES)
            if message.renderSeconds is not None:
                metrics.SCENE_RENDER_SECONDS.labels(quality, triage).observe(seconds)
        wait = _queue_wait(body)
        if wait is not None:
            metrics.QUEUE_WAIT_SECONDS.observe(wait)
        return key

    def render_seconds(self, key: Key) -> tuple[float, float]:
        """(renderSeconds, cpuSeconds) summed over the request's finished Pods that exist now."""
        pods = self.pods.get(key, {}).values()
        return sum(p[1] for p in pods), sum(p[2] for p in pods)


def triage_of(terminated: Obj, message: TerminationMessage) -> str:
    if terminated.get("reason") == "OOMKilled" or terminated.get("exitCode") == ExitClass.OOM_KILLED:
        return "oom"
    exit_class = message.exitClass if message.exitClass is not None else terminated.get("exitCode")
    return {0: "ok", 10: "fix", 11: "fix", 20: "environment", 30: "transient"}.get(
        int(exit_class or 0), "other"
    )


def _terminated(pod: Obj) -> Obj | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated")
        if terminated:
            return dict(terminated)
    return None


def _argument(pod: Obj, name: str) -> str | None:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    argv = [str(a) for a in [*(containers[0].get("command") or []), *(containers[0].get("args") or [])]]
    for i, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[i + 1]
    return None


def _queue_wait(pod: Obj) -> float | None:
    created = eta.parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        state = status.get("state") or {}
        started = eta.parse_time((state.get("terminated") or state.get("running") or {}).get("startedAt"))
        if created is not None and started is not None and started >= created:
            return started - created
    return None


def _entered(meta: Obj, status: Obj) -> float | None:
    """When a request first seen (after a restart) entered its phase: the newest condition change."""
    times = [eta.parse_time(c.get("lastTransitionTime")) for c in status.get("conditions") or ()]
    known = [t for t in times if t is not None]
    return max(known) if known else eta.parse_time(meta.get("creationTimestamp"))


def _combine_seconds(status: Obj, combining_since: float | None) -> float | None:
    end = eta.parse_time(status.get("finishedAt"))
    # finishedAt has whole seconds (the API's format): a combine shorter than a second may
    # "finish" up to a second before it was seen starting.
    if end is None or combining_since is None or end < combining_since - 1.0:
        return None
    return max(end - combining_since, 0.0)
