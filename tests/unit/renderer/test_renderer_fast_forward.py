"""Replay fast-forwards what nothing can observe, and the chunks stay frame-identical.

Each scene is planned, rendered whole, rendered as chunks and stitched; the decoded frames are
compared with the whole render's (`chunking_helpers`). Each chunk's termination message says
how many replayed plays were fast-forwarded (skipped to their state) and how many were stepped
frame by frame, and why the first stepped one was. At low quality (15 fps) the segment grid is
30 frames, so a 3 s play (45 frames) holds a cut at its 30th frame: a chunk may start inside it.
"""

from __future__ import annotations

from pathlib import Path

from .chunking_helpers import assert_frame_identical, render_whole_and_chunked

# Frames: Create 0-15 | LaggedStart 15-30 | rotate + Rotating 30-75 (cut at 60) | tracker + Write
# 75-90 | frozen wait 90-105 | Succession 105-135 | Transform there-and-back + Indicate 135-150
# | FadeOut of a group 150-195 (cut at 180).
WITHOUT_UPDATERS = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            square = Square(color=BLUE)
            dots = VGroup(*[Dot(RIGHT * (i - 4) * 0.6, color=YELLOW) for i in range(9)])
            tracker = ValueTracker(0)
            self.play(Create(square), run_time=1)
            self.play(LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.3), run_time=1)
            self.play(square.animate.rotate(PI / 3).set_color(RED).shift(UP), Rotating(dots, angle=PI), run_time=3)
            self.play(tracker.animate.set_value(5), Write(Circle(radius=2.5)), run_time=1)
            self.wait(1)
            star = Star(color=GREEN)
            self.play(Succession(FadeOut(square), FadeIn(star, shift=DOWN)), run_time=2)
            ring = VGroup(*[Dot(2 * np.array([np.cos(a), np.sin(a), 0])) for a in np.linspace(0, TAU, 9)])
            self.play(Transform(dots, ring, rate_func=there_and_back), Indicate(star), run_time=1)
            self.play(FadeOut(VGroup(dots, star), shift=LEFT * 2), run_time=3)
"""

# Frames: Create 0-15 | updater on 15-60 (cut at 45) | cleared: fast 60-75 | the scene's own
# rate function counts its calls 75-90 | a Succession running into the window 90-135 (cut at
# 120) | a circle whose size depends on that count 135-150.
MIXED = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            calls = {"n": 0}

            def counting(t):
                calls["n"] += 1
                return smooth(t)

            square = Square()
            self.play(Create(square), run_time=1)
            square.add_updater(lambda m, dt: m.rotate(dt).shift(RIGHT * dt / 3))
            self.play(FadeIn(Triangle().shift(LEFT * 3)), run_time=3)
            square.clear_updaters()
            self.play(square.animate.scale(0.5).set_color(ORANGE), run_time=1)
            self.play(square.animate.shift(UP * 2), rate_func=counting, run_time=1)
            self.play(Succession(square.animate.shift(DOWN), square.animate.rotate(PI)), run_time=3, rate_func=there_and_back)
            self.play(Create(Circle(radius=0.2 + calls["n"] / 20, color=PINK)), run_time=1)
"""

TRACED_PATH_ONLY = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            dot = Dot(LEFT * 3)
            self.add(dot, TracedPath(dot.get_center, stroke_width=6))
            self.play(dot.animate.shift(RIGHT * 3 + UP * 2), run_time=1)
            self.play(dot.animate.shift(RIGHT * 2 + DOWN * 3), run_time=1)
"""


def replay(chunk: object) -> tuple[int | None, int | None]:
    return getattr(chunk, "replayFastForwarded", None), getattr(chunk, "replayStepped", None)


def test_a_scene_without_updaters_is_fast_forwarded_and_identical(tmp_path: Path) -> None:
    result = render_whole_and_chunked(tmp_path, WITHOUT_UPDATERS, cuts=[60, 105, 180])

    assert_frame_identical(result)
    # chunk 0 replays nothing; then 2, 5 and 8 plays before frames 60, 105 and 180, none stepped
    assert [replay(c) for c in result.chunks] == [(0, 0), (3, 0), (5, 0), (8, 0)]
    assert all(c.replayStepReason is None for c in result.chunks)


def test_a_scene_mixing_both_steps_only_what_is_observed(tmp_path: Path) -> None:
    result = render_whole_and_chunked(tmp_path, MIXED, cuts=[45, 120, 135])

    assert_frame_identical(result)
    first, at_120, at_135 = result.chunks[1:]
    assert replay(first) == (1, 1)  # Create fast; the FadeIn beside the updater stepped
    assert first.replayStepReason == "Square has updaters"
    # + the play after clear_updaters fast; the counting rate function and the Succession that
    # runs into the window stepped (the first reason is the updater's)
    assert replay(at_120) == (2, 3)
    # the Succession ended before frame 135: only its end state counts, it is fast-forwarded
    assert replay(at_135) == (3, 2)


def test_a_traced_path_steps_every_replayed_play(tmp_path: Path) -> None:
    result = render_whole_and_chunked(tmp_path, TRACED_PATH_ONLY, cuts=[15])

    assert_frame_identical(result)
    assert replay(result.chunks[1]) == (0, 1)
    assert result.chunks[1].replayStepReason == "TracedPath has updaters"
