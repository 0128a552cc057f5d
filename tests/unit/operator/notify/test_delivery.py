"""Webhook delivery against a local receiver that answers, fails, times out and redirects, and to
the checked address only (DNS rebinding, Host header, SNI and certificate name)."""

import asyncio
import ipaddress
import json
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpcore2
import httpx2
import pytest
from aiohttp import web

from scenefarm_devkit.apiserver.pki import CertificateAuthority
from scenefarm_operator.observe.notify import ledger, signing
from scenefarm_operator.observe.notify.delivery import Notifier
from scenefarm_operator.support.settings import Settings

KEY = "test-signing-key"


class Receiver:
    def __init__(self) -> None:
        self.hits: list[tuple[str, dict[str, str], bytes]] = []
        self.failures_left = 2

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.hits.append((request.path, dict(request.headers), body))
        if request.path == "/flaky" and self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=500)
        if request.path == "/slow":
            await asyncio.sleep(3)
        if request.path == "/redirect":
            raise web.HTTPFound("/ok")
        if request.path == "/broken":
            return web.Response(status=503)
        return web.Response(status=204)

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.hits]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, port
    await runner.cleanup()


class Cluster:
    """The VideoRequest's annotations, as the API server would keep them between restarts."""

    def __init__(self) -> None:
        self.annotations: dict[str, str] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}

    async def write(self, namespace: str, name: str, annotations: Mapping[str, str | None]) -> None:
        self.annotations.update({k: v for k, v in annotations.items() if v is not None})

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.secrets.get((namespace, name))

    def ledger(self) -> ledger.Ledger:
        return ledger.load(self.annotations)


def settings(tmp_path: Path, port: int, **overrides: Any) -> Settings:
    names = ["ok", "flaky", "slow", "redirect", "broken"]
    (tmp_path / "keys").mkdir(exist_ok=True)
    for name in names:
        (tmp_path / "keys" / name).write_text(KEY)
    allow = [{"name": n, "url": f"http://127.0.0.1:{port}/{n}", "allowPrivate": True} for n in names]
    values: dict[str, Any] = {
        "notify_targets": json.dumps(allow),
        "notify_keys_dir": str(tmp_path / "keys"),
        "notify_backoff_seconds": 0.05,
        "notify_timeout_seconds": 0.3,
        "notify_max_attempts": 4,
    }
    return Settings(**(values | overrides))


def finished(notify: dict[str, Any], annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {
            "namespace": "videos",
            "name": "newton",
            "uid": "uid-1",
            "annotations": dict(annotations or {}),
        },
        "spec": {"topic": "t", "notify": notify},
        "status": {"phase": "Succeeded", "finishedAt": now, "scenesTotal": 1, "scenesSucceeded": 1},
    }


async def deliver(notifier: Notifier, body: dict[str, Any]) -> None:
    notifier.consider(body)
    await asyncio.wait_for(notifier.idle(), 20)


async def test_a_delivered_event_is_signed_cloudevents_json(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"target": "ok"}))
    ((path, headers, body),) = rec.hits
    assert path == "/ok"
    assert headers["Content-Type"].startswith("application/cloudevents+json")
    assert signing.verify(KEY, headers[signing.HEADER], body, now=int(time.time()))
    envelope = json.loads(body)
    assert envelope["type"] == "dev.scenefarm.videorequest.succeeded" and envelope["id"] == headers["Ce-Id"]
    assert [e.result for e in cluster.ledger().values()] == [ledger.DELIVERED]


async def test_a_failing_receiver_gets_the_same_event_again_until_it_answers(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"target": "flaky"}))
    assert rec.paths() == ["/flaky"] * 3
    ids = {json.loads(body)["id"] for _, _, body in rec.hits}
    assert len(ids) == 1  # one event id: the receiver de-duplicates on it
    (entry,) = cluster.ledger().values()
    assert (entry.result, entry.attempts) == (ledger.DELIVERED, 3)


