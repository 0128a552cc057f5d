"""Timestamps of built-in kinds as the real server stores them (apimachinery meta/v1 time.go).

A built-in object is decoded into Go structs and encoded again, so a `metav1.Time` comes back as
RFC 3339 in UTC with whole seconds (`2026-12-07T05:14:41Z`: `+02:00` becomes UTC, fractions are
dropped) and a `metav1.MicroTime` with six fractional digits (`...41.123456Z`). A write that
changes nothing but a timestamp's spelling therefore changes nothing at all. Custom resources are
stored as sent (they are unstructured), except their metadata, which is metav1.ObjectMeta.
"""

from __future__ import annotations

import datetime
from typing import Any

# MicroTime fields of the built-in kinds (Event.eventTime, series.lastObservedTime, Lease times).
MICRO_TIME_KEYS = frozenset({"eventTime", "lastObservedTime", "acquireTime", "renewTime"})
# metav1.Time fields of the built-in kinds (conditions, Job/Pod/container status, Events, ...).
TIME_KEYS = frozenset({
    "creationTimestamp", "deletionTimestamp", "time", "lastTransitionTime", "lastProbeTime",
    "lastUpdateTime", "lastHeartbeatTime", "startTime", "completionTime", "startedAt", "finishedAt",
    "firstTimestamp", "lastTimestamp", "lastScheduleTime", "lastSuccessfulTime", "expirationTimestamp",
    "lastScaleTime", "disruptedPods",
})  # fmt: skip
_META_TIME_KEYS = frozenset({"creationTimestamp", "deletionTimestamp"})


def parse_time(value: Any) -> datetime.datetime | None:
    """RFC 3339 as Go's time.Parse reads it (any offset, fractions); None when it is not one."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None  # RFC 3339 always names the offset


def _spell(value: Any, micro: bool) -> Any:
    moment = parse_time(value)
    if moment is None:
        return value  # not a timestamp: validation answers for it
    moment = moment.astimezone(datetime.UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _walk(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "disruptedPods":  # PodDisruptionBudget: pod name -> metav1.Time
            return {k: _spell(v, micro=False) for k, v in value.items()}
        return {k: _walk(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if key in MICRO_TIME_KEYS:
        return _spell(value, micro=True)
    if key in TIME_KEYS:
        return _spell(value, micro=False)
    return value


def normalise(obj: dict[str, Any], *, builtin: bool) -> dict[str, Any]:
    """`obj` with its timestamps spelled as the real server encodes them."""
    if builtin:
        return dict(_walk(obj))
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    fixed = {k: _spell(v, micro=False) if k in _META_TIME_KEYS else v for k, v in meta.items()}
    if isinstance(meta.get("managedFields"), list):
        fixed["managedFields"] = [
            {k: _spell(v, micro=False) if k == "time" else v for k, v in entry.items()}
            if isinstance(entry, dict)
            else entry
            for entry in meta["managedFields"]
        ]
    return {**obj, "metadata": fixed}
