"""The web intake loop: new request rows -> VideoRequests; the page's cancel, retry and delete
flags -> `spec.cancel`, `spec.retryGeneration`, deletion.

The server SDK has no Realtime, so the loop polls, bounded: every `poll_seconds` one page of
unfinished rows after a cursor (the last row handled), and the rows of each flag query page after
page (`Query.cursor_after`), at most `FLAG_PAGES` pages a pass, each pass going on where the last
one stopped, round to the first row at the end: however many rows one user flags, another user's
flag is reached within a pass or a few. A retry or delete acted on or refused clears its flag
(a refusal with its message), so no row stays in a flag query for ever. A row that claims to be
finished (`completed`, `failed`) asks for nothing and is left as its user wrote it.

Nothing a row holds can stop the loop. Every row is handled inside its own failure boundary
(`handle`): a refusal, or an error of any kind that is not a transport error, ends the row
`failed` with a message, written once; a row whose refusal cannot even be written is skipped and
remembered (`skipped`), so it never blocks the cursor. Transport errors (no answer, timeouts,
429, 5xx) stop the pass at that row and the next pass starts there after a backoff
(`TRANSPORT_BACKOFF`); a row that stops `ROW_OUTAGE_LIMIT` passes in a row is refused too.
`IntakeRunner` supervises the loop (a crash restarts it, counted) and reports its health.

Every action on a VideoRequest first checks that it was made from that row for that user
(`provenance.made_from`): a collision with another request's name is refused, a forged cancel flag
is refused, and nothing of anyone else's is ever changed. The daily caps count from the cluster,
deleted requests included (`quotas`).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import aiohttp
import httpx2
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB
from appwrite.services.users import Users
from lightkube.core.exceptions import ApiError

from scenefarm_contract import phases
from scenefarm_contract.appwrite_sdk import status_of
from scenefarm_contract.backoff import Backoff
from scenefarm_operator.runtime import kube as runtime_kube
from scenefarm_operator.web.calls import AppwriteConfig, Caller, describe, make_client
from scenefarm_operator.web.intake import (
    CANCELLED_BEFORE_START,
    Limits,
    accepted_data,
    check_row,
    collision,
    flag_refusal_data,
    refusal_data,
    retry_target,
    video_request,
)
from scenefarm_operator.web.layout import ROW_FAILED, ROW_PLANNING, ROW_QUEUED, ROW_RENDERING, VIDEOS
from scenefarm_operator.web.provenance import RowRefused, made_from, owner_of, request_name
from scenefarm_operator.web.quotas import Quotas
from scenefarm_operator.web.rows import video_row_id

logger = logging.getLogger(__name__)
PAGE = 50
FLAG_PAGES = 10  # pages of each flag query one pass reads at most; the next pass goes on from there
ACTIVE_STATUSES = [ROW_QUEUED, ROW_PLANNING, ROW_RENDERING]
# Between passes that met a transport error: 1 s doubling to 30 s, for as long as it takes.
TRANSPORT_BACKOFF = Backoff(base=1.0, cap=30.0)
# Between restarts of a crashed loop (never expected: every row has its own boundary).
RESTART_BACKOFF = Backoff(base=1.0, cap=60.0)
ROW_OUTAGE_LIMIT = 10  # passes one row may stop in a row before it is refused
INTERNAL = (
    "This request could not be taken because of an error on our side; it was not started. "
    "Submit it again, and tell the operators if it keeps happening."
)
NOT_YOURS = "This row did not make the request it names; nothing was cancelled."
NOTHING_TO_RETRY = "There is no request of this row to retry: submit it again."
TRANSPORT_TYPES: tuple[type[BaseException], ...] = (
    httpx2.TransportError,
    aiohttp.ClientError,
    OSError,  # requests' errors and socket errors included
    TimeoutError,
)


def mirrored(row: Mapping[str, Any]) -> bool:
    """A row the mirror made for a VideoRequest made some other way (its id is from the uid)."""
    uid = row.get("k8s_uid")
    try:
        return isinstance(uid, str) and row.get("$id") == video_row_id(uid)
    except ValueError:
        return False


def is_transport(error: BaseException) -> bool:
    """An error of the way to Appwrite or Kubernetes, not of a row: worth another pass later."""
    if isinstance(error, AppwriteException):
        code = status_of(error)
        return code in (0, 408, 429) or code >= 500
    if isinstance(error, ApiError):
        code = error.status.code or 0
        return code in (0, 404, 408, 409, 429) or code >= 500  # 404: the namespace is not there (yet)
    return isinstance(error, TRANSPORT_TYPES)


class KubeOps(Protocol):
    """The Kubernetes calls the intake makes (`runtime.kube` in the operator, a fake in tests)."""

    async def create(self, obj: Mapping[str, Any]) -> bool: ...  # False: it already existed

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def list_of(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]: ...

    async def cancel(self, namespace: str, name: str) -> None: ...  # a missing object is fine

    async def retry(self, namespace: str, name: str, generation: int) -> None: ...  # spec.retryGeneration

    async def delete(self, namespace: str, name: str) -> None: ...  # a missing object is fine

    async def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None: ...  # its data

    # Merge into the ConfigMap's data (None deletes a key), creating it when it is missing.
    async def patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None: ...


class RuntimeKube:
    """The operator's `KubeOps`: the calls of `runtime.kube`, the one place that talks to the API."""

    async def create(self, obj: Mapping[str, Any]) -> bool:
        return await runtime_kube.create(obj)

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await runtime_kube.read_request(namespace, name)

    async def list_of(self, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        return await runtime_kube.list_requests(namespace, labels)

    async def cancel(self, namespace: str, name: str) -> None:
        await runtime_kube.cancel_request(namespace, name)

    async def retry(self, namespace: str, name: str, generation: int) -> None:
        await runtime_kube.retry_request(namespace, name, generation)

    async def delete(self, namespace: str, name: str) -> None:
        await runtime_kube.delete_request(namespace, name)

    async def read_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        return await runtime_kube.read_configmap(namespace, name)

    async def patch_configmap(self, namespace: str, name: str, data: Mapping[str, str | None]) -> None:
        kept = {key: value for key, value in data.items() if value is not None}
        made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}
        if await runtime_kube.read_configmap(namespace, name) is None and await runtime_kube.create(
            made | {"data": kept}
        ):
            return
        await runtime_kube.patch_configmap_data(namespace, name, data)


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
        transport_backoff: Backoff = TRANSPORT_BACKOFF,
    ) -> None:
        self.config = config
        self.transport_backoff = transport_backoff
        self.namespace = namespace
        self.limits = limits
        self.poll_seconds = poll_seconds
        self.kube = kube or RuntimeKube()
        self.quotas = Quotas(self.kube, namespace, limits)
        self.flag_pages = FLAG_PAGES
        sdk = client or make_client(config)
        self.tables = TablesDB(sdk)
        self.users = Users(sdk)
        self.caller = Caller(config)
        self.cursors: dict[str, str | None] = {}  # per query: the last row handled (read, for flags)
        self.skipped: set[str] = set()  # rows whose refusal could not be written: never taken again
        self.outages: dict[str, int] = {}  # row id -> passes it stopped in a row
        self.created = 0  # VideoRequests created, for tests, metrics and benchmarks
        self.refused = 0
        self.failed_passes = 0  # passes stopped by a transport error, in a row (0: the last one went through)
        self.beat = time.monotonic()  # the last time the loop went round

    # ---- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled; a pass that meets a transport error backs off and tries again."""
        while True:
            self.beat = time.monotonic()
            try:
                await self.poll_once()
                self.failed_passes = 0
            except Exception as error:
                if not is_transport(error) and not isinstance(error, AppwriteException):
                    raise  # a bug of the loop itself: the runner logs it and restarts the loop
                self.failed_passes += 1
                if isinstance(error, AppwriteException) and error.code == 404:
                    logger.info("Web intake waits for the Appwrite tables: %s", self.describe(error))
                else:
                    logger.warning("Web intake pass stopped: %s", self.describe(error))
            delay = self.poll_seconds
            if self.failed_passes:
                delay = max(delay, self.transport_backoff.delay(self.failed_passes - 1))
            self.beat = time.monotonic()
            await asyncio.sleep(delay)

    def close(self) -> None:
        self.caller.close()

    async def poll_once(self) -> int:
        """One bounded pass; returns how many new rows were handled. Raises transport errors."""
        handled = 0
        # Every unfinished row, once per operator lifetime (the cursor): a request row (queued,
        # or planning with no VideoRequest mirrored yet: accepted, then a crash), a row the
        # intake or the mirror already wrote (its VideoRequest was made from it: nothing to do),
        # or a row that claims what only the operator writes (refused).
        for row in await self.rows_after("rows", [Query.equal("status", ACTIVE_STATUSES)]):
            row_id = str(row.get("$id"))
            if row_id not in self.skipped and not mirrored(row):
                await self.handle(row)
                handled += 1
            self.cursors["rows"] = row_id
        # The page's flags: every row a flag query matches is read (`flagged`); a retry or delete
        # acted on or refused is cleared, so the row leaves its query.
        cancels = [Query.equal("cancel_requested", [True]), Query.equal("status", ACTIVE_STATUSES)]
        await self.on_flag("cancel", cancels, self.cancel)
        retries = [Query.greater_than("retry_requested", 0), Query.equal("status", [ROW_FAILED])]
        await self.on_flag("retry", retries, self.retry, {"retry_requested": 0})
        deletes = [Query.equal("delete_requested", [True])]
        await self.on_flag("delete", deletes, self.delete, {"delete_requested": False})
        return handled

    async def on_flag(
        self,
        kind: str,
        queries: list[str],
        act: Callable[[Mapping[str, Any]], Awaitable[None]],
        clears: Mapping[str, Any] | None = None,
    ) -> None:
        """`act` on every row of a flag query; `clears`: what a refusal writes besides its message
        (None: the row ends `failed`)."""
        for row in await self.flagged(kind, queries):
            row_id = str(row.get("$id"))
            if row_id not in self.skipped:
                await self.handle(row, act=act, clears=clears)
            self.cursors[kind] = row_id

    async def flagged(self, kind: str, queries: list[str]) -> list[dict[str, Any]]:
        """The rows of a flag query, page after page: at most `flag_pages` pages a pass, from after
        the last row the previous pass handled, round to the first row at the end. However many
        rows one user flags, every row is reached within a few passes; none holds the others back."""
        found: dict[str, dict[str, Any]] = {}
        cursor = self.cursors.get(kind)
        wrapped = cursor is None
        for _ in range(self.flag_pages):
            page = await self.rows_after_cursor(queries, cursor)
            fresh = [row for row in page if str(row.get("$id")) not in found]
            found |= {str(row.get("$id")): row for row in fresh}
            if len(fresh) < len(page) or (wrapped and len(page) < PAGE):
                break  # round once: every matching row read
            if len(page) < PAGE:
                wrapped, cursor = True, None  # the end: on from the first row
            else:
                cursor = str(page[-1].get("$id"))
        return list(found.values())

    async def rows_after(self, kind: str, queries: list[str]) -> list[dict[str, Any]]:
        return await self.rows_after_cursor(queries, self.cursors.get(kind))

    async def rows_after_cursor(self, queries: list[str], cursor: str | None) -> list[dict[str, Any]]:
        """One page after `cursor`; from the first row when the cursor row is gone."""
        try:
            return await self.rows(queries + ([Query.cursor_after(cursor)] if cursor else []))
        except AppwriteException as error:
            if error.code != 400 or cursor is None:
                raise
            logger.info("Web intake cursor row %s is gone; starting from the first row", cursor)
            return await self.rows(queries)

    async def rows(self, queries: list[str]) -> list[dict[str, Any]]:
        database = self.config.database
        answer = await self.caller.call(
            lambda: self.tables.list_rows(database, VIDEOS.id, [*queries, Query.limit(PAGE)])
        )
        return [row.to_dict() | dict(row.data) for row in answer.rows]

    # ---- one row, inside its own failure boundary --------------------------------------------

    async def handle(
        self,
        row: Mapping[str, Any],
        *,
        act: Callable[[Mapping[str, Any]], Awaitable[None]] | None = None,
        clears: Mapping[str, Any] | None = None,
    ) -> None:
        """Take (or `act` on) one row. Only transport errors leave; everything else ends the row
        (or, with `clears`, only its flag)."""
        row_id = str(row.get("$id"))
        phase = phases.FAILED
        try:
            await (act or self.take)(row)
            self.outages.pop(row_id, None)
            return
        except RowRefused as refusal:
            message = str(refusal)
            phase = phases.CANCELLED if message == CANCELLED_BEFORE_START else phases.FAILED
        except Exception as error:
            if is_transport(error):
                self.outages[row_id] = self.outages.get(row_id, 0) + 1
                if self.outages[row_id] < ROW_OUTAGE_LIMIT:
                    raise
                message = f"This request could not be taken: {self.describe(error)}. Submit it again later."
            else:
                logger.exception("Web request %s could not be taken", row_id)
                message = INTERNAL
        self.outages.pop(row_id, None)
        await self.refuse(row_id, message, phase, clears)

    async def take(self, row: Mapping[str, Any]) -> None:
        row_id = str(row["$id"])
        name = request_name(row_id)
        owner = owner_of(row.get("$permissions") or [])
        existing = await self.kube.read(self.namespace, name)
        if existing is not None:
            if not made_from(existing, row_id, owner):
                raise RowRefused(collision(name))
            if row.get("status") == ROW_QUEUED:  # ours, from before a crash: the row says so again
                await self.update(row_id, accepted_data(existing))
            return  # made from this row: the mirror keeps the row
        resumed = row.get("status") == ROW_PLANNING and row.get("k8s_name") == name
        check_row(row, self.limits, resumed=resumed and row.get("k8s_namespace") == self.namespace)
        sessions = await self.sessions_of(owner)
        if not self.limits.anonymous and (not sessions or any(s == "anonymous" for s, _ in sessions)):
            raise RowRefused("Guests may not submit here: sign up or sign in with an account first.")
        source = sessions[0][1] if sessions else ""
        # Counted in the ledger before the create: a crash in between counts one too many.
        await self.quotas.admit(row, owner, source, datetime.datetime.now(datetime.UTC))
        body = video_request(row, owner, self.namespace, self.limits, source)
        # Picked up: the original schema's `planning` ("the worker has it"). Written before the
        # create, so it can never land after (and over) the mirror's first write.
        await self.update(row_id, accepted_data(body))
        try:
            created = await self.kube.create(body)
        except ApiError as error:
            if error.status.code not in (400, 403, 422):
                raise
            await self.quotas.withdraw(row)  # none was made: the user keeps the request
            raise RowRefused(f"Kubernetes refused the request: {error.status.message}") from error
        if created:
            self.created += 1
            logger.info("Web request %s -> videorequest %s/%s", row_id, self.namespace, name)
            return
        # Made between our read and our create: by another replica (ours) or someone else (not).
        if not made_from(await self.kube.read(self.namespace, name), row_id, owner):
            raise RowRefused(collision(name))

    async def sessions_of(self, owner: str) -> list[tuple[str, str]]:
        """(provider, client address) of the owner's sessions, newest first; [] for no such user."""
        try:
            answer = await self.caller.call(lambda: self.users.list_sessions(owner))
        except AppwriteException as error:
            if status_of(error) == 404:
                raise RowRefused("The user who made this row does not exist.") from error
            raise
        found = sorted(answer.sessions, key=lambda s: str(s.createdat), reverse=True)
        return [(str(s.provider), str(s.ip)) for s in found]

    async def cancel(self, row: Mapping[str, Any]) -> None:
        """A cancel flag: `spec.cancel` on the row's VideoRequest, only if the row made it."""
        row_id = str(row["$id"])
        owner = owner_of(row.get("$permissions") or [])
        name = request_name(row_id)
        existing = await self.kube.read(self.namespace, name)
        if existing is None:
            if row.get("status") in (ROW_QUEUED, ROW_PLANNING) and not row.get("k8s_uid"):
                return  # not created yet: the take refuses it ("Cancelled before it started.")
            raise RowRefused("There is no request of this row to cancel.")
        if not made_from(existing, row_id, owner):
            raise RowRefused(NOT_YOURS)
        if not (existing.get("spec") or {}).get("cancel"):
            await self.kube.cancel(self.namespace, name)

    async def own_request(self, row: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """The name of the row's VideoRequest and the object, when it was made from this row."""
        row_id, owner = str(row["$id"]), owner_of(row.get("$permissions") or [])
        name = request_name(row_id)
        existing = await self.kube.read(self.namespace, name)
        if existing is not None and not made_from(existing, row_id, owner):
            raise RowRefused("This row did not make the request it names; nothing was changed.")
        return name, existing

    async def retry(self, row: Mapping[str, Any]) -> None:
        """The page's retry: one more `spec.retryGeneration` than the request has served (none
        while one is still to be served), then the row's count cleared."""
        name, existing = await self.own_request(row)
        if existing is None and not row.get("error_message"):
            raise RowRefused(NOTHING_TO_RETRY)
        if existing is None:  # refused before: its message says why there is nothing to retry
            await self.update(str(row["$id"]), {"retry_requested": 0})
            return
        spec = existing.get("spec") or {}
        if spec.get("cancel"):
            raise RowRefused("A cancelled request cannot be retried: submit it again.")
        target = retry_target(spec, existing.get("status") or {})
        if target is not None:
            await self.kube.retry(self.namespace, name, target)
        await self.update(str(row["$id"]), {"retry_requested": 0})

    async def delete(self, row: Mapping[str, Any]) -> None:
        """The page's delete: the VideoRequest (the mirror then deletes its rows and files), or,
        for a row no request was made from (refused), the row itself."""
        name, existing = await self.own_request(row)
        if existing is not None:
            await self.kube.delete(self.namespace, name)
            return
        database = self.config.database
        row_id = str(row["$id"])
        await self.caller.call(lambda: self.tables.delete_row(database, VIDEOS.id, row_id))

    async def refuse(
        self, row_id: str, message: str, phase: str, clears: Mapping[str, Any] | None = None
    ) -> None:
        """Write the refusal once (a flag's: its message, the flag cleared); a row it cannot be
        written to is skipped from now on."""
        self.refused += 1
        logger.info("Web request %s refused: %s", row_id, message)
        data = refusal_data(message, phase) if clears is None else flag_refusal_data(message, clears)
        try:
            await self.update(row_id, data)
        except Exception as error:
            if is_transport(error):
                raise
            self.skipped.add(row_id)
            logger.warning(
                "Web request %s skipped: its refusal was not written (%s)", row_id, self.describe(error)
            )

    async def update(self, row_id: str, data: Mapping[str, Any]) -> None:
        database = self.config.database
        await self.caller.call(lambda: self.tables.update_row(database, VIDEOS.id, row_id, dict(data)))

    def describe(self, error: BaseException) -> str:
        if isinstance(error, ApiError):
            return f"Kubernetes answered {error.status.code}: {error.status.message}"
        if isinstance(error, AppwriteException):
            return describe(error, self.config.api_key)
        return f"{type(error).__name__}: {error}"[:300]

    def stats(self) -> dict[str, float]:
        return {
            "created": self.created,
            "refused": self.refused,
            "skipped": len(self.skipped),
            "failed_passes": self.failed_passes,
        }


class IntakeRunner:
    """The intake loop as a supervised task: `start` and `stop` (one pair, for the caller that
    decides where it runs), a crashed loop restarted with backoff, and `health` for liveness."""

    def __init__(
        self, intake: Intake, *, stall_seconds: float = 300.0, restart_backoff: Backoff = RESTART_BACKOFF
    ) -> None:
        self.intake = intake
        self.restart_backoff = restart_backoff
        self.stall_seconds = stall_seconds  # a loop that has not gone round this long is unhealthy
        self.task: asyncio.Task[None] | None = None
        self.restarts = 0
        self.last_crash = ""

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.supervise(), name="web-intake")

    async def stop(self) -> None:
        task, self.task = self.task, None
        while task is not None and not task.done():  # again if a cancellation was lost on the way
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled():
            task.result()  # a loop that ended by itself ended by a bug: say it

    def close(self) -> None:
        self.intake.close()

    async def supervise(self) -> None:
        while True:
            try:
                await self.intake.run()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.restarts += 1
                self.last_crash = f"{type(error).__name__}: {error}"[:300]
                logger.exception("Web intake loop crashed (restart %d)", self.restarts)
                await asyncio.sleep(self.restart_backoff.delay(self.restarts - 1))

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def health(self) -> dict[str, Any]:
        """What the liveness probe reports; `healthy` false when the task died or stalled."""
        since = time.monotonic() - self.intake.beat
        stalled = since > max(self.stall_seconds, 10 * self.intake.poll_seconds)
        stopped = self.task is None  # stopped on purpose (or never started): nothing to be alive
        return {
            "running": self.running,
            "healthy": stopped or (self.running and not stalled),
            "secondsSinceLastPass": round(since, 1),
            "restarts": self.restarts,
            "lastCrash": self.last_crash,
            "failedPasses": self.intake.failed_passes,
            "skippedRows": len(self.intake.skipped),
        }

    def stats(self) -> dict[str, float]:
        """For the metrics endpoint (`scenefarm_intake_*`)."""
        health = self.health()
        return self.intake.stats() | {"up": float(health["healthy"]), "restarts": float(self.restarts)}
