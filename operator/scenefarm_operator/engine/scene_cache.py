"""Pure: the scene cache — a rendered scene reused by any request of the same namespace.

A scene's key is `scenefarm_contract.chunks.cache_key(code, className, quality, renderer and
Manim versions)`. The renderer reports the key of the code it actually rendered in its
termination message, and the operator records it with the verified artifact in
`status.scenes[i].cacheKey`. The cache index is therefore the VideoRequests of the namespace
themselves: `lookup` scans their status for a succeeded scene with the same key, in the same
store, with a verified artifact (sha256 recorded). No Job runs for a hit; the combine reads
the artifact from the other request's prefix (`source_key`).

Bounds: an entry lives as long as the request that rendered it and its files in the store
(the PVC, or the Appwrite bucket's retention); deleting that request removes the entry. A
hit that the store no longer holds fails the combine with a transient error (class 30); the
caller then renders the scene itself. `spec.render.cache: false` opts a request out of both
reading and offering entries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from scenefarm_contract import phases
from scenefarm_contract.chunks import cache_key, source_key
from scenefarm_contract.renderer import artifact_prefix, scene_key
from scenefarm_operator.engine.observed import Observed
from scenefarm_operator.engine.plan_store import StoredPlan

Body = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class CacheHit:
    """Where a reusable scene is: enough for the combine input and for the status."""

    request: str  # "<namespace>/<name>" of the request that rendered it
    scene: int
    source: str  # combine input: "<prefix>/scene-NN.mp4"
    artifact: str
    sha256: str
    key: str = ""  # the cache key it was found under

    def scene_entry(self, revision: int) -> dict[str, Any]:
        """`status.scenes[i]` of a scene served from the cache (no Job ran for it)."""
        return {
            "revision": revision,
            "phase": phases.SUCCEEDED,
            "artifact": self.artifact,
            "sha256": self.sha256,
            "cacheKey": self.key,
            "reused": self.to_status(),
            "message": f"reused from {self.request} scene #{self.scene} (scene cache): no Job ran",
        }

    def to_status(self) -> dict[str, Any]:
        """`status.scenes[i].reused`: that it was reused, and from where."""
        return {
            "request": self.request,
            "scene": self.scene,
            "source": self.source,
            "artifact": self.artifact,
        }


def cache_enabled(spec: Mapping[str, Any]) -> bool:
    """`spec.render.cache` (default true)."""
    return bool((spec.get("render") or {}).get("cache", True))


def key_for(code: str, class_name: str, quality: str) -> str:
    """The key this operator's renderer will report for the scene."""
    return cache_key(code, class_name, quality)


def wanted(plan: StoredPlan, observed: Observed, code: Mapping[str, str], quality: str) -> dict[int, str]:
    """Scene index -> cache key, for the scenes that never ran (the only ones a hit can spare)."""
    return {
        s.index: key_for(code[s.key], s.class_name, quality)
        for s in plan.scenes
        if s.key in code and observed.never_ran(s.index, s.revision)
    }


def hits(
    keys: Mapping[int, str],
    requests: Iterable[Body],
    *,
    namespace: str,
    store: str,
    default_store: str,
    owner: str | None = None,
) -> dict[int, CacheHit]:
    """Scene index -> the verified scene to reuse, for the keys found among `requests`; an entry
    any request of the namespace evicted (its file no longer had its sha256) is never a hit."""
    requests = list(requests)
    evicted = {
        (str(e.get("source")), str(e.get("sha256")))
        for r in requests
        for e in (r.get("status") or {}).get("evictions") or ()
    }
    found = {
        index: lookup(
            key, requests, namespace=namespace, store=store, default_store=default_store, owner=owner
        )
        for index, key in keys.items()
    }
    return {
        index: hit
        for index, hit in found.items()
        if hit is not None and (hit.source, hit.sha256) not in evicted
    }


