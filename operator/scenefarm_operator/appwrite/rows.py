"""VideoRequest body -> the rows that mirror it. Pure: no I/O, same body -> same rows.

Row ids are derived from the Kubernetes uid, so they are stable across operator restarts and
never collide between objects of the same name: `v-<uid hex[:32]>` for the video and
`s-<uid hex[:24]>-<NN>` for scene NN (Appwrite ids: at most 36 of [a-zA-Z0-9._-]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from appwrite.permission import Permission
from appwrite.role import Role

from .layout import SCENES, VIDEOS, TableSpec

# Suspended waits like a queued request; the enum has no separate value for it.
VIDEO_STATUS = {
    "Pending": "queued",
    "Suspended": "queued",
    "Planning": "planning",
    "Rendering": "rendering",
    "Combining": "combining",
    "Succeeded": "completed",
    "Failed": "failed",
    "Cancelled": "cancelled",
}
# Healing means new code is being written for the scene: back to `coded` once it is.
SCENE_STATUS = {
    "Pending": "planned",
    "Queued": "coded",
    "Healing": "coded",
    "Retrying": "coded",
    "Running": "rendering",
    "Succeeded": "rendered",
    "Failed": "failed",
}
TERMINAL_PHASES = ("Succeeded", "Failed", "Cancelled")


@dataclasses.dataclass(frozen=True)
class DesiredRow:
    """One row as the mirror wants it: where it goes, what it holds, who may read it."""

    table: str
    row_id: str
    data: Mapping[str, Any]
    permissions: tuple[str, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.table, self.row_id)


def uid_hex(uid: str) -> str:
    hex_only = "".join(ch for ch in uid.lower() if ch in "0123456789abcdef")
    if len(hex_only) < 24:
        raise ValueError(f"metadata.uid {uid!r} is not a Kubernetes uid")
    return hex_only


def video_row_id(uid: str) -> str:
    return "v-" + uid_hex(uid)[:32]


def scene_row_id(uid: str, index: int) -> str:
    return f"s-{uid_hex(uid)[:24]}-{index:02d}"


def owner_permissions(body: Mapping[str, Any]) -> tuple[str, ...]:
    """Read for the owner only; with no owner, only API keys can read (no table-level read)."""
    owner = (body.get("spec") or {}).get("owner") or {}
    user_id = owner.get("appwriteUserId")
    return (Permission.read(Role.user(user_id)),) if user_id else ()


def desired_rows(body: Mapping[str, Any]) -> list[DesiredRow]:
    """The video row first, then one row per scene in index order."""
    uid = str((body.get("metadata") or {}).get("uid") or "")
    permissions = owner_permissions(body)
    video = DesiredRow(VIDEOS.id, video_row_id(uid), video_data(body), permissions)
    scenes = [
        DesiredRow(SCENES.id, scene_row_id(uid, scene["index"]), scene_data(video.row_id, scene), permissions)
        for scene in sorted(scene_statuses(body), key=lambda s: s["index"])
    ]
    return [video, *scenes]


def scene_statuses(body: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    scenes = (body.get("status") or {}).get("scenes") or []
    return [s for s in scenes if isinstance(s, Mapping) and isinstance(s.get("index"), int)]


def video_data(body: Mapping[str, Any]) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    phase = status.get("phase") or "Pending"
    return fit(
        VIDEOS,
        {
            "topic": spec.get("topic"),
            "description": spec.get("description"),
            "status": VIDEO_STATUS.get(phase, "queued"),
            "progress": min(100, max(0, int(status.get("progress") or 0))),
            "current_scene": status.get("currentScene") or None,
            "scene_count": status.get("scenesTotal") or len(list(scene_statuses(body))),
            "combined_video_url": (status.get("output") or {}).get("uri"),
            "error_message": status.get("message") if phase == "Failed" else None,
            "k8s_namespace": metadata.get("namespace"),
            "k8s_name": metadata.get("name"),
            "k8s_uid": metadata.get("uid"),
            "created_at": metadata.get("creationTimestamp"),
            "finished_at": status.get("finishedAt") if phase in TERMINAL_PHASES else None,
        },
    )


def scene_data(video_id: str, scene: Mapping[str, Any]) -> dict[str, Any]:
    phase = scene.get("phase") or "Pending"
    return fit(
        SCENES,
        {
            "video_id": video_id,
            "scene_number": scene["index"],
            "name": scene.get("name"),
            "status": SCENE_STATUS.get(phase, "planned"),
            "attempt": scene.get("attempt") or 0,
            "video_url": scene.get("artifact") if phase == "Succeeded" else None,
            "code_url": scene.get("codeUri"),
            "error_message": scene.get("message") if phase in ("Failed", "Healing") else None,
        },
    )


def fit(table: TableSpec, data: dict[str, Any]) -> dict[str, Any]:
    """Cut strings to their column's size (a too-long value would fail the whole row)."""
    for key, value in data.items():
        limit = table.column(key).limit
        if isinstance(value, str) and limit is not None and len(value) > limit:
            data[key] = value[: limit - 1] + "…"
    return data