async def test_a_receiver_that_times_out_is_retried_then_given_up(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port, notify_max_attempts=2), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"target": "slow"}))
    assert rec.paths() == ["/slow", "/slow"]
    (entry,) = cluster.ledger().values()
    assert entry.result == ledger.ABANDONED and "no answer within" in entry.error


async def test_redirects_are_not_followed_and_end_the_event(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"target": "redirect"}))
    assert rec.paths() == ["/redirect"]  # /ok never reached
    (entry,) = cluster.ledger().values()
    assert entry.result == ledger.REFUSED and "redirect" in entry.error


async def test_a_secret_pointing_at_a_private_address_is_refused_without_a_request(
    tmp_path, receiver
) -> None:
    rec, port = receiver
    cluster = Cluster()
    cluster.secrets[("videos", "hook")] = {"url": f"http://127.0.0.1:{port}/ok", "signingKey": KEY}
    notifier = Notifier(settings(tmp_path, port, notify_secret_refs=True), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    assert rec.hits == []
    (entry,) = cluster.ledger().values()
    assert entry.result == ledger.REFUSED and "non-public address 127.0.0.1" in entry.error


async def test_secret_refs_are_refused_unless_the_operator_allows_them(tmp_path, receiver) -> None:
    _, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    (entry,) = cluster.ledger().values()
    assert entry.result == ledger.REFUSED and "notify.secretRefs" in entry.error


async def test_an_unknown_target_name_is_refused_with_the_known_names(tmp_path, receiver) -> None:
    _, port = receiver
    cluster = Cluster()
    notifier = Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write)
    await deliver(notifier, finished({"target": "nope"}))
    (entry,) = cluster.ledger().values()
    assert "not an allowlisted target" in entry.error and "flaky" in entry.error


async def test_a_restarted_operator_resumes_retries_from_the_persisted_ledger(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    first = Notifier(
        settings(tmp_path, port, notify_backoff_seconds=60.0), cluster.read_secret, cluster.write
    )
    body = finished({"target": "broken"})
    first.consider(body)
    while not cluster.annotations:  # the first attempt failed and was recorded; then the process dies
        await asyncio.sleep(0.02)
    await first.close()
    (entry,) = cluster.ledger().values()
    assert (entry.result, entry.attempts) == (ledger.PENDING, 1)

    # The next process sees the annotation; the retry is made due now (as if the minute had passed).
    book = {k: ledger.Entry(e.type, e.attempts, 0.0, e.result, e.error) for k, e in cluster.ledger().items()}
    restarted = finished({"target": "broken"}, {ledger.ANNOTATION: ledger.dump(book)})
    restarted["status"] = body["status"]
    second = Notifier(settings(tmp_path, port, notify_max_attempts=3), cluster.read_secret, cluster.write)
    await deliver(second, restarted)
    (entry,) = cluster.ledger().values()
    assert (entry.result, entry.attempts) == (ledger.ABANDONED, 3)  # 1 before the restart + 2 after
    assert rec.paths() == ["/broken"] * 3


async def test_a_delivered_event_is_not_sent_again_after_a_restart(tmp_path, receiver) -> None:
    rec, port = receiver
    cluster = Cluster()
    body = finished({"target": "ok"})
    await deliver(Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write), body)
    again = finished({"target": "ok"}, cluster.annotations)
    again["status"] = body["status"]
    await deliver(Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write), again)
    assert rec.paths() == ["/ok"]


# --- Pinning: the POST goes to the address that was checked, never to a second lookup. ----------

PUBLIC = "93.184.215.14"


class Rebinding:
    """A DNS name with a zero TTL: a public address on the first lookup, loopback on every later one."""

    def __init__(self, first: str = PUBLIC) -> None:
        self.first = first
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return [self.first] if len(self.calls) == 1 else ["127.0.0.1"]


