"""Webhook delivery against a local receiver that answers, fails, times out and redirects."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

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
