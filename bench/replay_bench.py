"""Replay before a chunk: fast-forwarded where nothing observes the frames, stepped where it must.

The long scene of the chunk benchmark (docs/benchmarks.md: 720p30, 16 s, 480 frames: 390 dots
growing, then seven 2 s plays rotating and recolouring them) in three variants:

- **no updaters**: the dots and a dot moved by `.animate`: every replayed play is fast-forwarded;
- **a no-op updater**: the same plus an invisible mobject with an updater that does nothing: the
  same frames, but the renderer cannot know that nothing observes them, so it steps every play
  (what every replay did before the fast-forward);
- **TracedPath + updater** (the benchmark's own scene): a dot moved by a `dt` updater leaves a
  trail, so replay must step.

Each is rendered whole, then as 2 chunks split at frame 240 (one after the other, so each has
the machine to itself), then stitched. Printed per variant: wall and CPU seconds of the whole
render, of each chunk, of the plan and the stitch; the second chunk's replay seconds and its
share of the chunk's time; the fast-forwarded/stepped counts; whether the stitched scene is
byte-identical to the whole render (the tests compare decoded frames); and the 2-node CPU bound
whole / (plan + slower chunk + stitch).

Not a test: `.venv/bin/python bench/replay_bench.py`; figures in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from scenefarm_contract.chunks import chunk_argv, plan_argv, stitch_argv
from scenefarm_contract.renderer import TERMINATION_LOG_ENV, TerminationMessage, render_argv

QUALITY, CUT, ROUNDS = "medium", 240, 7
PREFIX = "bench/replay-00000000"
HEAD = {
    "no updaters": "head = Dot(color=WHITE).shift(3 * LEFT)\nself.add(head)",
    "a no-op updater": "head = Dot(color=WHITE).shift(3 * LEFT)\n"
    "self.add(head, Mobject().add_updater(lambda m, dt: None))",
    "TracedPath + updater": "head = Dot(color=WHITE).shift(3 * LEFT)\n"
    "head.add_updater(lambda m, dt: m.rotate(dt, about_point=ORIGIN))\n"
    "self.add(TracedPath(head.get_center, stroke_width=4), head)",
}


def scene_code(head: str) -> str:
    plays = "".join(
        f"        self.play(dots.animate.rotate(0.6).set_color({color}), "
        f"head.animate.shift({(-1) ** r} * UP + 0.4 * RIGHT), run_time=2)\n"
        for r, color in enumerate(["RED", "GREEN", "BLUE", "YELLOW", "PURPLE", "ORANGE", "TEAL"][:ROUNDS])
    )
    body = textwrap.indent(head, " " * 8)
    return (
        "from manim import *\n\n"
        "class Long(Scene):\n"
        "    def construct(self):\n"
        "        dots = VGroup(*[Dot(radius=0.05)\n"
        "                        .shift(0.3 * (i % 30 - 15) * RIGHT + 0.3 * (i // 30 - 6) * UP)\n"
        "                        for i in range(390)])\n"
        f"{body}\n"
        "        self.play(LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.01), run_time=2)\n"
        f"{plays}"
    )


def run(argv: list[str], log: Path) -> tuple[TerminationMessage, float, float]:
    """One renderer command: its message, CPU seconds (with its child) and wall seconds."""
    started = time.perf_counter()
    env = {**os.environ, TERMINATION_LOG_ENV: str(log)}
    command = [sys.executable, "-m", "scenefarm_renderer", *argv]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        _, status, usage = os.wait4(process.pid, 0)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    message = TerminationMessage.from_json(log.read_text())
    if os.waitstatus_to_exitcode(status) or message is None:
        raise RuntimeError(f"{argv[0]} failed: {stderr[-2000:]}")
    return message, usage.ru_utime + usage.ru_stime, time.perf_counter() - started


def variant(work: Path, name: str, index: int) -> dict[str, Any]:
    code = work / f"long-{index}.py"
    code.write_text(scene_code(HEAD[name]))
    store = str(work / "store")
    plan, plan_cpu, plan_wall = run(
        plan_argv(code_path=str(code), class_name="Long", quality=QUALITY), work / "plan.log"
    )
    assert plan.frames is not None

    def render(scene_index: int) -> list[str]:
        return render_argv(
            code_path=str(code), class_name="Long", quality=QUALITY, scene_index=scene_index,
            prefix=PREFIX, store="volume", store_root=store,
        )  # fmt: skip

    whole, whole_cpu, whole_wall = run(render(2 * index), work / "whole.log")
    chunks = []
    for k, (start, end) in enumerate(((0, CUT), (CUT, plan.frames))):
        argv = render(2 * index + 1) + chunk_argv(
            chunk_index=k, start_frame=start, end_frame=end, last=k == 1
        )
        chunks.append(run(argv, work / f"chunk-{k}.log"))
    stitch = stitch_argv(
        scene_index=2 * index + 1, chunk_count=2, quality=QUALITY, expected_frames=plan.frames,
        prefix=PREFIX, store="volume", store_root=store,
    )  # fmt: skip
    stitched, stitch_cpu, stitch_wall = run(stitch, work / "stitch.log")
    second = chunks[1][0]
    return {
        "variant": name,
        "frames": plan.frames,
        "whole": (round(whole_wall, 2), round(whole_cpu, 2)),
        "chunks": [(round(w, 2), round(c, 2)) for _, c, w in chunks],
        "plan": (round(plan_wall, 2), round(plan_cpu, 2)),
        "stitch": (round(stitch_wall, 2), round(stitch_cpu, 2)),
        "replay_s": second.replaySeconds,
        "replay_share": round((second.replaySeconds or 0) / (second.renderSeconds or 1), 4),
        "chunk0_setup_s": chunks[0][0].replaySeconds,
        "fast_forwarded_stepped": (second.replayFastForwarded, second.replayStepped),
        "step_reason": second.replayStepReason,
        "byte_identical": stitched.sha256 == whole.sha256,
        "cpu_bound_2_nodes": round(whole_cpu / (plan_cpu + max(c for _, c, _ in chunks) + stitch_cpu), 2),
    }


def main() -> None:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"commit {commit}; load before: {load}")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        for index, name in enumerate(HEAD):
            results.append(variant(Path(tmp), name, index))
            print(json.dumps(results[-1]), flush=True)
    print(f"load after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n| variant | whole wall / CPU s | chunk 0, chunk 1 wall / CPU s | chunk 1 replay | "
          "fast-forwarded / stepped | identical | CPU bound, 2 nodes |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in results:
        chunks = ", ".join(f"{w} / {c}" for w, c in r["chunks"])
        ff, stepped = r["fast_forwarded_stepped"]
        print(
            f"| {r['variant']} | {r['whole'][0]} / {r['whole'][1]} | {chunks} | {r['replay_s']} s = "
            f"{100 * r['replay_share']:.1f}% | {ff} / {stepped} | {r['byte_identical']} | "
            f"{r['cpu_bound_2_nodes']}x |"
        )


if __name__ == "__main__":
    main()
