"""The process that imports Manim and the scene code and renders one scene.

Started by `rendering` with resource limits, a scrubbed environment and its own
working directory; everything it writes stays in that directory.  It reports
through its exit code (an exit class) and a small JSON file, because the parent
must classify a failure without importing the scene or Manim itself.

Usage: python -s -P -m scenefarm_renderer._child CODE CLASS_NAME MANIM_QUALITY OUTPUT RESULT_JSON [OPTIONS]

OPTIONS is JSON: `seed` (random, numpy), `grid` (frames per segment), `start`/`end` (the
frame window, for a chunk) and `plan` (count the segments, render nothing).  The parent sets
PYTHONHASHSEED to the same seed, so string hashing (set order) is the same in every chunk.
`progressFd` (a descriptor the parent passed: its own stdout) and `label` ("scene 2 (Intro)"):
the child writes a progress line there after the first animation, then at most one every
`PROGRESS_SECONDS`, and one when it is done, so `kubectl logs -f` of a render shows it live.
With `progressLog` (a file name in its directory) it appends the same lines there too: the
parent reads their tail for the termination message's `logTail`, also after a crash or a kill.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from scenefarm_contract.chunks import coarsen, encode_units
from scenefarm_contract.renderer import ExitClass

from .errors import RendererError

# Programs Manim runs for Tex/MathTex: not finding one is the image's fault.
TEX_PROGRAMS = frozenset({"latex", "xelatex", "lualatex", "pdflatex", "dvisvgm", "dvips"})
USER_FRAMES = 12
MESSAGE_KEEP = 700
NO_ANIMATION = "the scene played no animation: a video needs at least one self.play(...) or self.wait()"
PROGRESS_SECONDS = 2.0  # at most one progress line per this many seconds (plus the last one)


class Progress:
    """Lines a person can follow: `scene 2 (Intro): animation 4, 60 frames, 3.1 s elapsed`."""

    def __init__(
        self, fd: int, label: str, total: int | None, every: float = PROGRESS_SECONDS, copy: str | None = None
    ) -> None:
        self.stream = os.fdopen(fd, "w", buffering=1, encoding="utf-8", errors="replace")
        self.copy = open(copy, "a", buffering=1, encoding="utf-8") if copy else None  # noqa: SIM115
        self.label, self.total, self.every = label, total, every
        self.started = self.last = time.monotonic()

    def __call__(self, renderer: Any) -> None:
        now = time.monotonic()
        if renderer.num_plays == 1 or now - self.last >= self.every:  # the first at once
            self.last = now
            self.write(f"animation {renderer.num_plays}, {self._frames(renderer.frames)}")

    def done(self, renderer: Any) -> None:
        self.write(f"done: {renderer.num_plays} animations, {self._frames(renderer.frames)}")

    def _frames(self, frames: int) -> str:
        total = f"/{self.total}" if self.total else ""
        return f"{frames}{total} frames, {time.monotonic() - self.started:.1f} s elapsed"

    def write(self, text: str) -> None:
        for stream in (self.stream, self.copy):
            with contextlib.suppress(OSError):  # nobody reads the log any more: rendering goes on
                if stream is not None:
                    stream.write(f"{self.label}: {text}\n")


def main(argv: list[str]) -> int:
    code, class_name, manim_quality, output, result, *rest = argv
    options: dict[str, Any] = json.loads(rest[0]) if rest else {}
    job = _Job(Path(code).resolve(), class_name, manim_quality, Path.cwd(), Path(output), options)
    exit_class, tail = ExitClass.OK, ""
    try:
        exit_class, tail = _render(job)
    except MemoryError:
        exit_class, tail = ExitClass.CODE_RAISED, "memory limit exceeded (MemoryError while rendering)"
    Path(result).write_text(json.dumps({"exitClass": int(exit_class), "errorTail": tail, **job.report}))
    return int(exit_class)


@dataclasses.dataclass
class _Job:
    code: Path
    class_name: str
    manim_quality: str
    work: Path
    output: Path
    options: dict[str, Any]
    report: dict[str, Any] = dataclasses.field(default_factory=dict)

    def phase(self, name: str) -> None:
        """CPU seconds (all threads) since the previous phase ended, as `report["cpu"][name]`
        (what `bench/pod_overhead_bench.py` shows: import, load, render, encode, join)."""
        spent = self.report.setdefault("cpu", {})
        now = time.process_time()
        spent[name] = round(now - sum(spent.values()), 4)

    @property
    def planning(self) -> bool:
        return bool(self.options.get("plan"))

    def manim_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "quality": self.manim_quality,
            "media_dir": str(self.work / "media"),
            "log_dir": str(self.work / "logs"),
            "log_to_file": False,
            "disable_caching": True,
            "preview": False,
            "show_in_file_browser": False,
            "write_to_movie": True,
            "save_last_frame": False,
            "format": "mp4",
            "output_file": "scene",
            "renderer": "cairo",
            "verbosity": "WARNING",
            "progress_bar": "none",
        }
        if self.options.get("seed") is not None:
            settings["seed"] = self.options["seed"]  # Scene.__init__ seeds random and numpy with it
        return settings


def _manim_problem() -> str | None:
    """Why Manim cannot be loaded (the image's fault), or None.

    The collector is off while Manim imports (its modules make no garbage worth a pass: ~10% of
    the import's CPU), and what the import made is frozen out of later passes over the scene's
    objects."""
    gc.disable()
    try:
        import manim  # noqa: F401
    except ImportError as exc:  # manim, cairo, pango or av missing: a broken image
        return f"cannot import manim: {exc!r}"
    except MemoryError:  # before any scene code ran: the limit is set too low for Manim itself
        return "the memory limit is too small to load Manim (raise --memory-mib)"
    finally:
        gc.enable()
    gc.freeze()
    return None


def _progress(job: _Job) -> Progress | None:
    fd = job.options.get("progressFd")
    if fd is None or job.planning:
        return None
    end = job.options.get("end") or job.options.get("last")
    label, copy = str(job.options.get("label") or job.class_name), job.options.get("progressLog")
    return Progress(int(fd), label, int(end) if end else None, copy=str(copy) if copy else None)


def _render(job: _Job) -> tuple[ExitClass, str]:
    problem = _manim_problem()
    job.phase("import")
    if problem:
        return ExitClass.ENVIRONMENT, problem
    import numpy as np
    from manim import tempconfig

    from .replaying import FrameRenderer, Window

    segments = None if job.planning else job.work / "segments"
    if segments is not None:
        segments.mkdir(exist_ok=True)
    window = Window(int(job.options.get("start", 0)), job.options.get("end"))
    progress = _progress(job)
    FrameRenderer.install(
        window, segments, int(job.options.get("grid", 1_000_000)), skim=job.planning, on_play=progress
    )
    if job.options.get("seed") is not None:  # module-level code draws before Scene.__init__
        random.seed(job.options["seed"])
        np.random.seed(job.options["seed"])
    scene = None
    try:
        with tempconfig(job.manim_settings()):
            spec = importlib.util.spec_from_file_location("scenefarm_scene", job.code)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            scene = getattr(module, job.class_name)()
            job.phase("load")
            result = _play(job, scene, window)
            if progress is not None and result[0] == ExitClass.OK:
                progress.done(scene.renderer)
            return result
    except RendererError as exc:
        return exc.exit_class, exc.message
    except MemoryError as exc:
        # Drop the frames first: they hold whatever the scene allocated.
        tail = scene_traceback(exc, job.code, clear=True)
        return ExitClass.CODE_RAISED, f"memory limit exceeded\n{tail}"
    except Exception as exc:
        if scene is not None and scene.renderer.num_plays == 0 and "no play calls" in str(exc):
            # Manim's own message suggests --format=png, which is not ours to choose.
            return ExitClass.CODE_RAISED, NO_ANIMATION
        return _classify(exc, job.code)


def _play(job: _Job, scene: Any, window: Any) -> tuple[ExitClass, str]:
    """Run the scene through its `FrameRenderer`; join the window's segments into the output."""
    from .replaying import ChunkComplete
    from .segments import join_exactly

    renderer = scene.renderer
    started = time.monotonic()
    try:
        scene.render()
    except ChunkComplete:
        pass
    except BaseException:
        if renderer.writer is not None:
            renderer.writer.abort()  # its encoder threads would keep the process alive
        raise
    job.phase("render")
    job.report["framesSeen"] = renderer.frames
    if renderer.misaligned:
        if renderer.writer is not None:
            renderer.writer.abort()
        return ExitClass.ENVIRONMENT, renderer.misaligned
    if job.planning:
        job.report["units"] = encode_units(coarsen(renderer.units))
        return ExitClass.OK, ""
    last = job.options.get("last")  # the last chunk ran to the scene's end: is it where the plan said?
    if last is not None and renderer.frames != last:
        renderer.writer.abort()
        return ExitClass.ENVIRONMENT, (
            f"the scene has {renderer.frames} frames, its plan {last}: the plan does not match this scene"
        )
    parts = renderer.writer.close()
    job.phase("encode")  # the segments still in the encoder threads
    job.report["replaySeconds"] = round((renderer.first_drawn or time.monotonic()) - started, 3)
    job.report["replay"] = {
        "fastForwarded": renderer.fast_forwarded,
        "stepped": renderer.stepped,
        "stepReason": renderer.step_reason,
    }
    if not parts:
        return ExitClass.ENVIRONMENT, (
            f"the chunk's frames {window.start}:{window.end} lie past the end of the scene "
            f"({renderer.frames} frames): the scene's length differs from its plan"
        )
    join_exactly(parts, job.output)
    job.phase("join")
    return ExitClass.OK, ""


def _classify(exc: BaseException, code: Path) -> tuple[ExitClass, str]:
    for link in _chain(exc):
        if isinstance(link, FileNotFoundError) and Path(str(link.filename)).name in TEX_PROGRAMS:
            return ExitClass.ENVIRONMENT, f"LaTeX is not installed in this image: {link.filename} not found"
        if isinstance(link, OSError) and "font" in str(link).lower():
            return ExitClass.ENVIRONMENT, f"font problem: {link}"
    if isinstance(exc, ImportError) and not _user_frames(exc, code):
        return ExitClass.ENVIRONMENT, f"a library of the image is missing: {exc!r}"
    return ExitClass.CODE_RAISED, scene_traceback(exc, code)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in seen:
        seen.append(link)
        link = link.__cause__ or link.__context__
    return seen


def _user_frames(exc: BaseException, code: Path) -> list[traceback.FrameSummary]:
    return [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == code]


def scene_traceback(exc: BaseException, code: Path, *, clear: bool = False) -> str:
    """The frames from the user's scene file plus the exception line: what a fix needs."""
    frames = _user_frames(exc, code)[-USER_FRAMES:]
    if clear:
        traceback.clear_frames(exc.__traceback__)
    lines = ["Traceback (scene frames only):"]
    for frame in frames:
        lines.append(f'  File "{code.name}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    lines.append(_shorten("".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")))
    return "\n".join(lines)


def _shorten(text: str, keep: int = MESSAGE_KEEP) -> str:
    """Cut the middle of a huge exception message, so the scene frames above it survive the 4 KiB limit."""
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]} … [{len(text) - 2 * keep} characters cut] … {text[-keep:]}"


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and closed (the result, the video, line-buffered progress): skip the
    # interpreter's teardown of Manim's modules and the scene's objects (~0.2 s of CPU per Pod).
    os._exit(status)
