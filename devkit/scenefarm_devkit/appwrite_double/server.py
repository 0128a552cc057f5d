"""The double's HTTP server and lifecycle: `AppwriteDouble` (async) and `AppwriteDoubleThread`.

Middleware order, outermost first: request log, outage window, API key check, injected faults,
Appwrite error bodies. The key is compared, never echoed, logged or stored in the log.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .errors import AppwriteError
from .faults import Fault, FaultPlan, RequestRecord
from .storage import StorageState, chunk_index_of
from .tablesdb import TablesDBState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def build_app(
    project: str, api_key: str, faults: FaultPlan, tablesdb: TablesDBState, storage: StorageState
) -> web.Application:
    @web.middleware
    async def log_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        status = 0
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            faults.record(request.method, request.path, status)

    @web.middleware
    async def outage(request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = faults.outage_kind()
        if kind == "reset" and request.transport is not None:
            request.transport.abort()  # the client sees a dropped connection, no answer
            return web.Response(status=599)
        if kind is not None:
            return error_response(AppwriteError(503, "general_service_disabled", "Service unavailable"))
        return await handler(request)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/health"):
            return await handler(request)
        given_key = request.headers.get("x-appwrite-key", "")
        if request.headers.get("x-appwrite-project") != project:
            return error_response(AppwriteError(404, "project_not_found", "Project not found"))
        if not hmac.compare_digest(given_key.encode(), api_key.encode()):
            return error_response(AppwriteError(401, "general_unauthorized_scope", "Invalid API key"))
        return await handler(request)

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        chunk = chunk_index_of(request.headers.get("content-range"))
        fault = faults.take(request.method, request.path, chunk)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop_chunk:
                request["drop_chunk"] = True
            elif fault.status is not None:
                await request.read()  # drain the body so the client reads our answer
                return error_response(AppwriteError(fault.status, "general_injected", "Injected fault"))
        return await handler(request)

    @web.middleware
    async def appwrite_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except AppwriteError as error:
            return error_response(error)
        except web.HTTPNotFound:
            return error_response(AppwriteError(404, "general_route_not_found", "Route not found"))
        except web.HTTPMethodNotAllowed:
            return error_response(AppwriteError(405, "general_route_not_found", "Method not allowed"))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"name": "http", "ping": 0, "status": "pass"})

    app = web.Application(
        middlewares=[log_requests, outage, authenticate, inject, appwrite_errors],
        client_max_size=16 * 1024 * 1024,
    )
    app.add_routes([web.get("/v1/health", health), *tablesdb.routes(), *storage.routes()])
    return app


def error_response(error: AppwriteError) -> web.Response:
    return web.json_response(error.body(), status=error.code)


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
    ) -> None:
        self.project = project
        self.api_key = api_key
        self.host = host
        self.port = port
        self.faults = FaultPlan()
        self.tablesdb = TablesDBState(column_delay=column_delay)
        self.storage = StorageState()
        self._runner: web.AppRunner | None = None

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
        app = build_app(self.project, self.api_key, self.faults, self.tablesdb, self.storage)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
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
