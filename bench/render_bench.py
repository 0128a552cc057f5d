"""Renderer benchmark: seed-style sequential rendering vs one process per scene.

(a) baseline: all scenes rendered one after another in one Python process with
    Manim's API, then combined by re-encoding;
(b) scenefarm: `python -m scenefarm_renderer render` per scene, two at a time,
    then `combine`, which stream-copies.
Also: the stream-copy combine against the time to read the same bytes.

Not a test: run `make bench-render` (or `.venv/bin/python bench/render_bench.py`)
and copy the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from manim_baseline import sequential
from scenefarm_contract.renderer import combine_argv, render_argv, scene_key
from scenefarm_renderer.combining import combine

# Heavy enough that rendering, not starting Python and importing Manim, dominates:
# real scenes take seconds to minutes each.
SCENE = textwrap.dedent(
    """
    from manim import *

    class Scene{index}(Scene):
        def construct(self):
            dots = VGroup(*[Dot(radius=0.05).shift(0.3 * (i % 30 - 15) * RIGHT + 0.3 * (i // 30 - 6) * UP)
                            for i in range(390)])
            self.play(LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.01), run_time=3)
            self.play(dots.animate.set_color({color}).rotate({index} + 1), run_time=3)
            self.play(Transform(dots, Circle(radius=2)), run_time=2)
    """
)
COLORS = ["RED", "GREEN", "BLUE", "YELLOW", "PURPLE", "ORANGE"]
PREFIX = "bench/video-00000000"


def write_scenes(work: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = work / f"scene{index}.py"
        path.write_text(SCENE.format(index=index, color=COLORS[index % len(COLORS)]))
        paths.append(path)
    return paths


def baseline(work: Path, codes: list[Path]) -> float:
    """(a): one process renders every scene in turn, then everything is re-encoded."""
    return sequential(work, codes, "low_quality")


def scenefarm(work: Path, codes: list[Path], parallel: int) -> tuple[float, float]:
    """(b): one renderer process per scene, `parallel` at a time, then the combine command."""
    store = work / "store"
    env = {**os.environ, "SCENEFARM_TERMINATION_LOG": os.devnull}

    def render(index: int) -> None:
        argv = render_argv(
            code_path=str(codes[index]),
            class_name=f"Scene{index}",
            quality="low",
            scene_index=index,
            prefix=PREFIX,
            store="volume",
            store_root=str(store),
        )
        subprocess.run([sys.executable, "-m", "scenefarm_renderer", *argv], check=True, env=env)

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(render, range(len(codes))))
    rendered = time.perf_counter()
    keys = [scene_key(i) for i in range(len(codes))]
    argv = combine_argv(scene_keys=keys, prefix=PREFIX, store="volume", store_root=str(store))
    subprocess.run([sys.executable, "-m", "scenefarm_renderer", *argv], check=True, env=env)
    return time.perf_counter() - started, rendered - started


def noisy_clip(path: Path, frames: int) -> Path:
    """A clip of random noise: large packets, so combining is dominated by bytes, not overhead."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(frames):
            image = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def copy_all(paths: list[Path], dest: Path) -> float:
    """Read and write the same bytes: the floor for any combine that writes a new file."""
    started = time.perf_counter()
    with dest.open("wb") as out:
        for path in paths:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
    return time.perf_counter() - started


def read_all(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        with path.open("rb") as src:
            while src.read(1024 * 1024):
                pass
    return time.perf_counter() - started


def combine_vs_read(work: Path, scenes: list[Path], repeats: int = 5) -> str:
    best_combine = min(_timed(lambda: combine(scenes, work / "c.mp4")) for _ in range(repeats))
    best_read = min(read_all(scenes) for _ in range(repeats))
    best_copy = min(copy_all(scenes, work / "copy.bin") for _ in range(repeats))
    mode = combine(scenes, work / "c.mp4").mode
    size = sum(s.stat().st_size for s in scenes) / 1e6
    return (
        f"combine ({mode}) of {len(scenes)} files, {size:.1f} MB: {best_combine * 1000:.1f} ms; "
        f"read {best_read * 1000:.1f} ms (ratio {best_combine / best_read:.1f}x, target <= 3x); "
        f"read+write {best_copy * 1000:.1f} ms (ratio {best_combine / best_copy:.1f}x)"
    )


def _timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="render-bench-") as tmp:
        work = Path(tmp)
        codes = write_scenes(work, args.scenes)
        cpu0 = children_cpu()
        a = baseline(work, codes)
        cpu1 = children_cpu()
        b, b_render = scenefarm(work, codes, args.parallel)
        cpu2 = children_cpu()
        print(f"(a) sequential, one process, re-encode combine: {a:7.2f}s wall, {cpu1 - cpu0:6.2f}s CPU")
        print(
            f"(b) process per scene, {args.parallel} at a time, copy combine: {b:7.2f}s wall, "
            f"{cpu2 - cpu1:6.2f}s CPU (renders {b_render:.2f}s)"
        )
        print(f"    speed-up (a)/(b): {a / b:.2f}x  (target >= 1.7x)")
        scenes = sorted((work / "store" / PREFIX).glob("scene-*.mp4"))
        print(combine_vs_read(work, scenes))
        large = [noisy_clip(work / f"noise-{i}.mp4", 60) for i in range(args.scenes)]
        print(combine_vs_read(work, large))
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
