"""Chunked renders are frame-identical to the whole render (decoded frames, not file bytes).

Each scene is planned, rendered whole, rendered as chunks by separate processes, stitched,
and both videos are decoded and compared frame by frame. At low quality (15 fps) the segment
grid is 30 frames: a 1 s play is one 15-frame segment, a 4 s wait two 30-frame segments.
Naive chunking (Manim's `-n`) fails the `TracedPath` scene (issue 17).
"""

from __future__ import annotations

from pathlib import Path

from scenefarm_contract.chunks import Unit, decode_units

from .chunking_helpers import assert_frame_identical, plan_scene, render_whole_and_chunked

TRACED_PATH = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            dot = Dot(LEFT * 3)
            self.add(dot, TracedPath(dot.get_center, stroke_width=6))
            self.play(dot.animate.shift(RIGHT * 3 + UP * 2), run_time=1)
            self.play(dot.animate.shift(RIGHT * 2 + DOWN * 3), run_time=1.5)
            self.play(dot.animate.shift(LEFT + UP), run_time=1)
"""

ALWAYS_REDRAW = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            dot = Dot(LEFT * 2)
            line = always_redraw(lambda: Line(ORIGIN, dot.get_center(), color=YELLOW))
            ring = always_redraw(lambda: Circle(radius=0.3 + abs(dot.get_x()) / 3).move_to(dot))
            self.add(dot, line, ring)
            self.play(dot.animate.move_to(RIGHT * 2 + UP), run_time=1)
            self.play(dot.animate.move_to(DOWN * 2), run_time=1)
"""

UPDATER_WITH_DT = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            clock = {"t": 0.0}
            square = Square()
            dot = Dot(color=RED)

            def spin(mob, dt):
                clock["t"] += dt
                mob.rotate(dt * (1 + clock["t"]))

            square.add_updater(spin)
            dot.add_updater(lambda m, dt: m.move_to(RIGHT * 2 * np.cos(clock["t"] ** 2) + UP * dt * 10))
            self.add(square, dot)
            self.play(FadeIn(Circle(radius=2)), run_time=1)
            self.wait(1)
            self.play(square.animate.set_color(BLUE), run_time=1)
"""

VALUE_TRACKER = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            tracker = ValueTracker(0)
            dot = Dot().add_updater(lambda m: m.move_to([2 * np.sin(tracker.get_value()), tracker.get_value() / 3, 0]))
            self.add(dot, always_redraw(lambda: Arc(angle=tracker.get_value() + 0.1)))
            self.play(tracker.animate.set_value(4), run_time=1)
            self.play(tracker.animate.increment_value(-3), run_time=1, rate_func=there_and_back)
"""

RANDOM_WITHOUT_SEED = """
    from manim import *
    import random

    OFFSET = random.uniform(-2, 2)

    class Intro(Scene):
        def construct(self):
            base = np.array([OFFSET, random.uniform(-1, 1), 0])
            dot = Dot(base)
            dot.add_updater(lambda m: m.move_to(base + np.append(np.random.uniform(-0.5, 0.5, 2), 0)))
            self.add(dot, TracedPath(dot.get_center))
            self.play(Create(Square().shift(RIGHT * random.random())), run_time=1)
            self.play(Create(Circle().shift(LEFT * np.random.rand())), run_time=1)
"""

WAIT_WITH_UPDATERS = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            square = Square().add_updater(lambda m, dt: m.rotate(dt * 2))
            self.play(Create(Circle()), run_time=1)
            self.add(square)
            self.wait(1.5)
            self.wait(1)
"""

BOUNDARY_INSIDE_WAITS = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            square = Square()
            self.play(Create(square), run_time=1)
            square.add_updater(lambda m, dt: m.rotate(dt).shift(RIGHT * dt / 4))
            self.wait(4)
            square.clear_updaters()
            self.wait(3)
"""


def test_traced_path_keeps_its_trail_across_chunks(tmp_path: Path) -> None:
    result = render_whole_and_chunked(tmp_path, TRACED_PATH, cuts=[15, 38])

    assert_frame_identical(result)
    assert [c.replaySeconds is not None for c in result.chunks] == [True, True, True]


def test_always_redraw_is_identical_across_chunks(tmp_path: Path) -> None:
    assert_frame_identical(render_whole_and_chunked(tmp_path, ALWAYS_REDRAW, cuts=[15]))


def test_updaters_see_the_same_dt_sequence_in_every_chunk(tmp_path: Path) -> None:
    assert_frame_identical(render_whole_and_chunked(tmp_path, UPDATER_WITH_DT, cuts=[15, 30]))


def test_value_tracker_animations_are_identical_across_chunks(tmp_path: Path) -> None:
    assert_frame_identical(render_whole_and_chunked(tmp_path, VALUE_TRACKER, cuts=[15]))


def test_random_without_a_seed_draws_the_same_numbers_in_every_chunk(tmp_path: Path) -> None:
    result = render_whole_and_chunked(tmp_path, RANDOM_WITHOUT_SEED, cuts=[15])

    assert_frame_identical(result)
    assert len({c.seed for c in result.chunks}) == 1 and result.chunks[0].seed == result.plan.seed


def test_waits_with_updaters_running_are_identical_across_chunks(tmp_path: Path) -> None:
    assert_frame_identical(render_whole_and_chunked(tmp_path, WAIT_WITH_UPDATERS, cuts=[15, 38]))


def test_a_boundary_inside_a_wait_is_exact_for_moving_and_frozen_waits(tmp_path: Path) -> None:
    # 1 s play | 4 s wait with updaters: two segments | 3 s frozen wait: 30 + 15 static frames
    plan = plan_scene(tmp_path, BOUNDARY_INSIDE_WAITS)
    assert decode_units(plan.units or []) == [Unit(15), Unit(30), Unit(30), Unit(30, True), Unit(15, True)]

    result = render_whole_and_chunked(tmp_path, BOUNDARY_INSIDE_WAITS, cuts=[45, 105])

    assert_frame_identical(result)
    assert [(c.startFrame, c.endFrame) for c in result.chunks] == [(0, 45), (45, 105), (105, 120)]
