"""Chunked rendering and the scene cache: time-to-video side by side, with real renders.

A 6-scene request at 720p30 (medium) where scene 2 lasts 4x the others, rendered:

(a) sequentially in one Python process with Manim's API, combined by re-encoding (the
    replaced system);
(b) one renderer process per scene, `--workers` at a time (the Pods), then `combine`;
(c) the same with chunking Auto: a `plan` process for scenes the static estimate cannot rule
    out, the long scene as 2 chunks (`render --frames`), `stitch`, then `combine`;
(d) a re-submitted request with one scene edited: the cache serves five scenes, one renders.

Also: the long scene alone, whole vs 2 chunks at once; each chunk's replay time as a fraction
of its render; and, from the measured job times, the expected time-to-video on k = 2, 4, 8
nodes (longest-job-first on k slots).

`--operator` (the documented way, docs/benchmarks.md): (a) as above, then (b)-(d) and the long
scene alone as VideoRequests through the operator on one dev cluster whose Job runner runs at
most 2 Pods at once (chunk_operator.py): plan Job, Indexed chunks Job and stitch Job, the scene
cache served by the operator. Without it, the renderer-only mode: the bench runs the same
commands the operator's Jobs run as local processes on `--workers` slots.

Not a test: `.venv/bin/python bench/chunk_bench.py --operator` (or `[--workers 2]`, `--long-only`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from chunk_operator import cpu_seconds, operator_bench, packing_bound
from manim_baseline import sequential
from scenefarm_contract.chunks import Unit, chunk_argv, plan_argv, stitch_argv
from scenefarm_contract.renderer import TerminationMessage, combine_argv, render_argv, scene_key
from scenefarm_operator.engine import chunking, scene_cache
from scenefarm_operator.engine.scheduling import costmodel, estimates

QUALITY, FPS = "medium", 30
PREFIX, PREFIX2 = "bench/video-00000000", "bench/again-11111111"
POLICY = chunking.ChunkingPolicy(mode="Auto", min_chunk_seconds=8, max_chunks=2)
LONG = 2
COLORS = ["RED", "GREEN", "BLUE", "YELLOW", "PURPLE", "ORANGE", "TEAL", "PINK"]


def scene_code(index: int, rounds: int, color: str = "") -> str:
    """2 s of dots growing, then `rounds` plays of 2 s (explicit, so the estimate can read it)."""
    plays = "".join(
        f"        self.play(dots.animate.rotate(0.6).set_color({color or COLORS[(index + r) % 8]}), "
        f"head.animate.shift({(-1) ** r} * UP + 0.4 * RIGHT), run_time=2)\n"
        for r in range(rounds)
    )
    return (
        textwrap.dedent(
            f"""
        from manim import *

        class Scene{index}(Scene):
            def construct(self):
                dots = VGroup(*[Dot(radius=0.05).shift(0.3 * (i % 30 - 15) * RIGHT + 0.3 * (i // 30 - 6) * UP)
                                for i in range(390)])
                head = Dot(color=WHITE).shift(3 * LEFT)
                head.add_updater(lambda m, dt: m.rotate(dt, about_point=ORIGIN))
                self.add(TracedPath(head.get_center, stroke_width=4), head)
                self.play(LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.01), run_time=2)
        """
        )
        + plays
    )


def run(argv: list[str], log: Path) -> tuple[TerminationMessage, float]:
    """Run one renderer command; its message and the CPU seconds it and its children used."""
    env = {**os.environ, "SCENEFARM_TERMINATION_LOG": str(log)}
    with subprocess.Popen(
        [sys.executable, "-m", "scenefarm_renderer", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read() if process.stderr else ""
    message = TerminationMessage.from_json(log.read_text())
    if process.returncode or message is None:
        raise RuntimeError(f"{argv[0]} failed: {stderr[-2000:]}")
    return message, usage.ru_utime + usage.ru_stime


class Farm:
    """Jobs on `workers` slots; every job's wall time is recorded by kind."""

    def __init__(self, work: Path, codes: list[Path], workers: int) -> None:
        self.work, self.codes, self.workers = work, codes, workers
        self.times: list[tuple[str, float]] = []
        self.cpu: list[tuple[str, float]] = []
        self.messages: dict[str, TerminationMessage] = {}
        self._logs = 0

    def job(self, kind: str, argv: list[str]) -> TerminationMessage:
        self._logs += 1
        started = time.perf_counter()
        message, cpu = run(argv, self.work / f"log-{self._logs}-{kind}")
        self.times.append((kind, time.perf_counter() - started))
        self.cpu.append((kind, cpu))
        self.messages[kind] = message
        return message

    def render(self, index: int, prefix: str = PREFIX, extra: list[str] | None = None) -> list[str]:
        return render_argv(
            code_path=str(self.codes[index]),
            class_name=f"Scene{index}",
            quality=QUALITY,
            scene_index=index,
            prefix=prefix,
            store="volume",
            store_root=str(self.work / "store"),
        ) + (extra or [])

    def combine(self, inputs: list[str], prefix: str = PREFIX) -> TerminationMessage:
        store = str(self.work / "store")
        return self.job(
            "combine", combine_argv(scene_keys=inputs, prefix=prefix, store="volume", store_root=store)
        )


def unchunked(farm: Farm) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(farm.workers) as pool:
        list(pool.map(lambda i: farm.job(f"whole-{i}", farm.render(i)), range(len(farm.codes))))
    farm.combine([scene_key(i) for i in range(len(farm.codes))])
    return time.perf_counter() - started


def chunked(farm: Farm) -> float:
    """Plan what may be long, render short scenes and chunks longest-first, stitch, combine."""
    started = time.perf_counter()
    store, spec = str(farm.work / "store"), {"render": {"chunking": {"mode": "Auto", "minChunkSeconds": 8}}}
    with ThreadPoolExecutor(farm.workers) as pool:
        running: dict[Future[TerminationMessage], tuple[str, int]] = {}
        left: dict[int, int] = {}
        decisions: dict[int, chunking.ChunkDecision] = {}
        for i, code in enumerate(farm.codes):
            if chunking.needs_plan(spec, code.read_text()):
                argv = plan_argv(code_path=str(code), class_name=f"Scene{i}", quality=QUALITY)
                running[pool.submit(farm.job, f"plan-{i}", argv)] = ("plan", i)
        for i in range(len(farm.codes)):
            if i not in {idx for _, idx in running.values()}:
                running[pool.submit(farm.job, f"whole-{i}", farm.render(i))] = ("whole", i)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                kind, i = running.pop(future)
                message = future.result()
                if kind == "plan":
                    d = decisions[i] = chunking.decide(POLICY, message.frames or 0, FPS, message.units or [])
                    chunks = d.chunks if d.chunked else ()
                    left[i] = len(chunks)
                    for c in chunks:
                        extra = chunk_argv(
                            chunk_index=c.index, start_frame=c.start_frame, end_frame=c.end_frame
                        )
                        running[
                            pool.submit(farm.job, f"chunk-{i}-{c.index}", farm.render(i, extra=extra))
                        ] = ("chunk", i)
                    if not chunks:
                        running[pool.submit(farm.job, f"whole-{i}", farm.render(i))] = ("whole", i)
                elif kind == "chunk":
                    left[i] -= 1
                    if left[i] == 0:
                        d = decisions[i]
                        argv = stitch_argv(
                            scene_index=i,
                            chunk_count=len(d.chunks),
                            quality=QUALITY,
                            expected_frames=d.frames,
                            prefix=PREFIX,
                            store="volume",
                            store_root=store,
                        )
                        running[pool.submit(farm.job, f"stitch-{i}", argv)] = ("stitch", i)
    farm.combine([scene_key(i) for i in range(len(farm.codes))])
    return time.perf_counter() - started


def long_scene_alone(farm: Farm) -> tuple[float, float, list[TerminationMessage]]:
    """The long scene whole, then as 2 chunks at once (its plan taken from (c))."""
    started = time.perf_counter()
    farm.job("alone-whole", farm.render(LONG, prefix="bench/alone-22222222"))
    whole = time.perf_counter() - started
    plan = farm.messages[f"plan-{LONG}"]
    decision = chunking.decide(POLICY, plan.frames or 0, FPS, plan.units or [])
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        argvs = [
            farm.render(
                LONG,
                "bench/alone-22222222",
                chunk_argv(
                    chunk_index=c.index,
                    start_frame=c.start_frame,
                    end_frame=c.end_frame,
                    last=c.end_frame == decision.frames,
                ),
            )
            for c in decision.chunks
        ]
        messages = list(pool.map(lambda a: farm.job("alone-chunk", a), argvs))
    return whole, time.perf_counter() - started, messages


def resubmitted(farm: Farm, edited: int = 4) -> tuple[float, int]:
    """Request 2 = request 1 with scene `edited` changed: look every scene up, render the misses."""
    scenes = []
    for i in range(len(farm.codes)):
        # A stitched scene's message has no key: its chunks reported it (the decider records it).
        rendered = farm.messages.get(f"whole-{i}") or farm.messages[f"stitch-{i}"]
        key = (farm.messages.get(f"whole-{i}") or farm.messages[f"chunk-{i}-0"]).cacheKey
        scenes.append(
            {
                "index": i,
                "phase": "Succeeded",
                "cacheKey": key,
                "sha256": rendered.sha256,
                "artifact": rendered.artifact,
            }
        )
    meta = {"namespace": "bench", "name": "video", "uid": "00000000-x", "creationTimestamp": "t"}
    first = {"metadata": meta, "spec": {}, "status": {"scenes": scenes}}
    farm.codes[edited].write_text(scene_code(edited, 1, color="WHITE"))
    started = time.perf_counter()
    inputs, renders = [], 0
    for i, code in enumerate(farm.codes):
        key = scene_cache.key_for(code.read_text(), f"Scene{i}", QUALITY)
        hit = scene_cache.lookup(key, [first], namespace="bench", store="Volume", default_store="Volume")
        if hit is None:
            farm.job(f"again-{i}", farm.render(i, prefix=PREFIX2))
            renders += 1
            inputs.append(scene_key(i))
        else:
            inputs.append(hit.source)
    farm.combine(inputs, prefix=PREFIX2)
    return time.perf_counter() - started, renders


def on_paper(farm: Farm, nodes: int, replay_per_frame: float, frames: int) -> float:
    """Expected time-to-video on `nodes` slots, splitting the long scene into `nodes` chunks.

    Chunk j takes t0 + (whole - t0) / k + j * (frames / k) * replay_per_frame, with t0 a
    render's fixed cost (from the short scenes: short = t0 + w, long = t0 + 4w); jobs go
    longest first to the least loaded slot after the plan; stitch and combine follow.
    """
    times = dict(farm.times)
    whole_long = times["alone-whole"]
    shorts = [t for kind, t in farm.times if kind.startswith("whole-") and kind != f"whole-{LONG}"]
    short = sum(shorts) / len(shorts)
    fixed = max(0.0, short - (whole_long - short) / 3)
    chunks = [
        fixed + (whole_long - fixed) / nodes + j * frames / nodes * replay_per_frame for j in range(nodes)
    ]
    slots = [times[f"plan-{LONG}"]] + [0.0] * (nodes - 1)
    for job in sorted(chunks + shorts, reverse=True):
        slots[slots.index(min(slots))] += job
    return max(slots) + times[f"stitch-{LONG}"] + times["combine"]


def long_only(work: Path, codes: list[Path]) -> None:
    """The long scene alone, with CPU seconds per job: figures a loaded machine bends less."""
    farm = Farm(work, codes, 2)
    farm.job(
        f"plan-{LONG}", plan_argv(code_path=str(codes[LONG]), class_name=f"Scene{LONG}", quality=QUALITY)
    )
    whole, two, messages = long_scene_alone(farm)
    cpu = dict(farm.cpu)
    chunk_cpu = [c for kind, c in farm.cpu if kind == "alone-chunk"]
    report = {
        "plan_s": round(dict(farm.times)[f"plan-{LONG}"], 2),
        "plan_cpu_s": round(cpu[f"plan-{LONG}"], 2),
        "whole_s": round(whole, 2),
        "whole_cpu_s": round(cpu["alone-whole"], 2),
        "two_chunks_s": round(two, 2),
        "chunk_cpu_s": [round(c, 2) for c in chunk_cpu],
        "speedup_wall": round(whole / two, 2),
        "speedup_cpu_bound": round(cpu["alone-whole"] / max(chunk_cpu), 2),
        "replay_s": [m.replaySeconds for m in messages],
        "chunk_render_s": [m.renderSeconds for m in messages],
        "replay_fraction": [round((m.replaySeconds or 0) / (m.renderSeconds or 1), 3) for m in messages],
        "load_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(report, indent=1))


def through_operator() -> None:
    """(a) sequential, then (b)-(d) and the long scene alone through the operator (chunk_operator)."""
    with tempfile.TemporaryDirectory(prefix="chunk-bench-") as tmp:
        work = Path(tmp)
        codes = [work / f"scene{i}.py" for i in range(6)]
        for i, code in enumerate(codes):
            code.write_text(scene_code(i, 7 if i == LONG else 1))
        before = cpu_seconds(resource.RUSAGE_CHILDREN) + cpu_seconds(resource.RUSAGE_SELF)
        a = sequential(work, codes, "medium_quality")
        a_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) + cpu_seconds(resource.RUSAGE_SELF) - before
        print(
            json.dumps(
                {
                    "a_sequential_s": round(a, 1),
                    "a_cpu_s": round(a_cpu, 1),
                    "load": round(os.getloadavg()[0], 2),
                }
            ),
            flush=True,
        )
        scenes = [(f"Scene{i}", code.read_text()) for i, code in enumerate(codes)]
        report = {"a_sequential_s": round(a, 1)} | operator_bench(
            work, scenes, scene_code(4, 1, color="WHITE"), LONG
        )
        report["a_cpu_s"] = round(a_cpu, 1)
        cores = os.cpu_count() or 1
        report["packing_bound_over_a"] = {
            run: packing_bound(a, cpu, cores)
            for run, cpu in report["pods_cpu_s"].items()
            if run in ("b", "c")
        }
        report["long_alone_packing_bound"] = {
            run: packing_bound(report["long_alone_whole_s"], report["pods_cpu_s"][run], cores)
            for run in ("e_whole", "e_chunked")
        }
        report["speedup_b_over_a"] = round(a / report["b_unchunked_s"], 2)
        report["speedup_c_over_a"] = round(a / report["c_chunked_s"], 2)
        report["long_speedup_in_request"] = round(report["long_in_b_s"] / report["long_in_c_s"], 2)
        report["long_speedup_alone"] = round(report["long_alone_whole_s"] / report["long_alone_chunked_s"], 2)
        report["load_at_end"] = round(os.getloadavg()[0], 2)
        print(json.dumps(report, indent=1))


def paper(model: str = "") -> None:
    """The request's time-to-video on k nodes from the operator's cost model (no render): chunking
    Off (every scene whole, longest first) and Auto (the long scene's plan first, then whole or the
    chunk count the model picks). `model` overrides costs as SCENEFARM_COST_MODEL does."""
    costs = costmodel.Costs.parse(model)
    scenes = [[Unit(60)] * (1 + (7 if i == LONG else 1)) for i in range(6)]  # plays of 2 s at 30 fps
    print(f"cost model: {costs}")
    rows = {k: estimates.on_paper(costs, QUALITY, scenes, k, 16) for k in (1, 2, 4, 8, 16)}
    print("| nodes k | " + " | ".join(str(k) for k in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    print("| chunking Off | " + " | ".join(f"{off:.1f} s" for off, _, _ in rows.values()) + " |")
    auto = [f"{s:.1f} s ({c} chunks)" if c > 1 else f"{s:.1f} s (whole)" for _, s, c in rows.values()]
    print("| chunking Auto: the model's choice | " + " | ".join(auto) + " |")
    one = rows[1][0]
    print(
        "| best vs Off on 1 node | "
        + " | ".join(f"{one / min(o, a):.2f}x" for o, a, _ in rows.values())
        + " |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--long-only", action="store_true", help="only the long scene: plan, whole, 2 chunks")
    parser.add_argument("--operator", action="store_true", help="(b)-(d) through the operator, dev cluster")
    parser.add_argument("--paper", nargs="?", const="", metavar="COSTS",
                        help="only the cost model's time-to-video on k nodes")  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    if args.paper is not None:
        paper(args.paper)
        return
    if args.operator:
        through_operator()
        return
    with tempfile.TemporaryDirectory(prefix="chunk-bench-") as tmp:
        work = Path(tmp)
        codes = []
        for i in range(6):
            codes.append(work / f"scene{i}.py")
            codes[-1].write_text(scene_code(i, 7 if i == LONG else 1))
        if args.long_only:
            long_only(work, codes)
            return
        a = sequential(work, codes, "medium_quality")
        (work / "b").mkdir()
        (work / "c").mkdir()
        b = unchunked(Farm(work / "b", codes, args.workers))
        farm = Farm(work / "c", codes, args.workers)
        c = chunked(farm)
        whole, two, chunk_messages = long_scene_alone(farm)
        d, renders = resubmitted(farm)
        frames = farm.messages[f"plan-{LONG}"].frames or 1
        first, second = chunk_messages[0], chunk_messages[-1]
        per_frame = ((second.replaySeconds or 0) - (first.replaySeconds or 0)) / max(
            1, second.startFrame or 1
        )
        report: dict[str, Any] = {
            "a_sequential_s": round(a, 2),
            "b_unchunked_s": round(b, 2),
            "c_chunked_s": round(c, 2),
            "speedup_c_over_a": round(a / c, 2),
            "speedup_b_over_a": round(a / b, 2),
            "long_whole_s": round(whole, 2),
            "long_two_chunks_s": round(two, 2),
            "long_speedup": round(whole / two, 2),
            "long_plan_s": round(dict(farm.times)[f"plan-{LONG}"], 2),
            "replay_fraction": [
                round((m.replaySeconds or 0) / (m.renderSeconds or 1), 3) for m in chunk_messages
            ],
            "replay_s": [m.replaySeconds for m in chunk_messages],
            "chunk_render_s": [m.renderSeconds for m in chunk_messages],
            "d_resubmitted_s": round(d, 2),
            "d_renders": renders,
            "paper_time_to_video_s": {k: round(on_paper(farm, k, per_frame, frames), 1) for k in (2, 4, 8)},
            "jobs": [(kind, round(t, 2)) for kind, t in farm.times],
            "load_at_end": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
