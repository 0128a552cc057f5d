"""The web intake loop: new request rows -> VideoRequests, cancel flags -> `spec.cancel`.

The server SDK has no Realtime, so the loop polls, bounded: every `poll_seconds` one page of
request rows (queued, or planning with no VideoRequest mirrored yet) after a cursor (the last
row handled) and one page of rows asking to be cancelled. A row is handled once its
VideoRequest exists (created now, or earlier by another replica: the name is deterministic) or
once it was refused (`failed` with the reason). A Kubernetes or Appwrite outage stops the pass
at that row; the next pass starts there again (a row already marked `planning` included).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from lightkube.core.exceptions import ApiError

from .calls import AppwriteConfig, Caller, describe, make_client
from .intake import (
    INTAKE_LABEL,
    USER_LABEL,
    Limits,
    Refused,
    accepted_data,
    check_quota,
    check_row,
    label_value,
    owner_of,
    refusal_data,
    request_name,
    video_request,
)
from .layout import VIDEOS

logger = logging.getLogger(__name__)
PAGE = 50
ACTIVE_STATUSES = ["queued", "planning", "rendering"]


class KubeOps(Protocol):
    """The three Kubernetes calls the intake makes (lightkube in the operator, a fake in tests)."""

    async def create(self, obj: Mapping[str, Any]) -> bool: ...  # False: it already existed

    async def list_of_user(self, namespace: str, user_label: str) -> list[dict[str, Any]]: ...

    async def cancel(self, namespace: str, name: str) -> None: ...  # a missing object is fine


class LightkubeOps:
    async def create(self, obj: Mapping[str, Any]) -> bool:
        from .. import kube

        return await kube.create(obj)

    async def list_of_user(self, namespace: str, user_label: str) -> list[dict[str, Any]]:
        from .. import kube

        found = kube.client().list(
            kube.VideoRequest, namespace=namespace, labels={INTAKE_LABEL: "appwrite", USER_LABEL: user_label}
        )
        return [dict(item) async for item in found]  # generic resources are dicts

    async def cancel(self, namespace: str, name: str) -> None:
        from lightkube.types import PatchType

        from .. import kube

        try:
            await kube.client().patch(
                kube.VideoRequest,
                name,
                {"spec": {"cancel": True}},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as error:
            if error.status.code != 404:
                raise


class Intake:
    def __init__(
        self,
        config: AppwriteConfig,
        namespace: str,
        limits: Limits,
        *,
        poll_seconds: float = 1.0,
        kube: KubeOps | None = None,
        client: Client | None = None,
    ) -> None:
        self.config = config
        self.namespace = namespace
        self.limits = limits
        self.poll_seconds = poll_seconds
        self.kube = kube or LightkubeOps()
        self.tables = TablesDB(client or make_client(config))
        self.caller = Caller(config)
        self.cursor: str | None = None  # the last request row handled
        self.created = 0  # VideoRequests created, for tests and benchmarks
        self.refused = 0

    async def run(self) -> None:
        """Poll until cancelled; a failed pass is logged and the next one tries again."""
        while True:
            try:
                await self.poll_once()
            except AppwriteException as error:
                if error.code == 404:  # at start: the mirror's schema bootstrap is still running
                    logger.info("Web intake waits for the Appwrite tables: %s", self.describe(error))
                else:
                    logger.warning("Web intake pass stopped: %s", self.describe(error))
            except (ApiError, TimeoutError) as error:
                logger.warning("Web intake pass stopped: %s", self.describe(error))
            await asyncio.sleep(self.poll_seconds)

    def close(self) -> None:
        self.caller.close()

    async def poll_once(self) -> int:
        """One bounded pass; returns how many new rows were handled."""
        handled = 0
        for row in await self.new_rows():
            await self.take(row)
            self.cursor = str(row["$id"])
            handled += 1
        for row in await self.rows(
            [Query.equal("cancel_requested", [True]), Query.equal("status", ACTIVE_STATUSES)]
        ):
            await self.kube.cancel(self.namespace, request_name(str(row["$id"])))
        return handled

    async def new_rows(self) -> list[dict[str, Any]]:
        # `planning` without a uid: accepted, then a crash before (or while) the create.
        queries = [Query.equal("status", ["queued", "planning"]), Query.is_null("k8s_uid")]
        try:
            return await self.rows(queries + ([Query.cursor_after(self.cursor)] if self.cursor else []))
        except AppwriteException as error:
            if error.code != 400 or self.cursor is None:
                raise
            logger.info("Web intake cursor row %s is gone; starting from the first request row", self.cursor)
            self.cursor = None
            return await self.rows(queries)

    async def rows(self, queries: list[str]) -> list[dict[str, Any]]:
        database = self.config.database
        answer = await self.caller.call(
            lambda: self.tables.list_rows(database, VIDEOS.id, [*queries, Query.limit(PAGE)])
        )
        return [row.to_dict() | dict(row.data) for row in answer.rows]

    async def take(self, row: Mapping[str, Any]) -> None:
        row_id = str(row["$id"])
        try:
            owner = owner_of(row.get("$permissions") or [])
            check_row(row, self.limits)
            mine = await self.kube.list_of_user(self.namespace, label_value(owner))
            # This row's own request (made before a crash or by another replica) is no new one.
            mine = [m for m in mine if (m.get("metadata") or {}).get("name") != request_name(row_id)]
            check_quota(mine, self.limits, datetime.datetime.now(datetime.UTC))
            body = video_request(row, owner, self.namespace, self.limits)
            # Picked up: the original schema's `planning` ("the worker has it"). Written before the
            # create, so it can never land after (and over) the mirror's first write.
            await self.update(row_id, accepted_data(body))
            try:
                if await self.kube.create(body):
                    self.created += 1
                    logger.info(
                        "Web request %s -> videorequest %s/%s", row_id, self.namespace, request_name(row_id)
                    )
            except ApiError as error:
                if error.status.code not in (400, 403, 422):
                    raise
                raise Refused(f"Kubernetes refused the request: {error.status.message}") from error
        except Refused as refusal:
            cancelled = str(refusal) == "Cancelled before it started."
            await self.refuse(row_id, str(refusal), "Cancelled" if cancelled else "Failed")

    async def refuse(self, row_id: str, message: str, phase: str) -> None:
        self.refused += 1
        logger.info("Web request %s refused: %s", row_id, message)
        await self.update(row_id, refusal_data(message, phase))

    async def update(self, row_id: str, data: Mapping[str, Any]) -> None:
        database = self.config.database
        await self.caller.call(lambda: self.tables.update_row(database, VIDEOS.id, row_id, dict(data)))

    def describe(self, error: BaseException) -> str:
        if isinstance(error, ApiError):
            return f"Kubernetes answered {error.status.code}: {error.status.message}"
        return describe(error, self.config.api_key)
