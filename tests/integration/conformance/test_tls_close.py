"""Transport: a client's TLS close of an open watch is answered as the real server answers it.

Sources: Go crypto/tls `Conn.Read` (a close_notify alert reads as io.EOF) and `Conn.Close` (sends
close_notify, then closes the TCP connection); net/http `connReader.backgroundRead` and
`handleReadError` (that EOF cancels the request's context); apiserver `WatchServer.ServeHTTP`
(returns once the request's context is done). kopf stops its watches this way at shutdown: aiohttp
closes the response's connection, asyncio sends close_notify and frees the socket only when the
server's close_notify (or the TCP end) comes back.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import urllib.parse
import uuid

import aiohttp

from scenefarm_devkit.apiserver import DevClusterThread

HANG_GUARD = 20.0  # seconds: only so that a server that never answers fails instead of hanging


def _tls(cluster: DevClusterThread) -> tuple[str, int, ssl.SSLContext, str]:
    url = urllib.parse.urlsplit(cluster.url)
    assert url.scheme == "https" and cluster.ca_pem is not None
    context = ssl.create_default_context(cadata=cluster.ca_pem.decode())
    return url.hostname or "", url.port or 443, context, cluster.token_for("admin")


def _watch_path(label: str) -> str:
    # Nothing matches the label and bookmarks are off: after the headers the server sends nothing.
    return f"/api/v1/namespaces/default/configmaps?watch=true&labelSelector=probe%3D{label}"


def _ended_watches(cluster: DevClusterThread, label: str) -> list[str]:
    return [r.query for r in cluster.request_log.matching(verb="watch") if label in r.query]


def test_a_watch_closed_with_close_notify_gets_close_notify_then_the_connection_end(
    cluster: DevClusterThread,
) -> None:
    host, port, context, token = _tls(cluster)
    label = uuid.uuid4().hex
    raw = socket.create_connection((host, port), timeout=HANG_GUARD)
    conn = context.wrap_socket(raw, server_hostname=host)
    request = f"GET {_watch_path(label)} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
    conn.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"transfer-encoding: chunked" in head.lower()
    # Our close_notify; unwrap() returns only once the server's close_notify has been read.
    plain = conn.unwrap()
    assert plain.recv(1) == b""  # and then the TCP connection ends
    plain.close()
    # The watch itself ended on the server (its request is logged when its handler returns).
    deadline = time.monotonic() + HANG_GUARD
    while not _ended_watches(cluster, label) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_ended_watches(cluster, label)) == 1


async def test_a_watch_response_closed_by_aiohttp_frees_its_connection_cleanly(
    cluster: DevClusterThread,
) -> None:
    """kopf's own path: `async with response` left mid-stream closes the TLS connection."""
    host, port, context, token = _tls(cluster)
    label = uuid.uuid4().hex
    connector = aiohttp.TCPConnector(limit=0, ssl=context)  # as kopf's APIContext builds it
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async with session.get(f"https://{host}:{port}{_watch_path(label)}") as response:
            assert response.status == 200
            assert response.connection is not None and response.connection.protocol is not None
            closed = response.connection.protocol.closed  # set when the socket is really closed
            assert closed is not None
        # Leaving the block mid-stream: aiohttp closes the connection (TLS close_notify). Without
        # the server's close_notify the socket stays open until asyncio's SSL shutdown times out
        # (30 s), and then the future fails: it raises here unless the connection ended cleanly.
        await asyncio.wait_for(closed, HANG_GUARD)