class Network(httpcore2.AsyncNetworkBackend):
    """The network under the HTTP client. Every TCP connection is recorded by the address it reaches;
    a name is looked up in `dns`, as the system resolver would. `routes` stand in for the internet
    (public address:port -> a local port); other public addresses are unreachable (no test traffic
    leaves the machine), loopback is loopback."""

    def __init__(self, dns: Rebinding, routes: Mapping[tuple[str, int], int]) -> None:
        self.dns = dns
        self.routes = dict(routes)
        self.connected: list[tuple[str, int]] = []
        self.real = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            address = (await self.dns(host, port))[0]
        self.connected.append((address, port))
        if (address, port) in self.routes:
            address, port = "127.0.0.1", self.routes[address, port]
        elif address != "127.0.0.1":
            raise httpcore2.ConnectError(f"{address} is unreachable from the test")
        return await self.real.connect_tcp(address, port, timeout=timeout, socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def over(network: Network, verify: ssl.SSLContext | bool = True) -> httpx2.AsyncHTTPTransport:
    transport = httpx2.AsyncHTTPTransport(verify=verify)
    transport._pool._network_backend = network  # the client's own connection code, on our network
    return transport


async def serve(rec: Receiver, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def secret_hook(tmp_path: Path, url: str) -> tuple[Cluster, Settings]:
    cluster = Cluster()
    cluster.secrets[("videos", "hook")] = {"url": url, "signingKey": KEY}
    return cluster, settings(tmp_path, 9, notify_secret_refs=True)


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected_to(tmp_path) -> None:
    internal, public = Receiver(), Receiver()
    internal_runner, port = await serve(internal)  # 127.0.0.1:port, what the rebound name points at
    public_runner, public_port = await serve(public)  # what PUBLIC:port reaches
    try:
        dns = Rebinding()
        network = Network(dns, {(PUBLIC, port): public_port})
        cluster, s = secret_hook(tmp_path, f"http://hooks.rebind.test:{port}/ok")
        notifier = Notifier(s, cluster.read_secret, cluster.write, resolve=dns, transport=over(network))
        await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    finally:
        await internal_runner.cleanup()
        await public_runner.cleanup()
    assert network.connected == [(PUBLIC, port)]  # the checked address, not a second lookup
    assert dns.calls == ["hooks.rebind.test"]
    assert internal.hits == []
    ((path, headers, _),) = public.hits
    assert path == "/ok" and headers["Host"] == f"hooks.rebind.test:{port}"
    assert [e.result for e in cluster.ledger().values()] == [ledger.DELIVERED]


async def test_https_to_a_pinned_address_verifies_the_certificate_for_the_name(tmp_path) -> None:
    # The dev kit's serving certificate names kubernetes.default.svc (and 127.0.0.1), not PUBLIC:
    # the handshake only succeeds when SNI and verification use the URL's host.
    pki = CertificateAuthority.create(tmp_path / "pki")
    server = pki.server_context()
    names: list[str | None] = []
    server.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    internal, public = Receiver(), Receiver()
    internal_runner, port = await serve(internal, server)
    public_runner, public_port = await serve(public, server)
    try:
        dns = Rebinding()
        network = Network(dns, {(PUBLIC, port): public_port})
        verify = ssl.create_default_context(cafile=str(pki.ca_cert))
        cluster, s = secret_hook(tmp_path, f"https://kubernetes.default.svc:{port}/ok")
        notifier = Notifier(
            s, cluster.read_secret, cluster.write, resolve=dns, transport=over(network, verify)
        )
        await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    finally:
        await internal_runner.cleanup()
        await public_runner.cleanup()
    assert network.connected == [(PUBLIC, port)] and internal.hits == []
    assert names == ["kubernetes.default.svc"]
    ((_, headers, _),) = public.hits
    assert headers["Host"] == f"kubernetes.default.svc:{port}"
    assert [e.result for e in cluster.ledger().values()] == [ledger.DELIVERED]


class Recorder:
    """A transport that answers without a network, keeping the requests as the client built them."""

    def __init__(self, status: int = 204, location: str = "") -> None:
        self.requests: list[httpx2.Request] = []
        self.status, self.location = status, location

    def transport(self) -> httpx2.MockTransport:
        def handle(request: httpx2.Request) -> httpx2.Response:
            self.requests.append(request)
            return httpx2.Response(self.status, headers={"Location": self.location} if self.location else {})

        return httpx2.MockTransport(handle)


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host", "sni"),
    [
        (
            "https://hooks.example.com:8443/in?x=1",
            PUBLIC,
            f"https://{PUBLIC}:8443/in?x=1",
            "hooks.example.com:8443",
            "hooks.example.com",
        ),
        (
            "https://Hooks.Example.com/in",
            PUBLIC,
            f"https://{PUBLIC}/in",
            "hooks.example.com",
            "hooks.example.com",
        ),
        (
            "https://bücher.example/in",
            PUBLIC,
            f"https://{PUBLIC}/in",
            "xn--bcher-kva.example",
            "xn--bcher-kva.example",
        ),
        (
            "https://hooks.example.com/in",
            "2606:2800:21f::1",
            "https://[2606:2800:21f::1]/in",
            "hooks.example.com",
            "hooks.example.com",
        ),
        (
            "https://hooks.example.com/in",
            "::ffff:93.184.215.14",
            f"https://{PUBLIC}/in",
            "hooks.example.com",
            "hooks.example.com",
        ),
        ("http://hooks.example.com/in", PUBLIC, f"http://{PUBLIC}/in", "hooks.example.com", None),
    ],
)
async def test_the_pinned_request_keeps_the_host_header_and_sni_name(
    tmp_path, url: str, address: str, sent_to: str, host: str, sni: str | None
) -> None:
    rec = Recorder()
    cluster, s = secret_hook(tmp_path, url)

    async def resolve(_host: str, _port: int) -> list[str]:
        return [address]

    notifier = Notifier(s, cluster.read_secret, cluster.write, resolve=resolve, transport=rec.transport())
    await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    (request,) = rec.requests
    assert str(request.url) == sent_to
    assert request.headers["Host"] == host
    assert request.extensions.get("sni_hostname") == sni
    assert [e.result for e in cluster.ledger().values()] == [ledger.DELIVERED]


async def test_a_redirect_from_a_pinned_address_is_not_followed(tmp_path) -> None:
    rec = Recorder(302, "http://127.0.0.1/internal")
    cluster, s = secret_hook(tmp_path, "http://hooks.example.com/in")
    notifier = Notifier(s, cluster.read_secret, cluster.write, resolve=Rebinding(), transport=rec.transport())
    await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    assert [str(r.url) for r in rec.requests] == [f"http://{PUBLIC}/in"]
    (entry,) = cluster.ledger().values()
    assert entry.result == ledger.REFUSED and "redirects are not followed" in entry.error


async def test_the_next_checked_address_is_tried_when_connecting_fails(tmp_path) -> None:
    public = Receiver()
    runner, public_port = await serve(public)
    try:

        async def resolve(_host: str, _port: int) -> list[str]:
            return ["93.184.215.1", "93.184.215.2", "93.184.215.3"]

        network = Network(Rebinding(), {("93.184.215.2", 80): public_port})
        cluster, s = secret_hook(tmp_path, "http://hooks.example.com/ok")
        notifier = Notifier(s, cluster.read_secret, cluster.write, resolve=resolve, transport=over(network))
        await deliver(notifier, finished({"secretRef": {"name": "hook"}}))
    finally:
        await runner.cleanup()
    assert network.connected == [("93.184.215.1", 80), ("93.184.215.2", 80)]
    assert public.paths() == ["/ok"]
    assert [e.result for e in cluster.ledger().values()] == [ledger.DELIVERED]


async def test_environment_proxies_are_ignored(tmp_path, receiver, monkeypatch) -> None:
    rec, port = receiver
    proxy = Receiver()
    runner, proxy_port = await serve(proxy)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        cluster = Cluster()
        await deliver(
            Notifier(settings(tmp_path, port), cluster.read_secret, cluster.write), finished({"target": "ok"})
        )
    finally:
        await runner.cleanup()
    assert proxy.hits == [] and rec.paths() == ["/ok"]
