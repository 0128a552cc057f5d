"""Where a scene Pod's fixed cost goes, against an in-process render of the same scene.

A scene Pod runs `python -m scenefarm_renderer render`: a parent that checks the code, starts a
limited child (a fresh interpreter that imports Manim, loads the scene and renders it into
segments, then joins them), and then probes, verifies, hashes and stores the MP4. The
sequential baseline (`manim_baseline.py`) instead renders every scene in one process that
imported Manim once. This bench measures, in CPU seconds (user + system, all threads):

- **pod**: the whole `render` command, end to end (`wait4` of the process and its child);
- **in-process**: the same scene rendered with Manim's API in a process that already imported
  Manim and rendered it once (what one more scene costs the sequential baseline); **cold**: a
  fresh `python -c` that imports Manim and renders it once;
- the **breakdown**: a bare interpreter, the parent's imports, the child's phases as it reports
  them (`import`: interpreter and Manim; `load`: the scene module and `Scene()`; `render`:
  construct, frames, encoding; `join`), then each step of the parent timed here with the
  renderer's own functions (probe, verification, sha256, poster, store);
- Manim's import when the standard library has no bytecode (as in the `python:*-slim` base
  image, whose build deletes every `.pyc`; site-packages keep theirs from `pip install`).

Overhead = pod - in-process, each the least of its runs (other work only adds CPU time). Not a
test: `.venv/bin/python bench/pod_overhead_bench.py [--quality medium] [--repeat 5]
[--baseline-python PY]` (PY: e.g. a venv whose .pth puts an older checkout of renderer_image/ and
contract/ before the project's site-packages); figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from scenefarm_contract.renderer import QUALITIES, TERMINATION_LOG_ENV, TerminationMessage, render_argv

CLASS = "Scene0"
# The 4 s scenes of the chunk benchmark's request (docs/benchmarks.md): 390 dots growing, then a
# 2 s play rotating and recolouring them, with a TracedPath following a dot moved by an updater.
SCENE = textwrap.dedent(
    """
    from manim import *

    class Scene0(Scene):
        def construct(self):
            dots = VGroup(*[Dot(radius=0.05).shift(0.3 * (i % 30 - 15) * RIGHT + 0.3 * (i // 30 - 6) * UP)
                            for i in range(390)])
            head = Dot(color=WHITE).shift(3 * LEFT)
            head.add_updater(lambda m, dt: m.rotate(dt, about_point=ORIGIN))
            self.add(TracedPath(head.get_center, stroke_width=4), head)
            self.play(LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.01), run_time=2)
            self.play(dots.animate.rotate(0.6).set_color(RED),
                      head.animate.shift(UP + 0.4 * RIGHT), run_time=2)
    """
)
# Imports Manim once, then renders the scene file named on each stdin line; prints the CPU seconds
# (process-wide: all threads) of each render. Manim's own output path (partial movies, combine).
IN_PROCESS = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    from manim import tempconfig
    quality, media = sys.argv[1], sys.argv[2]
    for run, line in enumerate(sys.stdin):
        settings = {"quality": quality, "media_dir": f"{media}/{run}", "disable_caching": True,
                    "output_file": "scene", "verbosity": "WARNING", "progress_bar": "none"}
        before = time.process_time()
        with tempconfig(settings):
            spec = importlib.util.spec_from_file_location(f"scene{run}", line.strip())
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.Scene0().render()
        print(json.dumps(time.process_time() - before), flush=True)
    """
)
# Imports Manim with the standard library's bytecode ignored (and nothing written).
NO_STDLIB_BYTECODE = textwrap.dedent(
    """
    import importlib._bootstrap_external as ext, sysconfig, time
    stdlib = sysconfig.get_paths()["stdlib"]
    cached = ext.cache_from_source
    def cache_from_source(path, *args, **kwargs):
        return "/nonexistent" + path + "c" if path.startswith(stdlib) else cached(path, *args, **kwargs)
    ext.cache_from_source = cache_from_source
    import manim
    """
)


