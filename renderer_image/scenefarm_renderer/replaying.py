"""Manim's Cairo renderer, taught to render a window of frames and replay the rest.

Every scene the renderer makes goes through `FrameRenderer`, whole or in chunks, so a chunk
and the whole render run the same code on the same frames:

- **replay** (frames before the window): nothing is rasterized or encoded, and
  `renderer.time` advances by the same float sums as in a full render. A play whose
  intermediate frames something can observe (updaters, `TracedPath`, a stop condition, a
  function of the scene's own: `fastforward.why_step`) runs every frame's time step exactly as
  a full render does (`update_to_time(t)` with the same `t` sequence, so updaters and
  `ValueTracker`s see the same `dt`s); any other play is **fast-forwarded**: its replayed
  frames skip their updates, and the play's end (`finish`) or the window's first frame sets
  the state from the progress alone. Manim's own skip path (`-n`) runs one step per animation
  whatever observes it, which is why naive chunking loses a `TracedPath`.
- **render** (frames in the window): rasterized and handed to the segment writer, which cuts
  a new encoder segment at every play and every `SEGMENT_SECONDS` inside a play.
- **end** (the first frame after the window): `ChunkComplete` (a `BaseException`, so scene
  code catching `Exception` cannot swallow it) stops the scene.

A play inside a section created with `next_section(skip_animations=True)` is skipped the way
Manim skips it (one step, no frames), in every chunk alike.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import manim.scene.scene
import numpy as np
from manim import config
from manim.renderer.cairo_renderer import CairoRenderer

from scenefarm_contract.chunks import Unit

from .fastforward import why_step
from .segments import SegmentWriter


class ChunkComplete(BaseException):
    """The last frame of the window was rendered: the rest of the scene is not needed."""


@dataclasses.dataclass(frozen=True)
class Window:
    start: int = 0
    end: int | None = None  # None: to the end of the scene

    def overlaps(self, first: int, last: int) -> bool:
        """Whether any of the frames `[first, last)` is in the window."""
        return last > self.start and (self.end is None or first < self.end)

    def reached_end(self, frames: int) -> bool:
        return self.end is not None and frames >= self.end


class FrameRenderer(CairoRenderer):
    """`CairoRenderer` with a frame window, exact replay and per-segment encoding.

    `Scene.__init__` builds its renderer itself, so the child puts this class in its place
    (`install`) with the window set on the class. `segments` None records the plan only
    (the `plan` command): no frame is rasterized or encoded.
    """

    window = Window()
    segments: Path | None = None
    grid = 1
    skim = False  # plan: one time step per play (Manim's skip) instead of every frame
    on_play: tuple[Callable[[FrameRenderer], None], ...] = ()  # after each play (progress lines)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writer: SegmentWriter | None = None
        self.frames = 0  # frames a full render has produced so far
        self.play_start = 0
        self.units: list[Unit] = []
        self.first_drawn: float | None = None  # monotonic time of the window's first frame
        self.misaligned: str | None = None  # a window edge off the segment grid (a plan bug)
        self.fast_forwarded = 0  # replayed plays whose frames were skipped (fastforward.why_step)
        self.stepped = 0  # replayed plays stepped frame by frame, as a full render does
        self.step_reason: str | None = None  # why the first stepped play was stepped

    @classmethod
    def install(
        cls,
        window: Window,
        segments: Path | None,
        grid: int,
        *,
        skim: bool = False,
        on_play: Callable[[FrameRenderer], None] | None = None,
    ) -> None:
        cls.window, cls.segments, cls.grid, cls.skim = window, segments, grid, skim
        cls.on_play = (on_play,) if on_play is not None else ()
        manim.scene.scene.CairoRenderer = cls  # type: ignore[attr-defined,misc]

    def init_scene(self, scene: Any, session_spec: Any, file_writer_settings: Any) -> None:
        super().init_scene(scene, session_spec, file_writer_settings)
        if self.segments is not None:
            self.writer = SegmentWriter(self.segments, self.file_writer.video_encoder, self.grid)

    # -- one play ---------------------------------------------------------------------------
    def play(self, scene: Any, *args: Any, **kwargs: Any) -> None:
        self.skip_animations = bool(self.file_writer.sections[-1].skip_animations)
        scene.compile_animation_data(*args, **kwargs)
        if self.skip_animations:
            self.time += scene.duration  # Manim's own skip: one step, no frames
        scene.begin_animations()
        self.play_start = self.frames
        frozen = scene.is_current_animation_frozen_frame()
        dt = 1 / self.camera.frame_rate
        planned = (
            int(scene.duration / dt) if frozen else len(np.arange(0, scene.duration, 1 / config.frame_rate))
        )
        drawing = not self.skip_animations and self._draws(self.frames, self.frames + planned)
        if drawing:
            self.save_static_frame_data(scene, scene.static_mobjects)
        else:
            self.static_image = None
        replayed = 0 if self.skip_animations or self.skim else min(planned, self.window.start - self.frames)
        if self.skim and not self.skip_animations and (frozen or scene.stop_condition is None):
            self._skim(scene, planned, dt, frozen)
        elif frozen and not self.skip_animations:
            self._freeze(scene, planned, dt, drawing)
            self._count(replayed, None)
        elif not frozen:
            self._play_frames(scene, replayed, whole_play=replayed >= planned)
        if not self.skip_animations:
            self._record(self.frames - self.play_start, static=frozen)
        self.num_plays += 1
        for hook in self.on_play:
            hook(self)
        if self.window.reached_end(self.frames):
            raise ChunkComplete

    def _play_frames(self, scene: Any, replayed: int, *, whole_play: bool) -> None:
        """Manim's own loop over the play's frames; replayed frames skip their updates when
        nothing can observe them (`fastforward.why_step`), the clock still advances per frame."""
        reason = why_step(scene, self.camera, whole_play=whole_play) if replayed > 0 else "not replayed"
        self._count(replayed, reason)
        if reason is not None:
            scene.play_internal()
            return
        update = scene.update_to_time

        def fast_forward(t: float) -> None:
            if self.frames < self.window.start:
                scene.last_t = t  # the first frame that counts sees the dt a full render gives it
            else:
                update(t)

        scene.update_to_time = fast_forward
        try:
            scene.play_internal()  # its end runs `finish()`: every animation's end state
        finally:
            del scene.update_to_time

    def _count(self, replayed: int, reason: str | None) -> None:
        """Per replayed play: fast-forwarded (no per-frame work) or stepped, and the first reason."""
        if replayed <= 0:
            return
        if reason is None:
            self.fast_forwarded += 1
        else:
            self.stepped += 1
            self.step_reason = self.step_reason or reason

    def _skim(self, scene: Any, count: int, dt: float, frozen: bool) -> None:
        """Plan only: count the play's frames, advance its state in one step as Manim's `-n` does.

        The counts are exact unless the scene's control flow depends on state that updaters
        build frame by frame; the chunks and the stitch check the plan against the real scene
        (edges on the real grid, the last chunk runs to the real end), so a wrong count fails
        a render instead of cutting a video.
        """
        if not frozen:
            self.skip_animations = True
            scene.play_internal()
            self.skip_animations = False
        self.time += count * dt
        self.frames += count

    def _freeze(self, scene: Any, count: int, dt: float, drawing: bool) -> None:
        """A wait with nothing moving: one picture repeated, as `freeze_current_frame` does."""
        if drawing:
            self.update_frame(scene, mobjects=scene.moving_mobjects)
            first = max(self.frames, self.window.start)
            last = (
                self.frames + count if self.window.end is None else min(self.frames + count, self.window.end)
            )
            self._emit(self.get_frame(), first - self.play_start, last - first)
        self.time += count * dt
        self.frames += count
        if self.window.end is not None and self.play_start < self.window.end < self.frames:
            self._check_edge(self.window.end - self.play_start, "ends")

    # -- one frame (called by Scene.play_internal) ------------------------------------------
    def render(self, scene: Any, t: float, moving_mobjects: Any = None) -> None:
        if self.skip_animations:
            return
        if self.window.reached_end(self.frames):  # the first frame after the window, mid-play
            self._check_edge(self.frames - self.play_start, "ends")
            raise ChunkComplete
        if self._draws(self.frames, self.frames + 1):
            self.update_frame(scene, moving_mobjects)
            self._emit(self.get_frame(), self.frames - self.play_start, 1)
        else:
            self._keep_camera_current()
        self.time += 1 * (1 / self.camera.frame_rate)  # the float sum of `add_frame`
        self.frames += 1

    def scene_finished(self, scene: Any) -> None:
        """The writer is closed by the caller; Manim's file writer never receives a frame."""

    # -- helpers ----------------------------------------------------------------------------
    def _draws(self, first: int, last: int) -> bool:
        return self.writer is not None and self.window.overlaps(first, last)

    def _emit(self, pixels: Any, frame_in_play: int, repeat: int) -> None:
        if repeat > 0 and self.writer is not None:
            if self.first_drawn is None:
                self.first_drawn = time.monotonic()
                self._check_edge(frame_in_play, "starts")
            self.writer.write(self.num_plays, frame_in_play, pixels, repeat)

    def _check_edge(self, frame_in_play: int, edge: str) -> None:
        """A window edge inside a play must sit on the grid, or its segment would be cut in two."""
        if frame_in_play % self.grid and self.misaligned is None:
            self.misaligned = (
                f"the chunk {edge} at frame {frame_in_play} of play {self.num_plays}, "
                f"not on the {self.grid}-frame segment grid: its plan does not match this scene"
            )
            raise ChunkComplete

    def _keep_camera_current(self) -> None:
        """State a real frame would leave on the camera (a 3D camera's rotation matrix)."""
        reset = getattr(self.camera, "reset_rotation_matrix", None)
        if reset is not None:
            reset()

    def _record(self, frames: int, *, static: bool) -> None:
        """The play's segments on the grid: full segments, then the rest."""
        while frames > 0:
            size = min(self.grid, frames)
            self.units.append(Unit(size, static))
            frames -= size
