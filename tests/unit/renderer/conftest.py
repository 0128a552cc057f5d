"""Helpers for renderer tests: run the real command line, make small clips with PyAV."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from scenefarm_contract.renderer import TERMINATION_LOG_ENV, TerminationMessage, render_argv

PREFIX = "default/intro-0123abcd"


@dataclasses.dataclass
class Run:
    returncode: int
    message: TerminationMessage
    stderr: str
    store_root: Path
    stdout: str = ""


RenderFn = Callable[..., Run]


def run_renderer(
    argv: list[str], tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Run:
    log = tmp_path / "termination-log"
    log.unlink(missing_ok=True)
    full_env = {**os.environ, TERMINATION_LOG_ENV: str(log), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "scenefarm_renderer", *argv],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    message = TerminationMessage.from_json(log.read_text() if log.exists() else None)
    assert message is not None, f"no termination message; stderr:\n{done.stderr}"
    assert message.exitClass == done.returncode
    return Run(done.returncode, message, done.stderr, tmp_path / "store", done.stdout)


@pytest.fixture
def render(tmp_path: Path) -> RenderFn:
    """Render `source` (dedented) through `python -m scenefarm_renderer render`."""

    def run(
        source: str,
        class_name: str = "Intro",
        *,
        quality: str = "low",
        index: int = 0,
        store_root: Path | None = None,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Run:
        code = tmp_path / f"scene-{index}.py"
        code.write_text(textwrap.dedent(source))
        argv = render_argv(
            code_path=str(code),
            class_name=class_name,
            quality=quality,
            scene_index=index,
            prefix=PREFIX,
            store="volume",
            store_root=str(store_root or tmp_path / "store"),
        )
        return run_renderer([*argv, *extra], tmp_path, env)

    return run


def make_clip(
    path: Path,
    *,
    width: int = 854,
    height: int = 480,
    fps: int = 15,
    frames: int = 15,
    tone_hz: float | None = None,
) -> Path:
    """A small H.264 MP4 (a moving gradient), optionally with an AAC sine tone as long as the video."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        audio = out.add_stream("aac", rate=48000, layout="stereo") if tone_hz else None
        for i in range(frames):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[:, :, 0] = (np.arange(width) + i * 8) % 256
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            total = frames * 48000 // fps
            t = np.arange(total) / 48000
            wave = (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
            for start in range(0, total, 1024):
                chunk = np.ascontiguousarray(np.stack([wave[start : start + 1024]] * 2))
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
                out.mux(audio.encode(frame))
            out.mux(audio.encode(None))
    return path
