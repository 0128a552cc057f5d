"""A webhook whose receiver is down keeps being retried across an operator restart (the ledger
lives in the VideoRequest's annotation), and is delivered once the receiver is back."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.observe.notify import ledger, signing
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import create, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration
KEY = "restart-webhook-key"


class FlakyReceiver(http.server.ThreadingHTTPServer):
    """Answers 503 until `up` is set, then 204; records every body."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.bodies: list[tuple[int, dict[str, str], bytes]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 204 if server.up.is_set() else 503
                server.bodies.append((code, dict(self.headers), body))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def entries(env: DevEnv, name: str) -> ledger.Ledger:
    vr = env.client().get(VideoRequest, name, namespace="default")
    return ledger.load(vr.metadata.annotations)


def test_a_failing_delivery_resumes_after_an_operator_restart_and_is_delivered_once(tmp_path: Path) -> None:
    receiver = FlakyReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "flaky").write_text(KEY)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    operator_env = {
        "SCENEFARM_NOTIFY_TARGETS": json.dumps([{"name": "flaky", "url": url, "allowPrivate": True}]),
        "SCENEFARM_NOTIFY_KEYS_DIR": str(tmp_path / "keys"),
        "SCENEFARM_NOTIFY_BACKOFF_SECONDS": "1",
        "SCENEFARM_NOTIFY_MAX_ATTEMPTS": "30",
    }
    try:
        with DevEnv(tmp_path / "cluster", instant=True, operator_env=operator_env) as env:
            env.start_operator()
            client = env.client()
            body = video_request("hooked", [("a", "self.wait(0.1)")])
            body["spec"]["notify"] = {"target": "flaky"}
            create(client, body)
            wait_terminal(client, "hooked", timeout=120)

            def failed_twice() -> list[ledger.Entry] | None:
                found = [e for e in entries(env, "hooked").values() if e.attempts >= 2]
                return found or None

            wait_for(failed_twice, 60, "two failed attempts recorded in the annotation")
            env.stop_operator()
            before = entries(env, "hooked")
            (entry,) = before.values()
            assert entry.result == ledger.PENDING

            receiver.up.set()
            env.start_operator()

            def delivered() -> ledger.Entry | None:
                (now,) = entries(env, "hooked").values()
                return now if now.result == ledger.DELIVERED else None

            done = wait_for(delivered, 90, "the delivery after the restart")
            assert done.attempts > entry.attempts  # counted on from the persisted ledger
    finally:
        receiver.shutdown()
    ids = {json.loads(b)["id"] for _, _, b in receiver.bodies}
    assert len(ids) == 1  # every attempt carried the same event id
    assert [code for code, _, _ in receiver.bodies].count(204) == 1
    _, headers, body_bytes = receiver.bodies[-1]
    assert signing.verify(KEY, headers[signing.HEADER], body_bytes, now=int(time.time()))
