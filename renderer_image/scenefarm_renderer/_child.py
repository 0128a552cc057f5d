"""The process that imports Manim and the scene code and renders one scene.

Started by `rendering` with resource limits, a scrubbed environment and its own
working directory; everything it writes stays in that directory.  It reports
through its exit code (an exit class) and a small JSON file, because the parent
must classify a failure without importing the scene or Manim itself.

Usage: python -I -m scenefarm_renderer._child CODE CLASS_NAME MANIM_QUALITY OUTPUT RESULT_JSON
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from scenefarm_contract.renderer import ExitClass

# Programs Manim runs for Tex/MathTex: not finding one is the image's fault.
TEX_PROGRAMS = frozenset({"latex", "xelatex", "lualatex", "pdflatex", "dvisvgm", "dvips"})
USER_FRAMES = 12
MESSAGE_KEEP = 700
NO_ANIMATION = "the scene played no animation: a video needs at least one self.play(...) or self.wait()"


def main(argv: list[str]) -> int:
    code, class_name, manim_quality, output, result = argv
    work = Path.cwd()
    exit_class, tail = ExitClass.OK, ""
    try:
        exit_class, tail = _render(Path(code).resolve(), class_name, manim_quality, work, Path(output))
    except MemoryError:
        exit_class, tail = ExitClass.CODE_RAISED, "memory limit exceeded (MemoryError while rendering)"
    Path(result).write_text(json.dumps({"exitClass": int(exit_class), "errorTail": tail}))
    return int(exit_class)


def _render(
    code: Path, class_name: str, manim_quality: str, work: Path, output: Path
) -> tuple[ExitClass, str]:
    try:
        from manim import tempconfig
    except ImportError as exc:  # manim, cairo, pango or av missing: a broken image
        return ExitClass.ENVIRONMENT, f"cannot import manim: {exc!r}"
    except MemoryError:  # before any scene code ran: the limit is set too low for Manim itself
        return ExitClass.ENVIRONMENT, "the memory limit is too small to load Manim (raise --memory-mib)"
    settings: dict[str, Any] = {
        "quality": manim_quality,
        "media_dir": str(work / "media"),
        "log_dir": str(work / "logs"),
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
    scene = None
    try:
        with tempconfig(settings):
            spec = importlib.util.spec_from_file_location("scenefarm_scene", code)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            scene = getattr(module, class_name)()
            scene.render()
            movie = Path(scene.renderer.file_writer.movie_file_path)
            os.replace(movie, output)
    except MemoryError as exc:
        # Drop the frames first: they hold whatever the scene allocated.
        tail = scene_traceback(exc, code, clear=True)
        return ExitClass.CODE_RAISED, f"memory limit exceeded\n{tail}"
    except Exception as exc:
        if scene is not None and scene.renderer.num_plays == 0 and "no play calls" in str(exc):
            # Manim's own message suggests --format=png, which is not ours to choose.
            return ExitClass.CODE_RAISED, NO_ANIMATION
        return _classify(exc, code)
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
    sys.exit(main(sys.argv[1:]))
