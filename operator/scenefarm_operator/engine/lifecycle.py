"""Request-level lifecycle rules, pure: deadlines, TTL after finishing, retries, combine inputs."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from scenefarm_contract.clock import parse_time
from scenefarm_contract.phases import SUCCEEDED, TERMINAL

Obj = Mapping[str, Any]


def seconds_left(spec: Obj, started_at: str | None, now: datetime.datetime) -> float | None:
    """Until spec.activeDeadlineSeconds runs out (negative: exceeded); None without a deadline."""
    limit, start = spec.get("activeDeadlineSeconds"), parse_time(started_at)
    if limit is None or start is None:
        return None
    return float(limit) - (now - start).total_seconds()


def seconds_until_deletion(spec: Obj, finished_at: str | None, now: datetime.datetime) -> float | None:
    """Until spec.ttlSecondsAfterFinished deletes the request; None without a TTL."""
    ttl, end = spec.get("ttlSecondsAfterFinished"), parse_time(finished_at)
    if ttl is None or end is None:
        return None
    return float(ttl) - (now - end).total_seconds()


def is_settled(metadata: Obj, status: Obj) -> bool:
    """Finished, and nothing in spec changed since: nothing to do but keep the record."""
    return status.get("phase") in TERMINAL and status.get("observedGeneration") == metadata.get("generation")


def pending_retry(spec: Obj, status: Obj) -> int | None:
    """The spec.retryGeneration asked for and not yet served, if any."""
    wanted = int(spec.get("retryGeneration") or 0)
    return wanted if wanted > int(status.get("retryGeneration") or 0) else None


def combine_sources(scenes: Sequence[Obj]) -> dict[int, str]:
    """Scene index -> where the combine reads it, for scenes reused from the scene cache."""
    return {
        int(s["index"]): str(s["reused"]["source"]) for s in scenes if (s.get("reused") or {}).get("source")
    }


def combine_digests(scenes: Sequence[Obj]) -> dict[int, str]:
    """Scene index -> the sha256 recorded for its file (what the combine checks each input against)."""
    return {int(s["index"]): str(s["sha256"]) for s in scenes if s.get("sha256")}


def _source(scene: Obj) -> str:
    source = (scene.get("reused") or {}).get("source")
    return f":{source}" if source else ""


def combine_inputs(scenes: Sequence[Obj]) -> tuple[list[int], str]:
    """The succeeded scenes to combine, in order, and a digest naming that exact input.

    Only the inputs name it (scene, code revision, attempt): the same inputs are never combined
    twice, and a restarted operator finds the combine Job its predecessor made.
    """
    done = [s for s in scenes if s["phase"] == SUCCEEDED]
    text = ";".join(f"{s['index']}:{s.get('revision', 1)}:{s['attempt']}{_source(s)}" for s in done)
    return [int(s["index"]) for s in done], hashlib.sha256(text.encode()).hexdigest()
