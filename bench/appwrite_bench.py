"""Appwrite mirror benchmark: writes per VideoRequest lifecycle, and what a slow Appwrite costs
`publish`. Runs the real SDK against the local double; prints Markdown for docs/benchmarks.md.

    .venv/bin/python bench/appwrite_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread, Fault
from scenefarm_devkit.appwrite_double.scripted import lifecycle
from scenefarm_operator.web import AppwriteConfig, AppwriteMirror

KEY = "bench-key"


def config_for(double: AppwriteDoubleThread, **overrides: float) -> AppwriteConfig:
    return AppwriteConfig(endpoint=double.endpoint, project=double.double.project, api_key=KEY, **overrides)


async def wait_idle(mirror: AppwriteMirror, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not mirror.idle:
        if time.monotonic() > deadline:
            raise TimeoutError("mirror did not settle")
        await asyncio.sleep(0.01)


async def writes_per_lifecycle(scenes: int, pace: float, coalesce: float) -> tuple[int, int, int]:
    """(states published, video-row writes, scene-row writes) for one scripted lifecycle."""
    with AppwriteDoubleThread(api_key=KEY, column_delay=0.05) as double:
        mirror = AppwriteMirror(config_for(double, coalesce_seconds=coalesce))
        await mirror.start()
        bodies = list(lifecycle(scenes=scenes))
        for body in bodies:
            mirror.publish(body)
            mirror.publish(body)  # the operator often publishes the same state twice
            await asyncio.sleep(pace)
        await wait_idle(mirror)
        await mirror.stop()
        puts = [r for r in double.requests() if r.method == "PUT" and "/rows/" in r.path]
        video = sum("/tables/videos/" in r.path for r in puts)
        return len(bodies), video, len(puts) - video


async def publish_latency(delay: float, requests_count: int, objects: int) -> dict[str, float]:
    """publish() durations while every row write takes `delay` seconds, plus event-loop lag."""
    with AppwriteDoubleThread(api_key=KEY, column_delay=0.05) as double:
        mirror = AppwriteMirror(config_for(double, coalesce_seconds=0.5, read_timeout=30, call_timeout=30))
        await mirror.start()
        if delay:
            double.inject(Fault(path="/rows/", delay=delay, times=None))
        scripts = [list(lifecycle(scenes=4, uid=str(uuid.uuid4()))) for _ in range(objects)]
        durations, lags = [], []
        for i in range(requests_count):
            script = scripts[i % objects]
            body = script[min(len(script) - 1, i // objects)]
            started = time.perf_counter()
            mirror.publish(body)
            durations.append(time.perf_counter() - started)
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)
        double.faults.clear()
        await mirror.stop(timeout=1)
        durations.sort()
        return {
            "p50_us": statistics.median(durations) * 1e6,
            "p99_us": durations[int(len(durations) * 0.99)] * 1e6,
            "max_us": durations[-1] * 1e6,
            "loop_lag_max_ms": max(lags) * 1e3,
        }


async def main(quick: bool) -> None:
    print("### Writes per VideoRequest lifecycle (each state published twice)\n")
    print(
        "| scenes S | pace between states | coalesce | states | video-row writes | scene-row writes | total |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    cases = (
        [(3, 0.6, 0.5), (6, 0.1, 0.5)]
        if quick
        else [(3, 0.6, 0.5), (6, 0.6, 0.5), (6, 0.1, 0.5), (12, 0.1, 0.5)]
    )
    for scenes, pace, coalesce in cases:
        states, video, scene = await writes_per_lifecycle(scenes, pace, coalesce)
        print(
            f"| {scenes} | {pace:.1f} s | {coalesce:.1f} s | {states} | {video} | {scene} | {video + scene} |"
        )
    print("\n### publish() with Appwrite slow\n")
    print("| row write delay | publishes | objects | publish p50 | p99 | max | event-loop lag max |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    count = 200 if quick else 1000
    for delay in (0.0, 2.0):
        r = await publish_latency(delay, count, 20)
        cells = [f"{delay:.0f} s", str(count), "20"]
        cells += [f"{r[k]:.0f} µs" for k in ("p50_us", "p99_us", "max_us")]
        cells.append(f"{r['loop_lag_max_ms']:.1f} ms")
        print("| " + " | ".join(cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
