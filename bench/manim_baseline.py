"""The replaced system, as the render and chunk benches time it: every scene rendered in turn in
one Python process with Manim's API, then the scenes combined by re-encoding."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from scenefarm_renderer.encoding import reencode
from scenefarm_renderer.media import probe

# Scene i of file i is class `Scene{i}`; it is written to <media>/.../scene-{i:02d}.mp4.
SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys
    from manim import tempconfig
    media, quality, *codes = sys.argv[1:]
    for index, code in enumerate(codes):
        settings = {"quality": quality, "media_dir": media, "disable_caching": True,
                    "output_file": f"scene-{index:02d}", "verbosity": "WARNING", "progress_bar": "none"}
        with tempconfig(settings):
            spec = importlib.util.spec_from_file_location(f"scene{index}", code)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            getattr(module, f"Scene{index}")().render()
    """
)


def sequential(work: Path, codes: list[Path], quality: str) -> float:
    """Wall seconds to render `codes` one after another at Manim's `quality` (e.g. "low_quality")
    and re-encode them into <work>/baseline.mp4."""
    started = time.perf_counter()
    media = work / "baseline-media"
    subprocess.run([sys.executable, "-c", SCRIPT, str(media), quality, *map(str, codes)], check=True)
    scenes = sorted(media.rglob("scene-*.mp4"))
    assert len(scenes) == len(codes), scenes
    reencode([probe(s) for s in scenes], work / "baseline.mp4")
    return time.perf_counter() - started
