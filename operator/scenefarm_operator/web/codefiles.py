"""Each scene's code as an Appwrite Storage file its owner can read (`scenes.code_url`).

The code lives in the plan ConfigMap (`scene-NN.rR.py`, one key per revision). For a request
with an owner, every code revision that shows up in `status.scenes` is uploaded once, under a
file id derived from the request and the key (`rows.code_file_id`), with read for the owner.
Uploads run in the background; a file that exists already (another replica, a restart) is
success. The row names the file once its scene left Pending, when the upload is long done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.storage import Storage

from scenefarm_operator.engine.manifests import naming
from scenefarm_operator.engine.plan_store import code_key
from scenefarm_operator.web.calls import AppwriteConfig, Caller, describe, make_client
from scenefarm_operator.web.rows import code_file_id, scene_statuses

logger = logging.getLogger(__name__)
MEMORY = 50_000  # file ids remembered as uploaded (bounded; a forgotten one is asked again)


class CodeFiles:
    def __init__(self, config: AppwriteConfig, *, client: Client | None = None) -> None:
        self.config = config
        self.storage = Storage(client or make_client(config))
        self.caller = Caller(config)
        self.uploaded: dict[str, None] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    def observe(self, body: Mapping[str, Any]) -> None:
        """Start uploads for code revisions of this request not uploaded yet. Never blocks."""
        metadata = body.get("metadata") or {}
        owner = ((body.get("spec") or {}).get("owner") or {}).get("appwriteUserId")
        if not owner or not metadata.get("uid") or metadata.get("deletionTimestamp"):
            return
        for scene in scene_statuses(body):
            revision = int(scene.get("revision") or 1)
            fid = code_file_id(metadata, scene["index"], revision)
            if fid in self.uploaded or fid in self._running:
                continue
            key = code_key(scene["index"], revision)
            task = asyncio.create_task(self.upload(dict(metadata), key, fid, owner))
            self._running[fid] = task
            task.add_done_callback(self._finished(fid))

    def _finished(self, fid: str) -> Any:
        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(fid, None)

        return forget

    async def upload(self, metadata: Mapping[str, Any], key: str, fid: str, owner: str) -> None:
        from scenefarm_operator.runtime import kube

        try:
            plan = await kube.read_configmap(
                metadata["namespace"], naming.plan_configmap_name(metadata["name"])
            )
            code = (plan or {}).get(key)
            if code is None:
                return  # not stored yet: the next status change asks again
            file = InputFile.from_bytes(code.encode(), key, "text/x-python")
            permissions = [Permission.read(Role.user(owner))]
            await self.caller.call(
                lambda: self.storage.create_file(self.config.bucket, fid, file, permissions)
            )
        except AppwriteException as error:
            if error.code != 409:  # 409: uploaded before (a restart, another replica)
                logger.warning("Could not upload the code %s: %s", key, describe(error, self.config.api_key))
                return
        except Exception as error:  # an outage: the next status change asks again
            logger.warning("Could not upload the code %s: %s", key, describe(error, self.config.api_key))
            return
        self.uploaded[fid] = None
        while len(self.uploaded) > MEMORY:
            self.uploaded.pop(next(iter(self.uploaded)))

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def settle(self) -> None:
        """Wait for the uploads started so far (tests, benchmarks)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self.caller.close()
