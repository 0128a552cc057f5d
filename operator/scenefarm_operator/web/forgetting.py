"""What happens in Appwrite when a VideoRequest is deleted: its rows and files are deleted, or,
with `on_delete=Retain`, kept and marked. Called by `AppwriteMirror.forget` under its timeout.

Which stored files go follows the store clean-up's rule (`scene_cache.cleanup_targets`, also
what the clean-up Job is told): a file another live request reuses stays, and the files this
request reused from requests that are gone go with it.

Only the request's own rows are touched: its scene rows (ids from its uid, found by `video_id`
too) and its video row, a web request's request row only when the intake made the request
(`provenance.intake_row_of`) and the row is still its owner's (`ownership.row_is_owners`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.storage import Storage
from appwrite.services.tables_db import TablesDB

from scenefarm_contract import phases
from scenefarm_contract.appwrite_sdk import file_id
from scenefarm_contract.renderer import VIDEO_KEY, artifact_prefix, scene_key
from scenefarm_operator.engine.scene_cache import cleanup_targets
from scenefarm_operator.web.calls import AppwriteConfig, Caller
from scenefarm_operator.web.layout import ROW_FAILED, SCENES, VIDEOS
from scenefarm_operator.web.ownership import claim_of, not_owners, row_is_owners
from scenefarm_operator.web.rows import (
    code_file_id,
    desired_rows,
    scene_row_id,
    video_row_id,
    video_row_id_of,
)

logger = logging.getLogger(__name__)
DELETED_MESSAGE = "The VideoRequest was deleted from Kubernetes; rows and files kept (on_delete=Retain)"


class AppwriteMirror(Protocol):
    """What forgetting uses of the mirror (`mirror.AppwriteMirror`): its config, client and caller."""

    config: AppwriteConfig
    client: Client
    tables: TablesDB
    caller: Caller


async def forget(
    mirror: AppwriteMirror, body: Mapping[str, Any], offers: Iterable[Mapping[str, Any]] = ()
) -> None:
    """`offers`: the scene cache's index of the namespace's live requests (what they reuse)."""
    if mirror.config.on_delete == "Retain":
        await mark_deleted(mirror, body)
    else:
        await delete_everything(mirror, body, offers)


async def own_video_row(mirror: AppwriteMirror, body: Mapping[str, Any]) -> str | None:
    """The request's video row, when it may touch it: a web request's row only while the row is
    its owner's (None, logged, otherwise)."""
    row_id = video_row_id_of(body, mirror.config.intake_namespace)
    uid = str((body.get("metadata") or {}).get("uid") or "")
    if row_id == video_row_id(uid) or await row_is_owners(mirror, claim_of(body, row_id)):
        return row_id
    logger.warning("%s", not_owners(claim_of(body, row_id)))
    return None


async def mark_deleted(mirror: AppwriteMirror, body: Mapping[str, Any]) -> None:
    row_id = await own_video_row(mirror, body)
    if row_id is None:
        return
    data: dict[str, Any] = {"error_message": DELETED_MESSAGE}
    if ((body.get("status") or {}).get("phase")) not in phases.TERMINAL:
        data |= {"status": ROW_FAILED, "phase": phases.CANCELLED}
    await ignore_missing(
        mirror.caller.call(lambda: mirror.tables.update_row(mirror.config.database, VIDEOS.id, row_id, data))
    )


async def delete_everything(
    mirror: AppwriteMirror, body: Mapping[str, Any], offers: Iterable[Mapping[str, Any]] = ()
) -> None:
    config, tables = mirror.config, mirror.tables
    video_id = await own_video_row(mirror, body)
    scene_ids = {row.row_id for row in desired_rows(body) if row.table == SCENES.id}
    if video_id is not None:
        listed = await ignore_missing(
            mirror.caller.call(
                lambda: tables.list_rows(
                    config.database, SCENES.id, [Query.equal("video_id", video_id), Query.limit(1000)]
                )
            )
        )
        own = scene_row_id(str(body["metadata"]["uid"]), 0)[:-2]  # `s-<uid hex[:24]>-`
        scene_ids |= {row.id for row in (listed.rows if listed is not None else []) if row.id.startswith(own)}
    deletions: list[Callable[[], Any]] = [
        functools.partial(tables.delete_row, config.database, SCENES.id, row_id) for row_id in scene_ids
    ]
    if video_id is not None:
        deletions.append(functools.partial(tables.delete_row, config.database, VIDEOS.id, video_id))
    if ((body.get("spec") or {}).get("output") or {}).get("store") != "Volume":
        storage = Storage(mirror.client)
        ids = stored_files(body, offers)
        deletions += [functools.partial(storage.delete_file, config.bucket, fid) for fid in ids]
    await asyncio.gather(*(ignore_missing(mirror.caller.call(fn)) for fn in deletions))


def stored_files(body: Mapping[str, Any], offers: Iterable[Mapping[str, Any]]) -> list[str]:
    """The Storage file ids a deleted request's deletion removes: its scenes, video and code
    files but those another live request of `offers` reuses, plus the files it reused from
    requests that are gone (when no live request reuses them either)."""
    metadata = body["metadata"]
    prefix = artifact_prefix(metadata["namespace"], metadata["name"], str(metadata["uid"]))
    keep, also = cleanup_targets(body, offers)
    scenes = [s for s in (body.get("status") or {}).get("scenes") or [] if "index" in s]
    keys = [key for key in [*(scene_key(s["index"]) for s in scenes), VIDEO_KEY] if key not in keep]
    ids = [file_id(prefix, key) for key in keys]
    ids += [file_id(*source.rsplit("/", 1)) for source in also]  # `<prefix>/<key>` of a gone request
    ids += [
        code_file_id(metadata, s["index"], revision)
        for s in scenes
        for revision in range(1, int(s.get("revision") or 1) + 1)
    ]
    return ids


async def ignore_missing(call: Awaitable[Any]) -> Any:
    """Deleting what is already gone is success."""
    try:
        return await call
    except AppwriteException as error:
        if error.code == 404:
            return None
        raise