def offer(body: Body) -> dict[str, Any] | None:
    """What the cache index keeps of a VideoRequest (a kopf index fed by the watch, so lookups
    cost no API call): its identity, the spec fields `lookup` filters on and its verified
    scenes; None when it offers nothing."""
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    scenes = [s for s in status.get("scenes") or () if s.get("cacheKey") and s.get("sha256")]
    evictions = [dict(e) for e in status.get("evictions") or ()]
    if not evictions and (not scenes or not cache_enabled(spec)):
        return None
    meta = body.get("metadata") or {}
    kept = ("name", "namespace", "uid", "creationTimestamp")
    return {
        "metadata": {k: meta.get(k) for k in kept},
        "spec": {k: spec[k] for k in ("render", "output", "owner") if k in spec},
        "status": {
            "scenes": [dict(s) for s in scenes] if cache_enabled(spec) else [],
            "evictions": evictions,
        },
    }


def owner_of(spec: Mapping[str, Any]) -> str | None:
    """The web user a request belongs to (`spec.owner.appwriteUserId`); None for kubectl users."""
    owner = (spec.get("owner") or {}).get("appwriteUserId")
    return str(owner) if owner else None


def lookup(
    key: str,
    requests: Iterable[Body],
    *,
    namespace: str,
    store: str,
    default_store: str,
    owner: str | None = None,
) -> CacheHit | None:
    """The oldest verified scene with `key` among `requests` (VideoRequest bodies), or None.

    Only requests in `namespace` that use `store`, allow the cache and have the same `owner`
    are considered (a web user is served only from their own requests: their files are
    readable by them alone); a scene that was itself reused points at its origin, which is
    what is returned.
    """
    candidates = []
    for body in requests:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        if meta.get("namespace") != namespace or not cache_enabled(spec) or owner_of(spec) != owner:
            continue
        if ((spec.get("output") or {}).get("store") or default_store) != store:
            continue
        for entry in (body.get("status") or {}).get("scenes") or []:
            hit = _hit(entry, key, meta)
            if hit is not None:
                candidates.append((str(meta.get("creationTimestamp", "")), hit.request, hit.scene, hit))
    return min(candidates, key=lambda c: c[:3])[3] if candidates else None


def _hit(entry: Mapping[str, Any], key: str, meta: Mapping[str, Any]) -> CacheHit | None:
    if entry.get("cacheKey") != key or entry.get("phase") != phases.SUCCEEDED:
        return None
    if not entry.get("artifact") or not entry.get("sha256"):
        return None  # not verified: never serve it
    reused = entry.get("reused")
    if isinstance(reused, Mapping) and reused.get("source"):
        return CacheHit(
            str(reused["request"]),
            int(reused["scene"]),
            str(reused["source"]),
            str(entry["artifact"]),
            str(entry["sha256"]),
            key,
        )
    index = int(entry.get("index", 0))
    prefix = artifact_prefix(str(meta["namespace"]), str(meta["name"]), str(meta["uid"]))
    return CacheHit(
        f"{meta['namespace']}/{meta['name']}",
        index,
        source_key(prefix, scene_key(index)),
        str(entry["artifact"]),
        str(entry["sha256"]),
        key,
    )


def cleanup_targets(body: Body, offers: Iterable[Body]) -> tuple[list[str], list[str]]:
    """What a deleted request's clean-up removes besides its own files, and what it keeps:
    `(keep, also)`. Kept: its files another live request of the namespace reuses (their combine
    reads them). Also removed: the files it reused from requests that are gone, when no live
    request reuses them any more."""
    meta = body["metadata"]
    prefix = artifact_prefix(meta["namespace"], meta["name"], str(meta["uid"]))
    others = [o for o in offers if (o.get("metadata") or {}).get("uid") != meta["uid"]]
    reused_by_others = {source for o in others for source in _reused_sources(o)}
    keep = sorted(s[len(prefix) + 1 :] for s in reused_by_others if s.startswith(prefix + "/"))
    live = {
        artifact_prefix(o["metadata"]["namespace"], o["metadata"]["name"], str(o["metadata"]["uid"]))
        for o in others
    }
    also = sorted(
        s for s in _reused_sources(body) if s.rsplit("/", 1)[0] not in live and s not in reused_by_others
    )
    return keep, also


def _reused_sources(body: Body) -> set[str]:
    scenes = (body.get("status") or {}).get("scenes") or ()
    return {str(s["reused"]["source"]) for s in scenes if (s.get("reused") or {}).get("source")}
