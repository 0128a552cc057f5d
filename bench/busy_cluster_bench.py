"""Busy-cluster benchmark: does the operator's memory grow with Pods and Jobs that are not its own?

Seeds N unrelated Pods (Succeeded) and M unrelated Jobs (suspended) in other namespaces of the
dev cluster, starts the operator, renders one request in instant mode, and samples the
operator's RSS after it settled: with no busy objects, then as shipped (server-side label
selectors on the Job and Pod watches), then with the selectors removed (a module that wraps
`scenefarm_operator.main.tune`, which the start-up calls, and clears them) to show what they
save. Also counts the objects the server sent to the operator's Pod and Job lists (replayed from
the request log). Not a test: copy the figures into docs/benchmarks.md.

    .venv/bin/python bench/busy_cluster_bench.py [--pods 2000 --jobs 500] [--only-without-selectors]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

from scenefarm_devkit.devenv import DevEnv

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from integration.conftest import create, video_request, wait_terminal  # noqa: E402

UNSELECT = """import scenefarm_operator.main as main
from kopf._cogs.configs.arrays import SelectorMapping

shipped = main.tune


def tune(settings):
    shipped(settings)
    settings.watching.label_selectors = SelectorMapping()  # as before issue 12


main.tune = tune  # the start-up (main.configure) looks `tune` up in main at run time
"""


def seed(env: DevEnv, pods: int, jobs: int, namespaces: int = 10) -> None:
    server = env.cluster.cluster.server

    def stamp(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"] |= {"uid": str(uuid.uuid4()), "creationTimestamp": "2026-01-01T00:00:00Z"}
        return obj

    async def write() -> None:
        for n in range(namespaces):
            ns = f"busy-{n}"
            server.store.put(
                ("", "namespaces", "", ns),
                stamp({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            for i in range(pods // namespaces):
                pod = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"web-{i}", "namespace": ns, "labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.27",
                                "env": [{"name": f"V{k}", "value": "x" * 64} for k in range(10)],
                            }
                        ]
                    },
                    "status": {"phase": "Succeeded"},
                }
                server.store.put(("", "pods", ns, f"web-{i}"), stamp(pod))
            for i in range(jobs // namespaces):
                job = {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": f"etl-{i}", "namespace": ns, "labels": {"app": "etl"}},
                    "spec": {
                        "suspend": True,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "etl", "image": "etl:1"}],
                            }
                        },
                    },
                }
                server.store.put(("batch", "jobs", ns, f"etl-{i}"), stamp(job))

    env.cluster.call(write)


def received(env: DevEnv) -> int:
    """Unrelated objects in the answers to the operator's Pod/Job lists, replayed as admin."""
    token, total = env.cluster.token_for("admin"), 0
    for r in env.cluster.request_log:
        if r.identity != "operator" or r.verb != "list" or r.resource not in ("pods", "jobs"):
            continue
        request = urllib.request.Request(
            f"{env.cluster.url}{r.path}?{r.query}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            items = json.loads(response.read())["items"]
        total += sum(1 for o in items if o["metadata"].get("namespace", "").startswith("busy-"))
    return total


def run(pods: int, jobs: int, selectors: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, DevEnv(Path(tmp), instant=True) as env:
        seed(env, pods, jobs)
        extra: list[str] = []
        if not selectors:
            (Path(tmp) / "unselect.py").write_text(UNSELECT)
            extra = [str(Path(tmp) / "unselect.py")]
        process = env.start_operator(*extra)
        client = env.client()
        create(client, video_request("quiet", [("only", "self.wait(0.2)")]))
        started, finished = time.monotonic(), True
        try:
            wait_terminal(client, "quiet", timeout=300)
        except AssertionError:
            finished = False  # recorded: without selectors the operator may not get to it in time
        seconds = round(time.monotonic() - started, 1)
        time.sleep(5)  # per-object workers idle out; watches settled
        rss = 0
        for _ in range(10):
            rss = max(rss, psutil.Process(process.pid).memory_info().rss)
            time.sleep(0.1)
        env.stop_operator()
        return {
            "pods": pods,
            "jobs": jobs,
            "selectors": selectors,
            "rss_mb": round(rss / 2**20, 1),
            "request_finished": finished,
            "seconds_to_finish": seconds,
            "unrelated_objects_received_in_lists": received(env),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--only-without-selectors", action="store_true")
    args = parser.parse_args()
    print(f"load at start: {psutil.getloadavg()}", flush=True)
    cases = [(0, 0, True), (args.pods, args.jobs, True), (args.pods, args.jobs, False)]
    for pods, jobs, selectors in cases[2:] if args.only_without_selectors else cases:
        print(json.dumps(run(pods, jobs, selectors)), flush=True)


if __name__ == "__main__":
    main()
