"""Observability benchmark: ETA error during real renders, and metric series at 200 requests.

1. ETA error. A few Explicit VideoRequests of tiny scenes of different lengths are rendered for
   real on the dev cluster (the Job runner runs the renderer as local processes), twice: a cold
   run (no statistics yet: the per-quality priors) and, after an operator restart, a warm run
   (statistics read back from the `scenefarm-eta` ConfigMap). Every 0.5 s the published
   status.estimatedCompletionTime of each request is sampled; at 25/50/75% of each request's
   wall time the estimate then in force is compared with when the request really finished.
2. Series at 200 requests. 200 Explicit requests x 2 scenes in instant mode; the operator's
   /metrics is scraped at the end and its samples counted (scenefarm_* and all).

Not a test: copy the figures into docs/observability.md.

    .venv/bin/python bench/observability_bench.py [--requests 200] [--eta-requests 3] [--skip-eta]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from lightkube import codecs
from lightkube.resources.core_v1 import ConfigMap
from prometheus_client.parser import text_string_to_metric_families

from devcluster_requests import NAMESPACE, status_of, video_request
from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.observe import eta
from scenefarm_operator.runtime.kube import VideoRequest  # noqa: F401 - registers the kind with lightkube codecs

WAITS = (0.5, 3.0, 1.5, 5.0)  # seconds of animation per scene, cycled: uneven scenes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(name: str, scenes: int, parallelism: int, offset: int = 0) -> dict[str, Any]:
    codes = []
    for i in range(scenes):
        wait = WAITS[(i + offset) % len(WAITS)]
        code = f"from manim import *\nclass S{i}(Scene):\n    def construct(self):\n"
        code += f"        self.add(Circle())\n        self.wait({wait})\n"
        codes.append(code)
    return video_request(name, codes, parallelism)


def run_eta(env: DevEnv, prefix: str, count: int, scenes: int, timeout: float) -> list[dict[str, Any]]:
    """Create `count` requests, sample their estimates until all finish; per-request samples."""
    client = env.client()
    names = [f"{prefix}-{i}" for i in range(count)]
    created: dict[str, float] = {}
    for i, name in enumerate(names):
        client.create(codecs.from_dict(request(name, scenes, parallelism=2, offset=i)))
        created[name] = time.time()
    samples: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    finished: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"requests not finished after {timeout}s: {set(names) - set(finished)}")
        for name in names:
            if name in finished:
                continue
            status = status_of(env, name)
            if status.get("phase") in ("Succeeded", "Failed"):
                finished[name] = time.time()
                continue
            at = eta.parse_time(status.get("estimatedCompletionTime"))
            if at is not None:
                samples[name].append((time.time(), at))
        time.sleep(0.5)
    results = []
    for name in names:
        start, end = created[name], finished[name]
        points = {}
        for fraction in (0.25, 0.5, 0.75):
            moment = start + fraction * (end - start)
            before = [estimate for t, estimate in samples[name] if t <= moment]
            if before:
                points[fraction] = before[-1] - end  # seconds; > 0: the estimate was late
        results.append({"name": name, "wall": end - start, "errors": points})
    return results


def eta_part(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    port = free_port()
    env = DevEnv(state / "eta", operator_env={"SCENEFARM_METRICS_PORT": str(port)}).start()
    try:
        env.start_operator()
        time.sleep(3)
        cold = run_eta(env, "cold", args.eta_requests, args.scenes, args.timeout)
        env.stop_operator()  # the statistics must come back from the ConfigMap
        env.start_operator()
        time.sleep(3)
        warm = run_eta(env, "warm", args.eta_requests, args.scenes, args.timeout)
        stats = env.client().get(ConfigMap, eta.CONFIGMAP, namespace=NAMESPACE).data
    finally:
        env.stop()
    return {"cold": cold, "warm": warm, "stats": stats}


def series_part(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    port = free_port()
    env = DevEnv(state / "series", instant=True, operator_env={"SCENEFARM_METRICS_PORT": str(port)}).start()
    try:
        env.start_operator()
        time.sleep(3)
        client = env.client()
        names = [f"s-{i:04d}" for i in range(args.requests)]
        began = time.time()
        for name in names:
            client.create(codecs.from_dict(request(name, 2, parallelism=2)))
        deadline = time.monotonic() + args.series_timeout
        while True:  # the series do not depend on how far the requests got: scrape at the latest then
            phases = [(status_of(env, n)).get("phase") for n in names]
            if all(p == "Succeeded" for p in phases) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        wall = time.time() - began
        time.sleep(2.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        env.stop()
    families = list(text_string_to_metric_families(text))
    ours = [s for f in families if f.name.startswith("scenefarm_") for s in f.samples]
    return {
        "requests": args.requests,
        "succeeded_at_scrape": sum(1 for p in phases if p == "Succeeded"),
        "wall": wall,
        "series_all": sum(len(f.samples) for f in families),
        "series_scenefarm": len(ours),
        "families_scenefarm": sum(1 for f in families if f.name.startswith("scenefarm_")),
        "bytes": len(text.encode()),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fraction in (0.25, 0.5, 0.75):
        errors = [r["errors"][fraction] for r in runs if fraction in r["errors"]]
        relative = [abs(r["errors"][fraction]) / r["wall"] for r in runs if fraction in r["errors"]]
        if errors:
            out[f"{int(fraction * 100)}%"] = {
                "median_abs_s": round(statistics.median(abs(e) for e in errors), 1),
                "max_abs_s": round(max(abs(e) for e in errors), 1),
                "median_rel": round(statistics.median(relative), 3),
                "signed_s": [round(e, 1) for e in errors],
            }
    out["walls_s"] = [round(r["wall"], 1) for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--eta-requests", type=int, default=3)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--series-timeout", type=float, default=600, help="scrape then at the latest")
    parser.add_argument("--skip-eta", action="store_true")
    parser.add_argument("--skip-series", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sf-obs-bench-") as tmp:
        state = Path(tmp)
        report: dict[str, Any] = {}
        if not args.skip_series:
            report["series"] = series_part(args, state)
            print(json.dumps({"series": report["series"]}, indent=1), flush=True)
        if not args.skip_eta:
            result = eta_part(args, state)
            report["eta"] = {"cold": summarize(result["cold"]), "warm": summarize(result["warm"])}
            report["eta_stats"] = result["stats"]
            print(json.dumps({"eta": report["eta"], "eta_stats": report["eta_stats"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
