"""What a browser needs from the double: sessions, CORS, per-user permissions and Realtime with
Appwrite's message shapes, filtered by who may read the row. The server side writes with the
real `appwrite` SDK; the browser side is spoken over plain HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from scenefarm_devkit.appwrite_double import AppwriteDouble

KEY = "server-key"
ORIGIN = "http://127.0.0.1:5173"


@pytest.fixture
async def double() -> AsyncIterator[AppwriteDouble]:
    async with AppwriteDouble(api_key=KEY, column_delay=0.0) as running:
        await server(running, "POST", "/tablesdb", {"databaseId": "db", "name": "db"})
        table = {"tableId": "t", "name": "t", "rowSecurity": True, "permissions": ['create("users")']}
        await server(running, "POST", "/tablesdb/db/tables", table)
        await server(running, "POST", "/tablesdb/db/tables/t/columns/varchar", {"key": "topic", "size": 64})
        yield running


async def server(double: AppwriteDouble, method: str, path: str, body: Any = None) -> Any:
    headers = {"x-appwrite-project": double.project, "x-appwrite-key": KEY}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, double.endpoint + path, json=body, headers=headers) as answer,
    ):
        assert answer.status < 300, await answer.text()
        return await answer.json() if answer.content_type == "application/json" else None


class Browser:
    """One browser profile: its own cookie jar, the Web SDK's headers, an Origin."""

    def __init__(self, double: AppwriteDouble) -> None:
        self.double = double
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.headers = {"x-appwrite-project": double.project, "Origin": ORIGIN}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, Any]:
        url = self.double.endpoint + path
        async with self.session.request(method, url, json=body, headers=self.headers) as answer:
            data = await answer.json() if answer.content_type == "application/json" else await answer.read()
            return answer.status, data, answer.headers

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        url = f"ws://{self.double.host}:{self.double.port}/v1/realtime?project={self.double.project}"
        return await self.session.ws_connect(url, headers={"Origin": ORIGIN})

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def browsers(double: AppwriteDouble) -> AsyncIterator[tuple[Browser, Browser]]:
    pair = (Browser(double), Browser(double))
    yield pair
    for browser in pair:
        await browser.close()


async def test_an_anonymous_session_sets_the_cookie_and_the_fallback_header(browsers) -> None:
    alice, _ = browsers
    status, _, _ = await alice.call("GET", "/account")
    assert status == 401
    status, session, headers = await alice.call("POST", "/account/sessions/anonymous")
    assert status == 201 and session["provider"] == "anonymous"
    fallback = json.loads(headers["X-Fallback-Cookies"])
    status, account, _ = await alice.call("GET", "/account")
    assert status == 200 and account["$id"] == session["userId"]
    status, _, _ = await alice.call("POST", "/account/sessions/anonymous")
    assert status == 401  # as on Appwrite: no second session while one is active
    bare = aiohttp.ClientSession()  # no cookies: the SDK's localStorage fallback instead
    headers = {"x-appwrite-project": alice.double.project, "X-Fallback-Cookies": json.dumps(fallback)}
    async with bare, bare.get(alice.double.endpoint + "/account", headers=headers) as answer:
        assert (await answer.json())["$id"] == session["userId"]


async def test_email_password_accounts_sign_in_and_refuse_a_wrong_password(browsers) -> None:
    alice, bob = browsers
    body = {"userId": "unique()", "email": "a@example.com", "password": "correct horse"}
    status, user, _ = await alice.call("POST", "/account", body)
    assert status == 201
    status, error, _ = await bob.call("POST", "/account/sessions/email", body | {"password": "wrong pass"})
    assert (status, error["type"]) == (401, "user_invalid_credentials")
    status, session, _ = await bob.call("POST", "/account/sessions/email", body)
    assert status == 201 and session["userId"] == user["$id"]
    status, _, _ = await bob.call("DELETE", "/account/sessions/current")
    assert status == 204
    assert (await bob.call("GET", "/account"))[0] == 401


async def test_cors_preflight_and_answers_allow_the_pages_origin_with_credentials(browsers) -> None:
    alice, _ = browsers
    status, _, headers = await alice.call("OPTIONS", "/account")
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-Fallback-Cookies" in headers["Access-Control-Allow-Headers"]
    _, _, headers = await alice.call("POST", "/account/sessions/anonymous")
    assert "X-Fallback-Cookies" in headers["Access-Control-Expose-Headers"]


