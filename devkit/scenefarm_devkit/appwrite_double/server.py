"""The double's server and lifecycle: `AppwriteDouble` (async) and `AppwriteDoubleThread`.

It wires the services together: row and file changes go to Realtime, which sends each one only
to the connections whose user may read the row or file.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .accounts import AccountsState
from .app import Services, build_app
from .faults import Fault, FaultPlan, RequestRecord
from .identity import Identity, may
from .model import Table
from .realtime import RealtimeHub, file_change, row_change
from .storage import StorageState, StoredFile
from .tablesdb import TablesDBState

T = TypeVar("T")


class AppwriteDouble:
    """An Appwrite stand-in on 127.0.0.1; `async with AppwriteDouble() as double: double.endpoint`."""

    def __init__(
        self,
        *,
        project: str = "scenefarm-test",
        api_key: str = "double-api-key",
        host: str = "127.0.0.1",
        port: int = 0,
        column_delay: float = 0.2,
        allowed_origins: tuple[str, ...] = (),
        platforms: tuple[str, ...] = ("localhost", "127.0.0.1"),
        anonymous_sessions: bool = True,
    ) -> None:
        self.project = project
        self.api_key = api_key
        self.host = host
        self.port = port
        self.allowed_origins = allowed_origins
        self.platforms = platforms  # hostnames of the Web platforms registered in the project
        self.faults = FaultPlan()
        self.accounts = AccountsState(project, anonymous_sessions=anonymous_sessions)
        self.realtime = RealtimeHub(project, self.accounts)
        self.tablesdb = TablesDBState(column_delay=column_delay, notify=self._row_changed)
        self.storage = StorageState(notify=self._file_changed)
        self._runner: web.AppRunner | None = None

    def _row_changed(self, action: str, table: Table, row: dict[str, Any]) -> None:
        events, channels = row_change(table.database_id, table.id, row["$id"], action)
        own = list(row["$permissions"]) if table.row_security else None
        container = list(table.permissions)

        def readable(who: Identity) -> bool:
            return may(who, "read", container, own)

        self.realtime.publish(events, channels, row, readable)

    def _file_changed(self, action: str, bucket: dict[str, Any], stored: StoredFile) -> None:
        events, channels = file_change(bucket["$id"], stored.id, action)
        own = list(stored.permissions) if bucket["fileSecurity"] else None
        container = list(bucket["$permissions"])

        def readable(who: Identity) -> bool:
            return may(who, "read", container, own)

        self.realtime.publish(events, channels, stored.to_json(), readable)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def requests(self) -> list[RequestRecord]:
        return self.faults.requests()

    def inject(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def rows(self, database_id: str, table_id: str) -> dict[str, dict[str, Any]]:
        """A copy of a table's rows by id, as the API would answer them."""
        table = self.tablesdb.tables.get((database_id, table_id))
        if table is None:
            return {}
        return {row_id: table.row_json(row) for row_id, row in list(table.rows.items())}

    def row_history(self, database_id: str, table_id: str, row_id: str) -> list[dict[str, Any]]:
        """Every state a row was written with, oldest first."""
        table = self.tablesdb.tables.get((database_id, table_id))
        return list(table.history.get(row_id, [])) if table is not None else []

    def file_content(self, bucket_id: str, file_id: str) -> bytes | None:
        stored = self.storage.files.get((bucket_id, file_id))
        return stored.content() if stored is not None and stored.complete else None

    async def start(self) -> None:
        services = Services(
            self.project,
            self.api_key,
            self.faults,
            self.accounts,
            self.tablesdb,
            self.storage,
            self.realtime,
            self.allowed_origins,
            self.platforms,
        )
        app = build_app(services)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.realtime.drop_all()  # open sockets would hold the shutdown for their timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> AppwriteDouble:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class AppwriteDoubleThread:
    """The double served from its own thread and event loop, for synchronous callers and tests
    whose own loop must stay free (the SDK blocks the thread that calls it)."""

    def __init__(self, **kwargs: Any) -> None:
        self.double = AppwriteDouble(**kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="appwrite-double", daemon=True)

    @property
    def endpoint(self) -> str:
        return self.double.endpoint

    @property
    def faults(self) -> FaultPlan:
        return self.double.faults

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop, so it sees the state between requests, not during one."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def rows(self, database_id: str, table_id: str) -> dict[str, dict[str, Any]]:
        return self.call(lambda: self.double.rows(database_id, table_id))

    def row_history(self, database_id: str, table_id: str, row_id: str) -> list[dict[str, Any]]:
        return self.call(lambda: self.double.row_history(database_id, table_id, row_id))

    def requests(self) -> list[RequestRecord]:
        return self.double.requests()

    def inject(self, fault: Fault) -> Fault:
        return self.double.inject(fault)

    def drop_realtime(self) -> int:
        """Cut every Realtime socket (fault injection); the Web SDK reconnects."""
        return self.call(self.double.realtime.drop_all)

    def start(self) -> AppwriteDoubleThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.double.start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.double.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> AppwriteDoubleThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
