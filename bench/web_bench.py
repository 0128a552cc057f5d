"""Web path benchmark: how fast a row change reaches a browser, and a request row becomes a
VideoRequest. The whole web path on this machine (Appwrite double, dev cluster in instant mode,
operator with the web intake, the built page in Debian's Chromium). Prints Markdown.

    .venv/bin/python bench/web_bench.py [--scenes 20] [--requests 20]

- Realtime latency: for every row event of a 20-scene request, the page's Date.now() when the
  DOM showed it minus the row's `$updatedAt` (when the double stored the operator's write).
  Same machine, same clock; includes the WebSocket, the Web SDK and the page's render.
- Intake latency: a signed-in user's row `$createdAt` -> the VideoRequest visible through the
  Kubernetes API (polled every 20 ms), with the Helm default poll of 1 s.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from lightkube import codecs
from lightkube.core.exceptions import ApiError
from playwright.sync_api import sync_playwright

from scenefarm_devkit.web import NAMESPACE, WebStack
from scenefarm_operator.runtime.kube import VideoRequest

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]
NO_LIMITS = {
    f"max_{scope}": "1000"
    for scope in (
        "active_per_user",
        "per_user_per_day",
        "active_per_source",
        "per_source_per_day",
        "active_total",
        "total_per_day",
    )
}


def epoch_ms(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp() * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def request(owner: str, scenes: int) -> dict[str, Any]:
    code = "from manim import *\n\nclass S{i}(Scene):\n    def construct(self):\n        self.wait(0.1)\n"
    items = [{"name": f"s{i}", "className": f"S{i}", "code": code.format(i=i)} for i in range(scenes)]
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {
            "topic": "bench",
            "scenes": items,
            "render": {"quality": "low", "parallelism": 4},
            "output": {"store": "Appwrite"},
            "owner": {"appwriteUserId": owner},
        },
    }


def realtime_latency(stack: WebStack, scenes: int) -> list[float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.goto(stack.url)
        page.get_by_test_id("guest").click()
        page.wait_for_selector("body[data-following=true]", state="attached", timeout=30_000)
        owner = str(page.get_by_test_id("who").get_attribute("data-user-id"))
        client = stack.env.client()
        client.create(codecs.from_dict(request(owner, scenes)))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            phase = (client.get(VideoRequest, "bench", namespace="default").get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(0.2)
        time.sleep(2)  # the last writes reach the page
        shown = page.evaluate("window.scenefarm.shown")
        browser.close()
    return [event["shownAt"] - epoch_ms(event["updatedAt"]) for event in shown]


def intake_latency(stack: WebStack, count: int) -> list[float]:
    http = requests.Session()
    http.headers["x-appwrite-project"] = stack.double.double.project
    http.post(f"{stack.double.endpoint}/account/sessions/anonymous", timeout=5).raise_for_status()
    client = stack.env.client()
    latencies = []
    for i in range(count):
        body: dict[str, Any] = {"rowId": f"intake{i}", "data": {"topic": f"topic {i}", "status": "queued"}}
        url = f"{stack.double.endpoint}/tablesdb/scenefarm/tables/videos/rows"
        created = epoch_ms(http.post(url, json=body, timeout=5).json()["$createdAt"])
        while True:
            try:
                client.get(VideoRequest, f"web-intake{i}", namespace=NAMESPACE)
                break
            except ApiError:
                time.sleep(0.02)
        latencies.append(time.time() * 1000 - created)
        time.sleep(0.37)  # land at different points of the poll interval
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as state,
        WebStack(
            Path(state),
            instant=True,
            poll_seconds="1.0",
            max_active_per_user="1000",
            max_per_user_per_day="1000",
            max_active_per_source="1000",
            max_per_source_per_day="1000",
            max_active_total="1000",
            max_total_per_day="1000",
        ) as stack,
    ):
        realtime = realtime_latency(stack, args.scenes)
        intake = intake_latency(stack, args.requests)
    print("| measure | n | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for name, values in (
        ("Realtime: row write -> DOM (ms)", realtime),
        ("Intake: row -> VideoRequest (ms)", intake),
    ):
        print(
            f"| {name} | {len(values)} | {statistics.median(values):.0f} | {percentile(values, 99):.0f} "
            f"| {max(values):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