async def test_an_origin_that_is_no_registered_web_platform_is_refused_without_cors_headers(
    double, browsers
) -> None:
    alice, _ = browsers
    alice.headers["Origin"] = "https://attacker.example"
    for method, path in (("OPTIONS", "/account"), ("POST", "/account/sessions/anonymous")):
        status, body, headers = await alice.call(method, path)
        assert (status, body["type"]) == (403, "general_unknown_origin")
        assert "Access-Control-Allow-Origin" not in headers
    alice.headers["Origin"] = "http://localhost:3000"  # a registered platform's hostname, any port
    assert (await alice.call("POST", "/account/sessions/anonymous"))[0] == 201


async def test_a_lone_surrogate_in_a_json_string_is_refused_as_appwrite_refuses_it(double, browsers) -> None:
    alice, _ = browsers
    await alice.call("POST", "/account/sessions/anonymous")
    url = double.endpoint + "/tablesdb/db/tables/t/rows"
    raw = b'{"rowId": "s1", "data": {"topic": "Newton \\ud800 laws"}}'
    headers = alice.headers | {"Content-Type": "application/json"}
    async with alice.session.post(url, data=raw, headers=headers) as answer:
        assert answer.status == 400 and "surrogate" in (await answer.json())["message"]
    paired = b'{"rowId": "s2", "data": {"topic": "\\ud83d\\ude00"}}'  # a real emoji pair is fine
    async with alice.session.post(url, data=paired, headers=headers) as answer:
        assert answer.status == 201


async def test_the_users_api_lists_a_users_sessions_with_their_client_address(double, browsers) -> None:
    alice, _ = browsers
    _, session, _ = await alice.call("POST", "/account/sessions/anonymous")
    listed = await server(double, "GET", f"/users/{session['userId']}/sessions")
    assert [(s["provider"], s["ip"]) for s in listed["sessions"]] == [("anonymous", "127.0.0.1")]
    assert (await alice.call("GET", f"/users/{session['userId']}/sessions"))[0] == 401  # API key only


async def test_users_read_and_change_only_their_own_rows(double, browsers) -> None:
    alice, bob = browsers
    await alice.call("POST", "/account/sessions/anonymous")
    await bob.call("POST", "/account/sessions/anonymous")
    status, row, _ = await alice.call(
        "POST", "/tablesdb/db/tables/t/rows", {"rowId": "r1", "data": {"topic": "x"}}
    )
    assert status == 201
    assert any(p.startswith("update(") for p in row["$permissions"])  # a user's new row is theirs
    _, listed, _ = await bob.call("GET", "/tablesdb/db/tables/t/rows")
    assert listed == {"total": 0, "rows": []}
    assert (await bob.call("GET", "/tablesdb/db/tables/t/rows/r1"))[0] == 404
    assert (await bob.call("PATCH", "/tablesdb/db/tables/t/rows/r1", {"data": {"topic": "y"}}))[0] == 404
    assert (await alice.call("PATCH", "/tablesdb/db/tables/t/rows/r1", {"data": {"topic": "y"}}))[0] == 200
    steal = {"rowId": "r2", "data": {}, "permissions": ['read("user:someone-else")']}
    assert (await alice.call("POST", "/tablesdb/db/tables/t/rows", steal))[0] == 401
    assert (await alice.call("GET", "/tablesdb/db/tables"))[0] == 401  # console operations need the key


async def test_realtime_sends_row_events_only_to_users_who_may_read_the_row(double, browsers) -> None:
    alice, bob = browsers
    _, session, _ = await alice.call("POST", "/account/sessions/anonymous")
    await bob.call("POST", "/account/sessions/anonymous")
    alice_ws, bob_ws = await alice.socket(), await bob.socket()
    connected = await alice_ws.receive_json(timeout=5)
    assert connected["type"] == "connected" and connected["data"]["user"]["$id"] == session["userId"]
    await bob_ws.receive_json(timeout=5)
    channel = "databases.db.tables.t.rows"
    for ws in (alice_ws, bob_ws):
        await ws.send_json({"type": "subscribe", "data": [{"subscriptionId": "s1", "channels": [channel]}]})
        assert (await ws.receive_json(timeout=5))["data"]["to"] == "subscribe"
    owner = f'read("user:{session["userId"]}")'
    await server(
        double, "PUT", "/tablesdb/db/tables/t/rows/v1", {"data": {"topic": "t"}, "permissions": [owner]}
    )
    event = await alice_ws.receive_json(timeout=5)
    assert event["type"] == "event"
    data = event["data"]
    assert set(data) == {"events", "channels", "timestamp", "payload", "subscriptions"}
    assert "databases.db.tables.t.rows.v1.create" in data["events"]
    assert "databases.*.tables.*.rows.*.create" in data["events"]
    assert channel in data["channels"] and data["subscriptions"] == ["s1"]
    assert data["payload"]["$id"] == "v1" and data["payload"]["topic"] == "t"
    await bob_ws.send_json({"type": "ping"})
    assert (await bob_ws.receive_json(timeout=5))["type"] == "pong"  # and no event before it
    await alice_ws.close()
    await bob_ws.close()


