"""Encoding frames into one file per grid segment, and joining segments by stream copy.

Each segment gets a fresh encoder with Manim's own settings (`VideoSegmentEncoder`, libx264
CRF 23 yuv420p for MP4) on Manim's worker-thread job, so encoding overlaps rasterizing as in a
plain Manim render. Equal frames into a fresh encoder give equal packets, so a segment encoded
by a chunk Pod is the segment the whole render encodes; joining copies packets, never
re-encodes (a re-encode would change pixels, and is refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from manim.scene.scene_file_writer import _PartialMovieEncodeJob
from manim.scene.video_segment_encoder import VideoSegmentEncoder

from .combining import CombineResult, combine
from .errors import EnvironmentProblem

QUEUE_FRAMES = 8  # frames waiting per encoder (Manim's default)
IN_FLIGHT = 2  # segments encoding at once


class SegmentWriter:
    """`write(play, frame_in_play, pixels, repeat)`; a new segment at each play and grid cut."""

    def __init__(self, directory: Path, spec: Any, grid: int) -> None:
        self.directory = directory
        self.spec = spec
        self.grid = grid
        self.paths: list[Path] = []
        self._current: tuple[int, int] | None = None
        self._job: _PartialMovieEncodeJob | None = None
        self._sealed: list[_PartialMovieEncodeJob] = []

    def write(self, play: int, frame_in_play: int, pixels: Any, repeat: int) -> None:
        while repeat > 0:
            segment = (play, frame_in_play // self.grid)
            if segment != self._current:
                self._open(segment)
            count = min(repeat, self.grid - frame_in_play % self.grid)
            assert self._job is not None
            self._job.put(count, pixels)
            frame_in_play += count
            repeat -= count

    def _open(self, segment: tuple[int, int]) -> None:
        self._seal_current()
        path = self.directory / f"segment-{segment[0]:05d}-{segment[1]:04d}.mp4"
        encoder = VideoSegmentEncoder(target=path, spec=self.spec)
        self._job = _PartialMovieEncodeJob(
            animation_index=segment[0], encoder=encoder, frame_queue_size=QUEUE_FRAMES
        )
        self._current = segment
        self.paths.append(path)

    def _seal_current(self) -> None:
        if self._job is not None:
            self._job.seal()
            self._sealed.append(self._job)
            self._job = None
        while len(self._sealed) >= IN_FLIGHT:
            self._sealed.pop(0).join()

    def close(self) -> list[Path]:
        """Finish every segment (re-raising an encoder failure); the segment files in order."""
        self._seal_current()
        while self._sealed:
            self._sealed.pop(0).join()
        return list(self.paths)

    def abort(self) -> None:
        for job in [*self._sealed, *([self._job] if self._job else [])]:
            job.abort()
            job.thread.join()
        self._sealed, self._job = [], None


def join_exactly(parts: Sequence[Path], output: Path) -> CombineResult:
    """Concatenate `parts` by stream copy into a verified `output`; refuse to re-encode."""
    result = combine(parts, output)
    if result.mode != "copy":
        raise EnvironmentProblem(
            "the segments cannot be joined by stream copy (their encoder parameters differ): "
            "joining them would re-encode and change pixels"
        )
    return result
