"""A busy cluster: 2,000 unrelated Pods and 500 unrelated Jobs never reach the operator.

The operator's Job and Pod watches carry a server-side label selector, so the API server sends it
only scenefarm's children. The proof replays every list and watch the operator made (from the
dev cluster's request log) and counts what the server answers to exactly that request.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from scenefarm_devkit.devenv import DevEnv

from .conftest import create, video_request, wait_terminal

pytestmark = pytest.mark.integration

NAMESPACES = 10
PODS_PER_NAMESPACE = 200
JOBS_PER_NAMESPACE = 50
SELECTOR = "app.kubernetes.io/managed-by=scenefarm"


def seed(env: DevEnv) -> None:
    """The unrelated workload, written straight into the store as a restored etcd would hold it.

    Pods are already Succeeded and Jobs suspended, so the dev cluster's Job runner has nothing to
    run for them (2,500 API round trips would only measure this machine's load).
    """
    server = env.cluster.cluster.server

    def stamp(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"] |= {
            "uid": str(uuid.uuid4()),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "generation": 1,
        }
        return obj

    async def write() -> None:
        for n in range(NAMESPACES):
            namespace = f"busy-{n}"
            ns = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace},
                "status": {"phase": "Active"},
            }
            server.store.put(("", "namespaces", "", namespace), stamp(ns))
            for i in range(PODS_PER_NAMESPACE):
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"web-{i}", "namespace": namespace, "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}], "nodeName": "node-b"},
                    "status": {"phase": "Succeeded"},
                }
                server.store.put(("", "pods", namespace, f"web-{i}"), stamp(pod))
            for i in range(JOBS_PER_NAMESPACE):
                template = {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "etl", "image": "etl:1"}]}
                }
                job = {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": f"etl-{i}", "namespace": namespace, "labels": {"app": "etl"}},
                    "spec": {"suspend": True, "template": template},
                }
                server.store.put(("batch", "jobs", namespace, f"etl-{i}"), stamp(job))

    env.cluster.call(write)


def selector_of(query: str) -> str | None:
    return dict(urllib.parse.parse_qsl(query)).get("labelSelector")


class Replay:
    """Sends a logged request again, as admin, and counts the busy objects in the answer."""

    def __init__(self, env: DevEnv) -> None:
        self.base = env.cluster.url
        self.token = env.cluster.token_for("admin")

    def get(self, path: str, query: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.base}{path}?{query}", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode()
        if "watch=" in query:
            return [json.loads(line)["object"] for line in body.splitlines() if line.strip()]
        return list(json.loads(body)["items"])

    def busy_objects(self, path: str, query: str) -> int:
        params = dict(urllib.parse.parse_qsl(query))
        if params.get("watch") in ("true", "1"):
            # From the beginning, briefly: every object the selector lets through arrives as ADDED.
            params |= {"resourceVersion": "", "timeoutSeconds": "1", "allowWatchBookmarks": "false"}
            params.pop("sendInitialEvents", None)
            params.pop("resourceVersionMatch", None)
        answer = self.get(path, urllib.parse.urlencode(params))
        return sum(1 for obj in answer if obj.get("metadata", {}).get("namespace", "").startswith("busy-"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevEnv, list[Any]]]:
    with DevEnv(tmp_path_factory.mktemp("busy"), instant=True, rbac_from_chart=True) as env:
        client = env.client()
        seed(env)
        env.start_operator()
        create(client, video_request("quiet", [("only", "self.wait(0.2)")]))
        assert wait_terminal(client, "quiet", timeout=120)["phase"] == "Succeeded"
        env.stop_operator()  # watches reach the request log when they end
        calls = [
            r
            for r in env.cluster.request_log
            if r.identity == "operator" and r.verb in ("list", "watch") and r.resource in ("pods", "jobs")
        ]
        yield env, calls


def test_every_job_and_pod_list_and_watch_of_the_operator_carries_the_label_selector(
    run: tuple[DevEnv, list[Any]],
) -> None:
    _, calls = run
    assert {(r.resource, r.verb) for r in calls} >= {("pods", "list"), ("pods", "watch"), ("jobs", "list")}
    assert [r.query for r in calls if selector_of(r.query) != SELECTOR] == []


def test_the_server_sends_the_operator_none_of_the_unrelated_pods_and_jobs(
    run: tuple[DevEnv, list[Any]],
) -> None:
    env, calls = run
    replay = Replay(env)
    # The replay itself is sound: without the selector the same request would carry every busy object.
    some = calls[0]
    unfiltered = "&".join(p for p in some.query.split("&") if not p.startswith("labelSelector="))
    assert replay.busy_objects(some.path, unfiltered) >= JOBS_PER_NAMESPACE * NAMESPACES
    received = {(r.path, r.query): replay.busy_objects(r.path, r.query) for r in calls}
    assert sum(received.values()) == 0, received


def test_the_busy_objects_exist(run: tuple[DevEnv, list[Any]]) -> None:
    env, _ = run
    pods = [k for k in env.cluster.objects if k[1] == "pods" and k[2].startswith("busy-")]
    jobs = [k for k in env.cluster.objects if k[1] == "jobs" and k[2].startswith("busy-")]
    assert (len(pods), len(jobs)) == (NAMESPACES * PODS_PER_NAMESPACE, NAMESPACES * JOBS_PER_NAMESPACE)
