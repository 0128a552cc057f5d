"""Which CloudEvents a VideoRequest's status calls for, built as CloudEvents 1.0 structured JSON.

Pure. An event's id is a digest of what it reports (the request's uid, the event type, when it
finished, and for scenes the index and attempt), so every delivery of the same fact carries the
same id and a receiver de-duplicates on it; a retried request that finishes again is a new fact.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from scenefarm_contract import phases
from scenefarm_operator.engine.manifests import naming

Obj = Mapping[str, Any]
TYPE_PREFIX = "dev.scenefarm.videorequest"
REQUEST_EVENTS = {phases.SUCCEEDED: "succeeded", phases.FAILED: "failed", phases.CANCELLED: "cancelled"}
SCENE_EVENTS = {phases.SUCCEEDED: "succeeded", phases.FAILED: "failed"}


@dataclasses.dataclass(frozen=True)
class CloudEvent:
    id: str
    type: str
    source: str
    subject: str
    time: str
    data: dict[str, Any]

    def body(self) -> bytes:
        envelope = {
            "specversion": "1.0",
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": "application/json",
            "data": self.data,
        }
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def event_id(*parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:32]


def source_of(meta: Obj) -> str:
    return (
        f"/apis/{naming.GROUP}/{naming.VERSION}/namespaces/{meta['namespace']}/{naming.PLURAL}/{meta['name']}"
    )


def due(body: Obj) -> list[CloudEvent]:
    """The events the current status calls for (delivered or not: the ledger tells)."""
    meta, spec = body["metadata"], body.get("spec") or {}
    status = body.get("status") or {}
    notify = spec.get("notify") or {}
    if not notify:
        return []
    events: list[CloudEvent] = []
    if notify.get("sceneEvents"):
        events += [_scene_event(meta, status, s) for s in status.get("scenes") or () if _scene_done(s)]
    phase = status.get("phase")
    if phase in REQUEST_EVENTS and status.get("finishedAt"):
        events.append(_request_event(meta, status, REQUEST_EVENTS[phase]))
    return events


def _scene_done(scene: Obj) -> bool:
    return scene.get("phase") in SCENE_EVENTS and bool(scene.get("finishedAt"))


def _request_event(meta: Obj, status: Obj, what: str) -> CloudEvent:
    kind = f"{TYPE_PREFIX}.{what}"
    data: dict[str, Any] = {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "phase": status.get("phase"),
        "message": status.get("message", ""),
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "scenesTotal": status.get("scenesTotal", 0),
        "scenesSucceeded": status.get("scenesSucceeded", 0),
        "scenesFailed": status.get("scenesFailed", 0),
    }
    for key in ("output", "cost"):
        if status.get(key):
            data[key] = status[key]
    return CloudEvent(
        id=event_id(meta["uid"], kind, status["finishedAt"]),
        type=kind,
        source=source_of(meta),
        subject=meta["name"],
        time=status["finishedAt"],
        data=data,
    )


def _scene_event(meta: Obj, status: Obj, scene: Obj) -> CloudEvent:
    kind = f"{TYPE_PREFIX}.scene.{SCENE_EVENTS[scene['phase']]}"
    data = {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "scene": {
            k: scene[k] for k in ("index", "name", "phase", "attempt", "message", "artifact") if k in scene
        },
        "scenesTotal": status.get("scenesTotal", 0),
    }
    return CloudEvent(
        id=event_id(meta["uid"], kind, scene.get("index"), scene.get("attempt"), scene["finishedAt"]),
        type=kind,
        source=source_of(meta),
        subject=f"{meta['name']}/scenes/{scene.get('index')}",
        time=scene["finishedAt"],
        data=data,
    )
