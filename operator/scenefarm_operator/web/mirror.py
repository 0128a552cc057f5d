"""`AppwriteMirror`: the latest published state of every VideoRequest, written in the background.

`publish` only records the desired rows (never blocks, never raises); a flusher task writes the
rows that differ from what it last wrote, at most one write per row per `coalesce_seconds`, so
bursts collapse into one write carrying the final state. When Appwrite is unreachable the mirror
keeps recording, reports `synced: False`, probes with one write at a time with backoff, and on
recovery re-writes every row from the latest state (Appwrite may have lost writes meanwhile).

A web request the intake made writes the request row its user created (`rows.desired_rows`),
but only once `ownership.row_is_owners` found that row its owner's: until then none of its rows
are written, and a request refused its row is not mirrored at all (`status.appwrite` says why).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB

from scenefarm_contract import phases
from scenefarm_contract.appwrite_sdk import status_of
from scenefarm_operator.web import forgetting
from scenefarm_operator.web.calls import AppwriteConfig, Caller, describe, is_retryable, make_client
from scenefarm_operator.web.layout import VIDEOS
from scenefarm_operator.web.ownership import Claims
from scenefarm_operator.web.rows import DesiredRow, desired_rows, video_row_id
from scenefarm_operator.web.schema import ensure_schema

logger = logging.getLogger(__name__)
RowKey = tuple[str, str]
SYNCED_MESSAGE = "Mirrored to Appwrite"
FORGOTTEN_MEMORY = 10_000  # deleted uids remembered so late publishes do not recreate their rows


@dataclasses.dataclass(frozen=True)
class SyncState:
    """What the operator puts into `status.appwrite` and the `AppwriteSynced` condition."""

    synced: bool
    message: str
    row_id: str


class AppwriteMirror:
    def __init__(self, config: AppwriteConfig, *, client: Client | None = None) -> None:
        self.config = config
        self.client = client or make_client(config)
        self.tables = TablesDB(self.client)
        self.caller = Caller(config)
        self.writes = 0  # successful row writes, for benchmarks and tests
        self.failures = 0  # failed row writes (metrics)
        self._last_success = time.monotonic()
        self._lock = threading.Lock()  # publish may come from kopf's sync-handler threads
        self._desired: dict[RowKey, DesiredRow] = {}
        self._written: dict[RowKey, tuple[Mapping[str, Any], tuple[str, ...]]] = {}
        self._dirty: dict[RowKey, None] = {}  # ordered set: oldest change first
        self._last_write: dict[RowKey, float] = {}
        self._rows_of: dict[str, list[RowKey]] = {}
        self._uid_of: dict[RowKey, str] = {}
        self._errors: dict[str, str] = {}  # uid -> last non-retryable failure
        self._forgotten: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._eta: dict[str, str | None] = {}  # uid -> status.estimatedCompletionTime as last seen live
        self._claims = Claims()  # web requests: is their row their owner's?
        self._inflight: dict[RowKey, asyncio.Future[None]] = {}
        self._sending: dict[RowKey, tuple[Mapping[str, Any], tuple[str, ...]]] = {}
        self._outage: str | None = None
        self._outages = 0  # failed writes since the last success: the probes' backoff count
        self._retry_at = 0.0
        self._ready = False
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._bootstrap: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self, wait_seconds: float = 10.0) -> None:
        """Bootstrap the schema (waiting at most `wait_seconds`; it goes on in the background) and
        start the flusher. Never raises for Appwrite being down: the operator must start anyway."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._bootstrap = asyncio.create_task(self._ensure_schema())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(wait_seconds):
                await asyncio.shield(self._bootstrap)
        self._flusher = asyncio.create_task(self._run(), name="appwrite-mirror")

    async def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending (ignoring the coalescing interval), then stop; bounded."""
        self._stopping = True
        self._poke()
        tasks = [t for t in (self._flusher, self._bootstrap) if t is not None]
        if self._flusher is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._flusher)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.caller.close()

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def idle(self) -> bool:
        """Nothing waiting to be written and nothing on its way."""
        with self._lock:
            return not self._dirty and not self._inflight

    def stats(self) -> dict[str, float]:
        """For the metrics endpoint: writes, errors, up, pending rows, and the sync lag."""
        with self._lock:
            pending = len(self._dirty) + len(self._inflight)
            lag = time.monotonic() - self._last_success if pending else 0.0
            up = 1.0 if self._outage is None and self._ready else 0.0
            return {"writes": self.writes, "errors": self.failures, "up": up, "pending": pending, "lag": lag}

    # what the operator calls

    def publish(self, body: Mapping[str, Any]) -> None:
        """Record the latest desired state of a VideoRequest. Non-blocking; never raises."""
        try:
            uid = str(body["metadata"]["uid"])
            rows = desired_rows(body, self.config.intake_namespace)
        except Exception as error:
            name = (body.get("metadata") or {}).get("name") if isinstance(body, Mapping) else None
            logger.warning("Not mirroring VideoRequest %s to Appwrite: %r", name, error)
            return
        web_row = rows[0].row_id if rows[0].row_id != video_row_id(uid) else None
        with self._lock:
            if uid in self._forgotten:
                return
            if not self._claims.note(uid, body, web_row, first=uid not in self._rows_of):
                return
            rows = [self._with_eta(uid, row) for row in rows]
            if not self._dirty and not self._inflight:  # the lag clock starts with the first pending row
                self._last_success = time.monotonic()
            keys = [row.key for row in rows]
            for stale in set(self._rows_of.get(uid, ())) - set(keys):
                self._drop(stale)
            self._rows_of[uid] = keys
            for row in rows:
                self._desired[row.key] = row
                self._uid_of[row.key] = uid
                sent = self._sending.get(row.key) or self._written.get(row.key)
                if sent != (row.data, row.permissions):
                    self._dirty.setdefault(row.key)
                else:
                    self._dirty.pop(row.key, None)
        self._poke()

    def note_live(self, body: Mapping[str, Any]) -> None:
        """The object as a watch event shows it. Fields other handlers patch into the status after
        the reconcile published (the ETA, by the accounting) reach the video row this way."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        status = body.get("status") or {}
        eta = status.get("estimatedCompletionTime") if status.get("phase") not in phases.TERMINAL else None
        with self._lock:
            if not uid or uid in self._forgotten or (uid in self._eta and self._eta[uid] == eta):
                return
            self._eta[uid] = eta
            keys = self._rows_of.get(uid)
            row = self._desired.get(keys[0]) if keys else None
            if row is None:
                return
            updated = self._with_eta(uid, row)
            if updated == row:
                return
            self._desired[row.key] = updated
            self._dirty.setdefault(row.key)
        self._poke()

    def _with_eta(self, uid: str, row: DesiredRow) -> DesiredRow:
        """The video row with the live ETA, while the request runs (called under the lock)."""
        if row.table != VIDEOS.id or uid not in self._eta or row.data.get("phase") in phases.TERMINAL:
            return row
        if row.data.get("eta") == self._eta[uid]:
            return row
        return dataclasses.replace(row, data={**row.data, "eta": self._eta[uid]})

    def healthy(self, uid: str) -> bool:
        """No outage and no error for this VideoRequest: writes in flight are normal, not unsynced."""
        with self._lock:
            return self._outage is None and uid not in self._errors

    def state_for(self, uid: str) -> SyncState:
        try:
            row_id = video_row_id(uid)
        except ValueError:
            return SyncState(False, "VideoRequest has no uid", "")
        with self._lock:
            keys = self._rows_of.get(uid)
            if keys is None:
                return SyncState(False, "Not published to the mirror yet", row_id)
            row_id = keys[0][1]  # the video row: a web request's is the row its user created
            if uid in self._errors:
                return SyncState(False, self._errors[uid], row_id)
            pending = any(key in self._dirty for key in keys)
            if pending and self._outage:
                return SyncState(False, f"{self._outage}; retrying", row_id)
            if any(key not in self._written for key in keys):
                return SyncState(False, "Waiting for the first write to Appwrite", row_id)
        return SyncState(True, SYNCED_MESSAGE, row_id)

    async def forget(
        self, body: Mapping[str, Any], timeout: float = 10.0, offers: Iterable[Mapping[str, Any]] = ()
    ) -> bool:
        """On VideoRequest deletion: delete (or, with on_delete=Retain, mark) its rows and files;
        files another live request reuses stay (`offers`: the scene cache's index of the
        namespace). Returns False when Appwrite could not be reached in `timeout`: the finalizer
        may give up."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        with self._lock:
            self._forgotten[uid] = None
            while len(self._forgotten) > FORGOTTEN_MEMORY:
                self._forgotten.popitem(last=False)
            keys = self._rows_of.pop(uid, [])
            self._eta.pop(uid, None)
            self._claims.forget(uid)
            for key in keys:
                self._drop(key)
            self._errors.pop(uid, None)
            inflight = [f for k, f in self._inflight.items() if k in keys]
        try:
            # A write still on its way would recreate a row we delete now.
            async with asyncio.timeout(timeout):
                await asyncio.gather(*inflight, return_exceptions=True)
            async with asyncio.timeout(timeout):
                await forgetting.forget(self, body, list(offers))
        except (AppwriteException, TimeoutError) as error:
            logger.warning("Could not remove VideoRequest %s from Appwrite: %s", uid, self._describe(error))
            return False
        return True

    # the flusher

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _drop(self, key: RowKey) -> None:
        for table in (self._desired, self._written, self._dirty, self._last_write, self._uid_of):
            table.pop(key, None)  # type: ignore[attr-defined]

    def _describe(self, error: BaseException) -> str:
        return describe(error, self.config.api_key)

    async def _ensure_schema(self) -> None:
        await self.caller.once(
            lambda: ensure_schema(
                self.client, self.config.database, self.config.bucket, user_requests=self.config.user_requests
            ),
            timeout=self.config.call_timeout * 3,
        )
        self._ready = True

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            with self._lock:
                if self._stopping and (not self._dirty or self._outage):
                    return
                due, wait = self._due_rows()
            if due and not self._ready:
                due, wait = [], 0.0 if await self._try_bootstrap() else self._retry_at - time.monotonic()
            if due and self._outage:
                due = due[:1]  # probe with one row before sending everything
            if due:
                due = await self._check_owners(due)
                if not due:
                    continue  # the rows wait for their check (after an outage's backoff) or were refused
                await asyncio.gather(*(self._write(key) for key in due))
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not wait_for: on 3.11 it can swallow a cancel
                    await self._wake.wait()

    async def _check_owners(self, due: list[RowKey]) -> list[RowKey]:
        """`due` without the rows of web requests whose row is not known to be their owner's: each
        request's row is read before its first write; a request refused its row is never written."""
        with self._lock:
            uids = {self._uid_of[key] for key in due if key in self._uid_of}
        try:
            refused = await self._claims.check(self, uids)
        except Exception as error:  # unreachable: checked again after the outage's backoff
            self._note_outage(error)
            refused = {}
        held = self._claims.held()
        with self._lock:
            for uid, message in refused.items():
                self._errors[uid] = message
                for key in self._rows_of.get(uid, ()):
                    self._drop(key)  # not even a re-sync after an outage writes them
            return [key for key in due if key in self._desired and self._uid_of.get(key) not in held]

    def _due_rows(self) -> tuple[list[RowKey], float | None]:
        """Rows to write now, and how long to wait for the next one (None: until woken)."""
        now = time.monotonic()
        if self._retry_at > now:
            return [], self._retry_at - now
        interval = 0.0 if self._stopping else self.config.coalesce_seconds
        due, next_at = [], None
        for key in self._dirty:
            if key in self._inflight:
                continue
            at = self._last_write.get(key, -interval) + interval
            if at <= now or self._changes_status(key):
                due.append(key)
            else:
                next_at = at if next_at is None else min(next_at, at)
        return due, None if next_at is None else next_at - now

    def _changes_status(self, key: RowKey) -> bool:
        """A new `status` is written at once, not coalesced: a page shows every step of the
        original enum (queued, planning, ...), and there are only a handful per request."""
        desired, written = self._desired.get(key), self._written.get(key)
        return (
            desired is not None
            and written is not None
            and desired.data.get("status") != written[0].get("status")
        )

    async def _try_bootstrap(self) -> bool:
        if self._bootstrap is None or self._bootstrap.done():
            self._bootstrap = asyncio.create_task(self._ensure_schema())
        try:
            await asyncio.shield(self._bootstrap)
        except Exception as error:
            self._note_outage(error)
            return False
        return True

    async def _write(self, key: RowKey) -> None:
        with self._lock:
            row = self._desired.get(key)
            if row is None or key not in self._dirty:
                return
            snapshot = (dict(row.data), row.permissions)
            self._dirty.pop(key, None)
            self._last_write[key] = time.monotonic()
            uid = self._uid_of[key]
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._inflight[key] = done
            self._sending[key] = snapshot
        attempts = 1 if self._outage else None
        try:
            await self.caller.call(
                lambda: self.tables.upsert_row(
                    self.config.database, row.table, row.row_id, snapshot[0], list(snapshot[1])
                ),
                attempts=attempts,
            )
        except (AppwriteException, TimeoutError) as error:
            self._write_failed(key, uid, row, error)
        else:
            self._write_succeeded(key, uid, snapshot)
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                self._sending.pop(key, None)
            done.set_result(None)

    def _write_succeeded(
        self, key: RowKey, uid: str, snapshot: tuple[Mapping[str, Any], tuple[str, ...]]
    ) -> None:
        with self._lock:
            self.writes += 1
            self._last_success = time.monotonic()
            if key in self._desired:
                self._written[key] = snapshot
            self._errors.pop(uid, None)
            if self._outage is not None:
                logger.info("Appwrite is reachable again; re-syncing %d rows", len(self._desired))
                self._outage, self._outages, self._retry_at = None, 0, 0.0
                self._written.clear()
                self._dirty.update(dict.fromkeys(self._desired))
                self._last_write.clear()

    def _write_failed(self, key: RowKey, uid: str, row: DesiredRow, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if key in self._desired:
                self._dirty.setdefault(key)
                self._last_write.pop(key, None)
        if is_retryable(error):
            self._note_outage(error)
        elif status_of(error) == 404:
            self._ready = False  # the table or database went away: bootstrap again
            logger.warning("Appwrite table %s is missing; bootstrapping the schema again", row.table)
        else:
            with self._lock:
                self._errors[uid] = self._describe(error)
                self._dirty.pop(key, None)  # the same data would fail again: wait for a change
            logger.warning("Appwrite refused row %s: %s", row.row_id, self._describe(error))

    def _note_outage(self, error: BaseException) -> None:
        message = self._describe(error)
        with self._lock:
            if self._outage is None:
                logger.warning("Appwrite unavailable, mirroring paused: %s", message)
            self._outage = message
            self._retry_at = time.monotonic() + self.config.outage_backoff.delay(self._outages)
            self._outages += 1
