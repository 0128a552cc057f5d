"""Appwrite Realtime on `/v1/realtime`: the WebSocket the Web SDK subscribes through.

Wire format (server 1.8, Web SDK 27): the client connects to `/v1/realtime?project=<id>` (the
session rides on the cookie, or comes afterwards in an `authentication` message); the server
says `{"type": "connected", "data": {"channels": [], "user": <account or null>}}`; the client
sends `{"type": "subscribe", "data": [{"subscriptionId", "channels", "queries"}]}`,
`unsubscribe`, `authentication` and `ping` (answered `pong`). Changes arrive as
`{"type": "event", "data": {"events", "channels", "timestamp", "payload", "subscriptions"}}`
and go only to connections whose user may read the changed row or file. `drop_all()` cuts
every socket without a close frame, as a network failure would; the SDK reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiohttp import WSMsgType, web

from .accounts import AccountsState
from .identity import Identity
from .model import now_iso

POLICY_VIOLATION = 1008


@dataclasses.dataclass
class Connection:
    ws: web.WebSocketResponse
    request: web.Request
    identity: Identity
    subscriptions: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    outbox: asyncio.Queue[str | None] = dataclasses.field(default_factory=asyncio.Queue)

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(json.dumps(message))

    def matching(self, channels: Iterable[str]) -> list[str]:
        wanted = set(channels)
        return [sid for sid, subscribed in self.subscriptions.items() if subscribed & wanted]


class RealtimeHub:
    """Open connections and their subscriptions; `publish` fans one change out to them."""

    def __init__(self, project: str, accounts: AccountsState) -> None:
        self.project = project
        self.accounts = accounts
        self.connections: list[Connection] = []
        self.sent = 0  # event messages delivered, for tests and benchmarks

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/v1/realtime", self.serve)]

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        connection = Connection(ws, request, self.accounts.identify(request))
        writer = asyncio.create_task(self.write(connection))
        if request.query.get("project") != self.project:
            connection.send(error(POLICY_VIOLATION, "Missing or unknown project ID"))
            connection.outbox.put_nowait(None)
            await writer
            await ws.close(code=POLICY_VIOLATION)
            return ws
        self.connections.append(connection)
        connection.send({"type": "connected", "data": {"channels": [], "user": self.account(connection)}})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.receive(connection, message.data)
        finally:
            with contextlib.suppress(ValueError):
                self.connections.remove(connection)
            connection.outbox.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def write(self, connection: Connection) -> None:
        while (text := await connection.outbox.get()) is not None:
            if connection.ws.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.send_str(text)

    def account(self, connection: Connection) -> dict[str, Any] | None:
        user_id = connection.identity.user_id
        user = self.accounts.users.get(user_id) if user_id else None
        return user.to_json() if user is not None else None

    def receive(self, connection: Connection, text: str) -> None:
        try:
            message = json.loads(text)
            kind, data = message.get("type"), message.get("data")
        except (ValueError, AttributeError):
            connection.send(error(1003, "Message format is not valid."))
            return
        if kind == "ping":
            connection.send({"type": "pong"})
        elif kind == "subscribe" and isinstance(data, list):
            self.subscribe(connection, data)
        elif kind == "unsubscribe" and isinstance(data, list):
            for row in data:
                connection.subscriptions.pop(str((row or {}).get("subscriptionId")), None)
            connection.send(response("unsubscribe", subscriptions=[r.get("subscriptionId") for r in data]))
        elif kind == "authentication" and isinstance(data, dict):
            self.authenticate(connection, str(data.get("session") or ""))
        else:
            connection.send(error(1003, "Message type is not valid."))

    def subscribe(self, connection: Connection, rows: Sequence[Any]) -> None:
        done = []
        for row in rows:
            sid, channels = str(row.get("subscriptionId") or ""), row.get("channels") or []
            if sid and isinstance(channels, list):
                connection.subscriptions[sid] = {str(c) for c in channels}
                queries = row.get("queries") or []
                done.append({"subscriptionId": sid, "channels": channels, "queries": queries})
        connection.send(response("subscribe", subscriptions=done))

    def authenticate(self, connection: Connection, secret: str) -> None:
        user = self.accounts.user_of_secret(secret)
        if user is None:
            connection.send(error(POLICY_VIOLATION, "Session is not valid."))
            return
        connection.identity = Identity(user_id=user.id)
        connection.send(response("authentication", user=user.to_json()))

    def publish(
        self,
        events: Sequence[str],
        channels: Sequence[str],
        payload: dict[str, Any],
        readable: Callable[[Identity], bool],
    ) -> None:
        """Send one change to every connection that subscribed to one of `channels` and whose
        user may read it (`readable`)."""
        timestamp = now_iso()
        for connection in list(self.connections):
            subscriptions = connection.matching(channels)
            if not subscriptions or not readable(connection.identity):
                continue
            data = {
                "events": list(events),
                "channels": list(channels),
                "timestamp": timestamp,
                "payload": payload,
                "subscriptions": subscriptions,
            }
            connection.send({"type": "event", "data": data})
            self.sent += 1

    def drop_all(self) -> int:
        """Cut every connection without a close frame (a network failure); returns how many."""
        dropped = 0
        for connection in list(self.connections):
            transport = connection.request.transport
            if transport is not None:
                transport.abort()
                dropped += 1
        return dropped


def response(to: str, **data: Any) -> dict[str, Any]:
    return {"type": "response", "data": {"to": to, "success": True, **data}}


def error(code: int, message: str) -> dict[str, Any]:
    return {"type": "error", "data": {"code": code, "message": message}}


def event_names(pattern: Sequence[tuple[str, str]], action: str) -> list[str]:
    """Appwrite's event strings for one change: every mix of ids and `*`, with and without the
    action, e.g. `databases.db.tables.*.rows.r1.update` and `databases.*.tables.*.rows.*`."""
    names: list[str] = []
    for wild in itertools.product((False, True), repeat=len(pattern)):
        pairs = zip(pattern, wild, strict=True)
        parts = [f"{kind}.{'*' if star else ident}" for (kind, ident), star in pairs]
        base = ".".join(parts)
        names += [f"{base}.{action}", base]
    return names


def row_change(database: str, table: str, row: str, action: str) -> tuple[list[str], list[str]]:
    """Events and channels of a TablesDB row change (and the legacy document names, which the
    server still sends for collections-era clients)."""
    events = event_names((("databases", database), ("tables", table), ("rows", row)), action)
    events += event_names((("databases", database), ("collections", table), ("documents", row)), action)
    channels = [
        "rows",
        f"databases.{database}.tables.{table}.rows",
        f"databases.{database}.tables.{table}.rows.{row}",
        "documents",
        f"databases.{database}.collections.{table}.documents",
        f"databases.{database}.collections.{table}.documents.{row}",
    ]
    return events, channels


def file_change(bucket: str, file: str, action: str) -> tuple[list[str], list[str]]:
    events = event_names((("buckets", bucket), ("files", file)), action)
    return events, ["files", f"buckets.{bucket}.files", f"buckets.{bucket}.files.{file}"]