async def test_a_session_can_authenticate_the_socket_after_connecting(double, browsers) -> None:
    alice, _ = browsers
    _, session, headers = await alice.call("POST", "/account/sessions/anonymous")
    secret = json.loads(headers["X-Fallback-Cookies"])[f"a_session_{double.project}"]
    anonymous = aiohttp.ClientSession()
    async with anonymous:
        url = f"ws://{double.host}:{double.port}/v1/realtime?project={double.project}"
        ws = await anonymous.ws_connect(url)
        assert (await ws.receive_json(timeout=5))["data"]["user"] is None
        await ws.send_json({"type": "authentication", "data": {"session": secret}})
        answer = await ws.receive_json(timeout=5)
        assert answer["data"]["to"] == "authentication" and answer["data"]["user"]["$id"] == session["userId"]
        await ws.close()


async def test_dropping_the_sockets_cuts_them_without_a_close_frame(double, browsers) -> None:
    alice, _ = browsers
    ws = await alice.socket()
    await ws.receive_json(timeout=5)
    assert double.realtime.drop_all() == 1
    message = await ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR)
    await asyncio.sleep(0)
    assert double.realtime.connections == []


async def test_a_file_url_opened_by_the_browser_is_served_to_its_owner_only(double, browsers) -> None:
    alice, bob = browsers
    _, session, _ = await alice.call("POST", "/account/sessions/anonymous")
    await bob.call("POST", "/account/sessions/anonymous")
    await server(double, "POST", "/storage/buckets", {"bucketId": "b", "name": "b", "fileSecurity": True})
    form = aiohttp.FormData()
    form.add_field("fileId", "f1")
    form.add_field("permissions[]", f'read("user:{session["userId"]}")')
    form.add_field("file", b"hello", filename="code.py")
    headers = {"x-appwrite-project": double.project, "x-appwrite-key": KEY}
    async with aiohttp.ClientSession() as raw:
        await raw.post(double.endpoint + "/storage/buckets/b/files", data=form, headers=headers)
    view = f"/storage/buckets/b/files/f1/view?project={double.project}"
    alice.headers.pop("x-appwrite-project")  # a plain <a href>: the project is in the URL
    bob.headers.pop("x-appwrite-project")
    assert (await alice.call("GET", view))[1] == b"hello"
    assert (await bob.call("GET", view))[0] == 404


async def test_realtime_sends_a_file_event_when_an_upload_completes_to_its_reader_only(
    double, browsers
) -> None:
    alice, bob = browsers
    _, session, _ = await alice.call("POST", "/account/sessions/anonymous")
    await bob.call("POST", "/account/sessions/anonymous")
    await server(double, "POST", "/storage/buckets", {"bucketId": "b", "name": "b", "fileSecurity": True})
    sockets = [await alice.socket(), await bob.socket()]
    for ws in sockets:
        await ws.receive_json(timeout=5)
        await ws.send_json(
            {"type": "subscribe", "data": [{"subscriptionId": "f", "channels": ["buckets.b.files"]}]}
        )
        await ws.receive_json(timeout=5)
    form = aiohttp.FormData()
    form.add_field("fileId", "video")
    form.add_field("permissions[]", f'read("user:{session["userId"]}")')
    form.add_field("file", b"\x00" * 10, filename="video.mp4")
    headers = {"x-appwrite-project": double.project, "x-appwrite-key": KEY}
    async with aiohttp.ClientSession() as raw:
        await raw.post(double.endpoint + "/storage/buckets/b/files", data=form, headers=headers)
    event = (await sockets[0].receive_json(timeout=5))["data"]
    assert "buckets.b.files.video.create" in event["events"] and event["payload"]["$id"] == "video"
    await sockets[1].send_json({"type": "ping"})
    assert (await sockets[1].receive_json(timeout=5))["type"] == "pong"  # bob got no event first
    for ws in sockets:
        await ws.close()
