"""The double's aiohttp application: routes and middlewares.

Middleware order, outermost first: request log, CORS (only registered Web platforms, as on
Appwrite: any other Origin is refused 403), outage window, who is calling (API key, session or
guest), injected faults, Appwrite error bodies. The key is compared, never echoed,
logged or stored in the log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import urllib.parse
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from .accounts import AccountsState
from .errors import AppwriteError
from .faults import FaultPlan
from .identity import GUEST, SERVER
from .model import DROP_CHUNK, IDENTITY
from .realtime import RealtimeHub
from .storage import StorageState, chunk_index_of
from .tablesdb import TablesDBState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What a browser may send and read across origins (Appwrite's own lists, trimmed to what the SDK uses).
ALLOW_HEADERS = (
    "Content-Type, Content-Range, Range, Cache-Control, X-Appwrite-Project, X-Appwrite-Key, "
    "X-Appwrite-JWT, X-Appwrite-Session, X-Appwrite-Response-Format, X-Appwrite-ID, X-Appwrite-Locale, "
    "X-Fallback-Cookies, X-SDK-Version, X-SDK-Name, X-SDK-Language, X-SDK-Platform"
)
EXPOSE_HEADERS = "X-Appwrite-Session, X-Fallback-Cookies"


@dataclasses.dataclass
class Services:
    project: str
    api_key: str
    faults: FaultPlan
    accounts: AccountsState
    tablesdb: TablesDBState
    storage: StorageState
    realtime: RealtimeHub
    allowed_origins: tuple[str, ...] = ()  # exact origins allowed besides the platforms' hostnames
    platforms: tuple[str, ...] = ("localhost", "127.0.0.1")  # hostnames of registered Web platforms


def build_app(s: Services) -> web.Application:
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
            s.faults.record(request.method, request.path, status)

    @web.middleware
    async def outage(request: web.Request, handler: Handler) -> web.StreamResponse:
        kind = s.faults.outage_kind()
        if kind == "reset" and request.transport is not None:
            request.transport.abort()  # the client sees a dropped connection, no answer
            return web.Response(status=599)
        if kind is not None:
            return error_response(AppwriteError(503, "general_service_disabled", "Service unavailable"))
        return await handler(request)

    @web.middleware
    async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
        chunk = chunk_index_of(request.headers.get("content-range"))
        fault = s.faults.take(request.method, request.path, chunk)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop_chunk:
                request[DROP_CHUNK] = True
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
        middlewares=[
            log_requests,
            cors_middleware(s),
            outage,
            authenticate_middleware(s),
            inject,
            appwrite_errors,
        ],
        client_max_size=16 * 1024 * 1024,
    )
    app.add_routes(
        [
            web.get("/v1/health", health),
            *s.accounts.routes(),
            *s.accounts.server_routes(),
            *s.realtime.routes(),
            *s.tablesdb.routes(),
            *s.storage.routes(),
        ]
    )
    return app


def cors_middleware(s: Services) -> Middleware:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and not registered(s, origin):
            host = origin.split("://", 1)[-1]
            return error_response(
                AppwriteError(
                    403,
                    "general_unknown_origin",
                    f"Invalid Origin. Register your new client ({host}) as a new Web platform "
                    "on your project console dashboard",
                )
            )
        if request.method == "OPTIONS" and origin is not None:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if origin is not None and not isinstance(response, web.WebSocketResponse):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            response.headers["Vary"] = "Origin"
        return response

    return cors


def registered(s: Services, origin: str) -> bool:
    """Appwrite answers a browser only from a registered Web platform: its hostname (any port or
    scheme), as the project's console lists it; the answer then allows that one origin."""
    if origin in s.allowed_origins:
        return True
    host = urllib.parse.urlsplit(origin).hostname
    return host is not None and host in s.platforms


def authenticate_middleware(s: Services) -> Middleware:
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/health") or request.path == "/v1/realtime":
            request[IDENTITY] = GUEST  # Realtime checks the project and session itself
            return await handler(request)
        # File URLs a browser opens directly carry the project in the query, not a header.
        project = request.headers.get("x-appwrite-project") or request.query.get("project")
        if project != s.project:
            return error_response(AppwriteError(404, "project_not_found", "Project not found"))
        given_key = request.headers.get("x-appwrite-key")
        if given_key is None:
            request[IDENTITY] = s.accounts.identify(request)
        elif hmac.compare_digest(given_key.encode(), s.api_key.encode()):
            request[IDENTITY] = SERVER
        else:
            return error_response(AppwriteError(401, "general_unauthorized_scope", "Invalid API key"))
        return await handler(request)

    return authenticate


def error_response(error: AppwriteError) -> web.Response:
    return web.json_response(error.body(), status=error.code)