def cpu_of(argv: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> tuple[float, float]:
    """CPU seconds of a process and its waited-for children, and its wall seconds."""
    started = time.perf_counter()
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs
    ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode:
        raise RuntimeError(f"{argv[:4]} failed ({process.returncode}): {err[-2000:]}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - started


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


class InProcess:
    """One process that imported Manim; `render()` renders the scene once more, its CPU seconds."""

    def __init__(self, work: Path, code: Path, quality: str) -> None:
        self.code = code
        argv = [sys.executable, "-c", IN_PROCESS, QUALITIES[quality].manim_flag, str(work / "in-process")]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def render(self) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{self.code}\n")
        self.process.stdin.flush()
        return float(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def pod_and_in_process(
    work: Path, code: Path, quality: str, repeat: int, baseline: str | None
) -> dict[str, Any]:
    """`render` commands and in-process renders of the same scene, one after the other (so all
    see the same load), after one in-process render that warms the process (fonts, caches).
    `baseline`: another interpreter whose path holds another tree of the renderer (the commit
    before a change), whose `render` commands run in the same rounds."""
    local = InProcess(work, code, quality)
    first = local.render()
    one_scene = work / "one-scene"  # a fresh process's stdin: the scene once
    one_scene.write_text(f"{code}\n")
    runs: dict[str, Any] = {"pod": [], "pod_wall": [], "baseline": [], "warm": [], "first": first, "cold": []}
    for run in range(repeat):
        for python, key in ((sys.executable, "pod"), (baseline, "baseline")):
            if python is None:
                continue
            log = work / f"termination-{key}-{run}"
            argv = render_argv(
                code_path=str(code), class_name=CLASS, quality=quality, scene_index=run,
                prefix=f"bench/{key}-00000000", store="volume", store_root=str(work / "store"),
            )  # fmt: skip
            env = {**os.environ, TERMINATION_LOG_ENV: str(log)}
            cpu, wall = cpu_of([python, "-m", "scenefarm_renderer", *argv], env)
            message = TerminationMessage.from_json(log.read_text())
            assert message is not None and message.exitClass == 0, message
            runs[key].append(cpu)
            if key == "pod":
                runs["pod_wall"].append(wall)
        runs["warm"].append(local.render())
        script = [sys.executable, "-c", IN_PROCESS, QUALITIES[quality].manim_flag, str(work / f"cold-{run}")]
        with one_scene.open() as stdin:
            runs["cold"].append(cpu_of(script, stdin=stdin)[0])
    local.close()
    return runs


def interpreter_costs(repeat: int) -> dict[str, float]:
    def best(*args: str) -> float:
        return min(cpu_of([sys.executable, *args])[0] for _ in range(repeat))

    parent = "import scenefarm_renderer.cli, scenefarm_renderer.rendering, scenefarm_renderer.media"
    bare = best("-c", "pass")
    return {
        "interpreter": round(bare, 3),
        "parent imports": round(best("-c", parent) - bare, 3),
        "Manim import": round(best("-s", "-P", "-c", "import manim") - bare, 3),
        "Manim import, stdlib without bytecode": round(
            best("-B", "-s", "-P", "-c", NO_STDLIB_BYTECODE) - bare, 3
        ),
        "parent imports, stdlib without bytecode": round(
            best("-B", "-c", NO_STDLIB_BYTECODE.replace("import manim", parent)) - bare, 3
        ),
    }


def parent_steps(work: Path, code: Path, quality: str, repeat: int) -> dict[str, float]:
    """The parent's steps, timed here with the renderer's own functions (CPU of this process;
    the child's from RUSAGE_CHILDREN and its own report)."""
    from scenefarm_renderer import media, rendering
    from scenefarm_renderer.sandbox import Limits
    from scenefarm_renderer.storage.store import open_store

    samples: dict[str, list[float]] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        before = time.process_time()
        result = step()
        samples.setdefault(name, []).append(time.process_time() - before)
        return result

    source = code.read_text()
    store = open_store("volume", str(work / "parent-store"), "bench/steps-00000000")
    for run in range(repeat):
        request = rendering.RenderRequest(code, CLASS, quality, run, Limits())
        out = work / f"parent-{run}"
        out.mkdir()
        movie, key = out / "scene.mp4", f"scene-{run:02d}.mp4"
        timed("parent: check the code (policy)", partial(rendering._checked_source, request))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = timed(
            "parent: start and wait for the child", partial(rendering._run_child, request, source, out, {})
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.setdefault("child, all", []).append(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        )
        for phase, seconds in report.get("cpu", {}).items():
            samples.setdefault(f"child: {phase}", []).append(seconds)
        info = timed("parent: probe (demux, count packets)", partial(media.probe, movie))
        problems = timed("parent: verify (decode)", partial(media.verify_scene, info, QUALITIES[quality]))
        assert not problems, problems
        timed("parent: sha256", partial(media.sha256_of, movie))
        timed("parent: poster", partial(rendering.store_poster, store, movie, key, info.frames))
        timed("parent: store", partial(store.put, movie, key))
    return {name: median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quality", default="medium", choices=sorted(QUALITIES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", help="an interpreter running another renderer tree, interleaved")
    args = parser.parse_args()
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {machine}, commit {commit}; load before: {load()}")
    with tempfile.TemporaryDirectory(prefix="pod-overhead-") as tmp:
        work = Path(tmp)
        code = work / "scene.py"
        code.write_text(SCENE)
        costs = interpreter_costs(args.repeat)
        steps = parent_steps(work, code, args.quality, args.repeat)
        runs = pod_and_in_process(work, code, args.quality, args.repeat, args.baseline_python)
    print(f"load after: {load()}")
    q = QUALITIES[args.quality]
    print(f"\nscene: {q.width}x{q.height} at {q.fps} fps, 4 s; CPU seconds, median of {args.repeat}\n")
    print("| step | CPU s |\n|---|---|")
    for name, value in {**costs, **steps}.items():
        print(f"| {name} | {value:.3f} |")
    # Other work on the machine only adds CPU time: the least of the runs is the steadiest figure.
    pod, warm, cold = (min(runs[k]) for k in ("pod", "warm", "cold"))
    print(f"\n| | CPU s, least of {args.repeat} | median |\n|---|---|---|")
    rows = {
        f"pod: the `render` command ({median(runs['pod_wall']):.1f} s wall)": "pod",
        "in-process render, Manim imported and warm": "warm",
        "fresh process: import Manim, render": "cold",
    }
    for label, key in rows.items():
        print(f"| {label} | {min(runs[key]):.3f} | {median(runs[key]):.3f} |")
    if runs["baseline"]:
        print(
            f"| pod, the baseline's `render` command | {min(runs['baseline']):.3f} | "
            f"{median(runs['baseline']):.3f} |"
        )
    print(f"| in-process, the process's first render | {runs['first']:.3f} | |")
    print(f"| **overhead: pod - in-process** | **{pod - warm:.3f}** | |")
    print(f"| pod - fresh process | {pod - cold:.3f} | |")
    if runs["baseline"]:
        print(f"| baseline pod - in-process | {min(runs['baseline']) - warm:.3f} | |")
    print(json.dumps({"costs": costs, "steps": steps, "runs": runs}))


if __name__ == "__main__":
    main()
