"""VideoRequest body -> the rows that mirror it. Pure: no I/O, same body -> same rows.

Row ids are derived from the Kubernetes uid, so they are stable across operator restarts and
never collide between objects of the same name: `v-<uid hex[:32]>` for the video and
`s-<uid hex[:24]>-<NN>` for scene NN (Appwrite ids: at most 36 of [a-zA-Z0-9._-]). A web request
the intake made (`provenance.intake_row_of`, which needs the intake's namespace) mirrors into the
request row its user created instead; an annotation alone names no row.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from appwrite.permission import Permission
from appwrite.role import Role

from scenefarm_contract import phases
from scenefarm_contract.appwrite_sdk import file_id
from scenefarm_contract.conditions import stall_of
from scenefarm_contract.renderer import artifact_prefix
from scenefarm_operator.engine.plan_store import code_key
from scenefarm_operator.web.layout import (
    ROW_CODED,
    ROW_COMPLETED,
    ROW_FAILED,
    ROW_PLANNED,
    ROW_PLANNING,
    ROW_QUEUED,
    ROW_RENDERED,
    ROW_RENDERING,
    SCENES,
    VIDEOS,
    TableSpec,
)
from scenefarm_operator.web.provenance import intake_row_of

# The original schema's enums: Suspended waits like a queued request, Combining is the end of
# rendering, and a cancelled request is a failed one (with its message); `phase` says exactly.
VIDEO_STATUS = {
    phases.PENDING: ROW_QUEUED,
    phases.SUSPENDED: ROW_QUEUED,
    phases.PLANNING: ROW_PLANNING,
    phases.RENDERING: ROW_RENDERING,
    phases.COMBINING: ROW_RENDERING,
    phases.SUCCEEDED: ROW_COMPLETED,
    phases.FAILED: ROW_FAILED,
    phases.CANCELLED: ROW_FAILED,
}
# A scene has code from the moment it waits for a slot; Healing writes new code for it.
SCENE_STATUS = {
    phases.PENDING: ROW_PLANNED,
    phases.QUEUED: ROW_CODED,
    phases.HEALING: ROW_CODED,
    phases.RETRYING: ROW_CODED,
    phases.RUNNING: ROW_CODED,
    phases.SUSPENDED: ROW_CODED,
    phases.SUCCEEDED: ROW_RENDERED,
    phases.FAILED: ROW_FAILED,
    phases.STOPPED: ROW_FAILED,
}
CANCELLED_MESSAGE = phases.CANCELLED  # a cancelled row's error_message (before the status message)
FILE_URL = re.compile(r"/storage/buckets/[^/]+/files/([a-zA-Z0-9][a-zA-Z0-9._-]{0,35})/(?:view|download)")


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


def video_row_id_of(body: Mapping[str, Any], intake_namespace: str = "") -> str:
    """The row the web page created, for a request the intake made from it; else one from the uid."""
    row = intake_row_of(body, intake_namespace)
    return row if row is not None else video_row_id(str((body.get("metadata") or {}).get("uid") or ""))


def file_id_of(uri: object) -> str | None:
    """The Storage file id in an Appwrite file URL; None for other stores (`volume:...`)."""
    match = FILE_URL.search(uri) if isinstance(uri, str) else None
    return match.group(1) if match else None


def scene_row_id(uid: str, index: int) -> str:
    return f"s-{uid_hex(uid)[:24]}-{index:02d}"


def owner_permissions(body: Mapping[str, Any], *, can_update: bool = False) -> tuple[str, ...]:
    """Read for the owner only (and update of a web request's row, for its cancel flag); with
    no owner, only API keys can read (no table-level read)."""
    owner = (body.get("spec") or {}).get("owner") or {}
    user_id = owner.get("appwriteUserId")
    if not user_id:
        return ()
    read = Permission.read(Role.user(user_id))
    return (read, Permission.update(Role.user(user_id))) if can_update else (read,)


def desired_rows(body: Mapping[str, Any], intake_namespace: str = "") -> list[DesiredRow]:
    """The video row first, then one row per scene in index order. `intake_namespace`: where the
    web intake makes its requests (empty: no intake, so no request is a web request)."""
    uid = uid_hex(str((body.get("metadata") or {}).get("uid") or ""))
    web_row = intake_row_of(body, intake_namespace)
    permissions = owner_permissions(body)
    video = DesiredRow(
        VIDEOS.id,
        web_row or video_row_id(uid),
        video_data(body, web_request=web_row is not None),
        owner_permissions(body, can_update=web_row is not None),
    )
    scenes = [
        DesiredRow(
            SCENES.id,
            scene_row_id(uid, scene["index"]),
            scene_data(video.row_id, scene, body["metadata"]),
            permissions,
        )
        for scene in sorted(scene_statuses(body), key=lambda s: s["index"])
    ]
    return [video, *scenes]


def scene_statuses(body: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    scenes = (body.get("status") or {}).get("scenes") or []
    return [s for s in scenes if isinstance(s, Mapping) and isinstance(s.get("index"), int)]


def video_data(body: Mapping[str, Any], *, web_request: bool = False) -> dict[str, Any]:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    phase = status.get("phase") or phases.PENDING
    scenes = list(scene_statuses(body))
    output = (status.get("output") or {}).get("uri")
    status_value = VIDEO_STATUS.get(phase, ROW_QUEUED)
    if phase == phases.PENDING and web_request:
        status_value = ROW_PLANNING  # a web request the intake accepted is being worked on
    return fit(
        VIDEOS,
        {
            "topic": spec.get("topic"),
            "description": spec.get("description"),
            "status": status_value,
            "progress": min(100, max(0, int(status.get("progress") or 0))),
            "current_scene": current_scene(status, scenes),
            "scene_count": status.get("scenesTotal") or len(scenes),
            "combined_video_url": file_id_of(output) if phase == phases.SUCCEEDED else None,
            "poster_url": file_id_of((status.get("output") or {}).get("poster"))
            if phase == phases.SUCCEEDED
            else None,
            "subtitles_url": file_id_of((status.get("output") or {}).get("subtitles"))
            if phase == phases.SUCCEEDED
            else None,
            "error_message": error_message(phase, status),
            "k8s_namespace": metadata.get("namespace"),
            "k8s_name": metadata.get("name"),
            "k8s_uid": metadata.get("uid"),
            "created_at": metadata.get("creationTimestamp"),
            "finished_at": status.get("finishedAt") if phase in phases.TERMINAL else None,
            "phase": phase,
            "current_scene_name": status.get("currentScene") or None,
            "scenes_succeeded": int(status.get("scenesSucceeded") or 0),
            "scenes_failed": int(status.get("scenesFailed") or 0),
            "eta": status.get("estimatedCompletionTime") if phase not in phases.TERMINAL else None,
            "queue_position": status.get("queuePosition") if phase not in phases.TERMINAL else None,
            "stalled": stalled(phase, status),
            "output_uri": output,
            "planner_mode": (spec.get("planner") or {}).get("mode"),
            "quality": (spec.get("render") or {}).get("quality"),
        },
    )


def stalled(phase: str, status: Mapping[str, Any]) -> str | None:
    """`Reason: message` of Stalled=True while the request is in progress (a Pod the cluster will
    not start, no progress past the estimate); None otherwise: a finished request's
    `error_message` says why it ended."""
    return stall_of(phase, status)


def error_message(phase: str, status: Mapping[str, Any]) -> str | None:
    if phase == phases.FAILED:
        return str(status.get("message") or phases.FAILED)
    if phase == phases.CANCELLED:
        return f"{CANCELLED_MESSAGE}: {status['message']}" if status.get("message") else CANCELLED_MESSAGE
    return None


def current_scene(status: Mapping[str, Any], scenes: list[Mapping[str, Any]]) -> int | None:
    """The number of the scene being worked on; after the end, the one that failed (or the
    last one), so the value stays true once the request stops."""
    by_name = {s.get("name"): s["index"] for s in scenes}
    named = by_name.get(status.get("currentScene"))
    if named is not None:
        return int(named)
    failed = [s["index"] for s in scenes if s.get("phase") == phases.FAILED]
    if failed:
        return int(min(failed))
    started = [s["index"] for s in scenes if (s.get("phase") or phases.PENDING) != phases.PENDING]
    return int(max(started)) if started else None


def code_file_id(metadata: Mapping[str, Any], index: int, revision: int) -> str:
    """The Storage file of one scene's code revision (uploaded by `codefiles`)."""
    prefix = artifact_prefix(metadata["namespace"], metadata["name"], str(metadata["uid"]))
    return file_id(prefix, f"code/{code_key(index, revision)}")


def scene_data(video_id: str, scene: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    phase = scene.get("phase") or phases.PENDING
    revision = scene.get("revision") or 1
    # The code is uploaded once the plan exists; by the time a scene leaves Pending it is there.
    code_url = code_file_id(metadata, scene["index"], revision) if phase != phases.PENDING else None
    artifact = scene.get("artifact") if phase == phases.SUCCEEDED else None
    return fit(
        SCENES,
        {
            "video_id": video_id,
            "scene_number": scene["index"],
            "name": scene.get("name"),
            "status": SCENE_STATUS.get(phase, ROW_PLANNED),
            "attempt": scene.get("attempt") or 0,
            "video_url": file_id_of(artifact),
            "code_url": code_url,
            "error_message": scene.get("message")
            if phase in (phases.FAILED, phases.HEALING, phases.RETRYING)
            else None,
            "phase": phase,
            "exit_class": scene.get("exitClass"),
            "revision": revision,
            "healed": isinstance(revision, int) and revision > 1,
            "artifact_uri": artifact,
            "poster_url": file_id_of(scene.get("poster")) if artifact else None,
            "log_tail": scene.get("logTail"),  # only a finished attempt has one: running is no log
        },
    )


def fit(table: TableSpec, data: dict[str, Any]) -> dict[str, Any]:
    """Cut strings to their column's size (a too-long value would fail the whole row)."""
    for key, value in data.items():
        limit = table.column(key).limit
        if isinstance(value, str) and limit is not None and len(value) > limit:
            data[key] = value[: limit - 1] + "…"
    return data
