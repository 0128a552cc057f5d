"""The live operator's metrics endpoint, ETA and cost in status, signed webhooks and JSON logs.

One dev cluster in instant mode (Pods end at once with a renderer's termination message), the
operator with its metrics port, a Gemini double for LLM usage, and a local webhook receiver.
The scrape is parsed with prometheus_client's parser; the dashboard's and rules' PromQL
(rendered by helm) is parsed with promql-parser and checked against what was scraped.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import promql_parser
import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import ConfigMap, Event
from prometheus_client.parser import text_string_to_metric_families

from scenefarm_devkit import chart_rbac
from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.observe.notify import ledger, signing
from scenefarm_operator.runtime.kube import VideoRequest

from .conftest import create, gemini, video_request, wait_for, wait_terminal  # noqa: F401 - fixture

pytestmark = pytest.mark.integration
KEY = "integration-webhook-key"
CHART_VALUES = {
    "metrics": {"enabled": True, "grafanaDashboard": {"enabled": True}, "prometheusRule": {"enabled": True}}
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


class Run(NamedTuple):
    env: DevEnv
    exposition: str
    statuses: dict[str, dict[str, Any]]
    bodies: dict[str, Any]
    receiver: Receiver


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, gemini: Any) -> Iterator[Run]:  # noqa: F811
    state = tmp_path_factory.mktemp("observability")
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    (state / "keys").mkdir()
    (state / "keys" / "local").write_text(KEY)
    port = free_port()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    operator_env = {
        "SCENEFARM_METRICS_PORT": str(port),
        "SCENEFARM_LOG_FORMAT": "json",
        "SCENEFARM_LOG_LEVEL": "DEBUG",  # per-object lines (kopf.objects) are logged at DEBUG only
        "SCENEFARM_NOTIFY_TARGETS": json.dumps([{"name": "local", "url": url, "allowPrivate": True}]),
        "SCENEFARM_NOTIFY_KEYS_DIR": str(state / "keys"),
        "SCENEFARM_LLM_PRICES": json.dumps(
            {"gemini-2.5-flash": {"inputPerMillion": 0.3, "outputPerMillion": 2.5}}
        ),
        "SCENEFARM_GEMINI_API_KEY": "test-key",
        "SCENEFARM_GEMINI_BASE_URL": gemini.base_url,
    }
    with DevEnv(state, instant=True, operator_env=operator_env, rbac_from_chart=True) as env:
        env.start_operator()
        client = env.client()
        explicit = video_request("observed", [("a", "self.wait(0.1)"), ("b", "self.wait(0.1)")])
        explicit["spec"]["notify"] = {"target": "local", "sceneEvents": True}
        planned = {
            "apiVersion": "scenefarm.dev/v1alpha1",
            "kind": "VideoRequest",
            "metadata": {"name": "planned", "namespace": "default"},
            "spec": {
                "topic": "Circles",
                "planner": {"mode": "Gemini", "maxScenes": 2},
                "render": {"quality": "low"},
            },
        }
        for body in (explicit, planned):
            create(client, body)
        statuses = {name: wait_terminal(client, name, timeout=120) for name in ("observed", "planned")}

        def settled() -> dict[str, Any] | None:  # cost published, ETA gone, the webhook ledger written
            objs = {n: client.get(VideoRequest, n, namespace="default") for n in ("observed", "planned")}
            ok = all(
                "cost" in (o.get("status") or {}) and "estimatedCompletionTime" not in (o.get("status") or {})
                for o in objs.values()
            )
            notes = (objs["observed"].metadata.annotations or {}).get(ledger.ANNOTATION)
            done = notes and all(
                e.result == ledger.DELIVERED for e in ledger.load({ledger.ANNOTATION: notes}).values()
            )
            return objs if ok and done and len(receiver.received) >= 3 else None

        bodies = wait_for(settled, 60, "status.cost, no ETA, and the webhook deliveries")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            exposition = response.read().decode()
        yield Run(env, exposition, statuses, bodies, receiver)
    receiver.shutdown()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def value(run: Run, name: str, **labels: str) -> float:
    return samples(run.exposition)[(name, tuple(sorted(labels.items())))]


def test_both_requests_succeeded(run: Run) -> None:
    assert {n: s["phase"] for n, s in run.statuses.items()} == {
        "observed": "Succeeded",
        "planned": "Succeeded",
    }


def test_the_scrape_counts_requests_by_phase_and_by_outcome(run: Run) -> None:
    assert value(run, "scenefarm_requests", phase="Succeeded") == 2
    assert value(run, "scenefarm_requests", phase="Rendering") == 0
    # at least: a request re-opened by the reconcile side and finished again counts again
    assert value(run, "scenefarm_requests_finished_total", outcome="succeeded") >= 2


def test_every_finished_scene_attempt_is_counted_with_its_quality_and_triage(run: Run) -> None:
    scenes = sum(s["scenesTotal"] for s in run.statuses.values())
    assert value(run, "scenefarm_scene_attempts_total", triage="ok") == scenes
    assert value(run, "scenefarm_scene_render_seconds_count", quality="low", outcome="ok") == scenes
    assert value(run, "scenefarm_render_seconds_total", kind="combine") >= 0


def test_llm_calls_and_tokens_of_the_planned_request_are_counted_and_priced(run: Run) -> None:
    assert value(run, "scenefarm_llm_calls_total", model="gemini-2.5-flash", purpose="plan") >= 1
    assert (
        value(run, "scenefarm_llm_tokens_total", model="gemini-2.5-flash", purpose="plan", direction="prompt")
        > 0
    )
    assert value(run, "scenefarm_llm_cost_usd_total", model="gemini-2.5-flash", purpose="plan") > 0


def test_no_series_carries_a_request_name_or_uid(run: Run) -> None:
    for name, labels in samples(run.exposition):
        keys = {k for k, _ in labels}
        assert not keys & {"name", "uid", "request", "namespace"}, name
        assert not any(v in ("observed", "planned") for _, v in labels), name


def test_every_metric_the_dashboard_and_rules_query_is_in_the_scrape_and_every_query_parses(run: Run) -> None:
    manifests = chart_rbac.render(CHART_VALUES)
    exprs = [
        t["expr"]
        for m in manifests
        if m["kind"] == "ConfigMap" and "scenefarm.json" in m.get("data", {})
        for p in json.loads(m["data"]["scenefarm.json"])["panels"]
        for t in p["targets"]
    ]
    exprs += [
        r["expr"]
        for m in manifests
        if m["kind"] == "PrometheusRule"
        for g in m["spec"]["groups"]
        for r in g["rules"]
    ]
    queried: set[str] = set()
    for expr in exprs:
        promql_parser.walk(
            promql_parser.parse(expr),
            lambda node: queried.add(node.name) if isinstance(node, promql_parser.VectorSelector) else None,
        )
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    exposed = set()
    for family in text_string_to_metric_families(run.exposition):
        exposed |= {family.name + s for s in suffixes.get(family.type, [""])} | {
            s.name for s in family.samples
        }
    assert len(exprs) >= 20 and queried - exposed == set()


def test_status_carries_the_cost_and_no_estimate_once_finished(run: Run) -> None:
    observed, planned = (run.bodies[n].get("status") for n in ("observed", "planned"))
    assert observed["cost"]["llmCalls"] == 0
    assert {"renderSeconds", "cpuSeconds"} <= observed["cost"].keys()  # 0 in instant mode: no render ran
    assert planned["cost"]["llmCalls"] >= 1 and planned["cost"]["llmPromptTokens"] > 0
    assert float(planned["cost"]["llmCostUSD"]) > 0
    assert "estimatedCompletionTime" not in observed and "estimatedCompletionTime" not in planned


def test_scene_durations_are_kept_in_the_eta_configmap(run: Run) -> None:
    def stats() -> dict[str, str] | None:
        try:
            data = run.env.client().get(ConfigMap, "scenefarm-eta", namespace="default").data
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise
        return data if data and {"low", "combine"} <= data.keys() else None  # written as Jobs finish

    data = wait_for(stats, 60, "the ETA ConfigMap with scene and combine durations")
    assert json.loads(data["low"])["count"] >= 4
    assert json.loads(data["combine"])["count"] >= 1


def test_the_receiver_got_signed_cloudevents_for_the_request_and_each_scene(run: Run) -> None:
    now = int(time.time())
    types, ids = [], []
    for headers, body in run.receiver.received:
        assert signing.verify(KEY, headers[signing.HEADER], body, now=now, tolerance=600)
        envelope = json.loads(body)
        assert envelope["specversion"] == "1.0" and envelope["subject"].startswith("observed")
        types.append(envelope["type"])
        ids.append(envelope["id"])
    assert sorted(set(types)) == [
        "dev.scenefarm.videorequest.scene.succeeded",
        "dev.scenefarm.videorequest.succeeded",
    ]
    assert len(ids) == len(set(ids))  # every event delivered once (the receiver answered 204 at once)


def test_json_log_lines_name_the_request_and_its_phase(run: Run) -> None:
    lines = [
        line
        for line in (Path(run.env.state_dir) / "operator.log").read_text().splitlines()
        if line.startswith("{")
    ]
    records = [json.loads(line) for line in lines]
    about = [r for r in records if r.get("name") in ("observed", "planned")]
    assert about and all({"namespace", "uid", "level", "message"} <= r.keys() for r in about)
    assert any(r.get("phase") for r in about)


def test_notify_names_exactly_one_target_reference_and_never_a_url(run: Run) -> None:
    client = run.env.client()
    both = video_request("both-targets", [("a", "self.wait(0.1)")])
    both["spec"]["notify"] = {"target": "local", "secretRef": {"name": "hook"}}
    with pytest.raises(ApiError) as raised:
        create(client, both)
    assert raised.value.status.code == 422
    assert "exactly one of target" in str(raised.value.status.message)


def test_an_unknown_target_ends_in_a_warning_event_on_the_request(run: Run) -> None:
    client = run.env.client()
    body = video_request("unknown-target", [("a", "self.wait(0.1)")])
    body["spec"]["notify"] = {"target": "nowhere"}
    create(client, body)
    wait_terminal(client, "unknown-target", timeout=120)

    def warned() -> list[Any]:
        events = client.list(Event, namespace="default", fields={"involvedObject.name": "unknown-target"})
        return [e for e in events if e.reason == "WebhookFailed"]

    (event,) = wait_for(warned, 30, "the WebhookFailed Event")[:1]
    assert "'nowhere' is not an allowlisted target" in (event.message or "")
