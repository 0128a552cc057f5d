"""`python -m scenefarm_renderer render`: one real low-quality render per exit class."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

from scenefarm_contract.renderer import ExitClass

from .conftest import PREFIX, RenderFn

GOOD = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            self.play(Create(Circle()), run_time=1)
"""


def test_a_good_scene_renders_and_its_message_describes_the_stored_file(render: RenderFn) -> None:
    run = render(GOOD)

    assert run.returncode == ExitClass.OK, run.stderr
    stored = run.store_root / PREFIX / "scene-00.mp4"
    message = run.message
    assert message.artifact == f"volume:{PREFIX}/scene-00.mp4"
    assert message.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert message.sizeBytes == stored.stat().st_size
    assert (message.width, message.height, message.fps) == (854, 480, 15.0)
    assert message.frames == 15
    assert message.durationSeconds == 1.0
    assert message.renderSeconds is not None and message.renderSeconds > 0
    assert sorted(p.name for p in stored.parent.iterdir()) == ["scene-00.mp4", "scene-00.png"]  # nothing else
    assert message.poster == f"volume:{PREFIX}/scene-00.png"
    assert (stored.parent / "scene-00.png").read_bytes().startswith(b"\x89PNG")


def test_a_syntax_error_is_rejected_as_code(render: RenderFn) -> None:
    run = render("from manim import *\nclass Intro(Scene)\n    pass\n")

    assert run.returncode == ExitClass.CODE_REJECTED
    assert "syntax error at line 2" in (run.message.errorTail or "")


def test_a_forbidden_import_is_rejected_as_code(render: RenderFn) -> None:
    run = render("import os\n" + textwrap.dedent(GOOD))

    assert run.returncode == ExitClass.CODE_REJECTED
    assert "import of 'os' is not allowed" in (run.message.errorTail or "")


def test_the_manim_utils_subprocess_escape_is_rejected_before_anything_runs(
    render: RenderFn, tmp_path: Path
) -> None:
    marker = tmp_path / "escaped"
    run = render(
        f"""
        from manim import *

        class Intro(Scene):
            def construct(self):
                utils.tex_file_writing.subprocess.run(["touch", "{marker}"])
                self.wait(0.2)
        """
    )

    assert run.returncode == ExitClass.CODE_REJECTED
    assert "'utils'" in (run.message.errorTail or "")
    assert not marker.exists()
    assert not (run.store_root / PREFIX).exists()


def test_a_getattr_trick_is_rejected_as_code(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                run = getattr(getattr(np, "o" + "s"), "sys" + "tem")
                run("id")
        """
    )

    assert run.returncode == ExitClass.CODE_REJECTED
    assert "'getattr'" in (run.message.errorTail or "")


def test_a_scene_raising_in_construct_reports_its_own_traceback_tail(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        def radius_for(step):
            return 1 / step

        class Intro(Scene):
            def construct(self):
                self.play(Create(Circle(radius=radius_for(0))))
        """
    )

    assert run.returncode == ExitClass.CODE_RAISED
    tail = run.message.errorTail or ""
    assert 'File "scene.py", line 9, in construct' in tail
    assert 'File "scene.py", line 5, in radius_for' in tail
    assert tail.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "site-packages" not in tail  # Manim's own frames are left out


def test_an_endless_loop_is_stopped_by_the_deadline(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                while True:
                    pass
        """,
        extra=("--deadline", "3"),
    )

    assert run.returncode == ExitClass.CODE_RAISED
    assert "deadline exceeded after 3s" in (run.message.errorTail or "")


def test_a_memory_bomb_is_stopped_by_the_memory_limit(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                hoard = []
                while True:
                    hoard.append(np.ones(10_000_000))
        """,
        extra=("--memory-mib", "1024"),
    )

    assert run.returncode == ExitClass.CODE_RAISED
    tail = run.message.errorTail or ""
    assert tail.startswith("memory limit exceeded")
    assert "hoard.append(np.ones(10_000_000))" in tail


def test_a_store_that_cannot_be_written_is_an_environment_problem_at_start(
    render: RenderFn, tmp_path: Path
) -> None:
    # Root ignores permission bits, so the store lives under a regular file instead.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    run = render(GOOD, store_root=blocker / "store")

    assert run.returncode == ExitClass.ENVIRONMENT
    tail = run.message.errorTail or ""
    assert "the artifact store is not writable" in tail
    assert "fsGroup" in tail  # says what to set
    assert run.message.renderSeconds is None  # nothing was rendered first


def test_a_tex_scene_without_latex_on_the_path_is_an_environment_problem(
    render: RenderFn, tmp_path: Path
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.play(Write(MathTex(r"e^{i\\pi} + 1 = 0")))
        """,
        env={"PATH": str(empty_bin)},
    )

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "LaTeX is not installed" in (run.message.errorTail or "")


def test_a_scene_without_animations_is_a_code_problem(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.add(Circle())
        """
    )

    assert run.returncode == ExitClass.CODE_RAISED
    assert "played no animation" in (run.message.errorTail or "")


def test_a_render_writes_progress_a_person_can_follow_to_stdout(render: RenderFn) -> None:
    """What `kubectl logs -f` of a scene Pod shows: the start, the child's progress (the first
    animation, then a line every few seconds at most: a short scene has no more) and where it
    was stored."""
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.play(Create(Circle()), run_time=1)
                self.wait(1)
                self.play(FadeOut(*self.mobjects), run_time=1)
        """,
        index=2,
    )
    assert run.returncode == ExitClass.OK, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "scene 2 (Intro): rendering at low quality (15 fps)"
    assert lines[1].startswith("scene 2 (Intro): animation 1, 15 frames, ")
    assert any(line.startswith("scene 2 (Intro): done: 3 animations, 45 frames, ") for line in lines), lines
    # the video's length (45 frames at 15 fps), then the time the render took, named as such
    assert lines[-1].startswith(
        f"scene 2 (Intro): stored volume:{PREFIX}/scene-02.mp4 (45 frames, 3.0 s of video, "
    )
    assert "rendered in " in lines[-1] and lines[1].endswith(" s elapsed")
    assert len(lines) <= 3 + 2  # a few seconds of rendering: no flood
    # The same lines close the termination message (the status and the web page show them).
    assert (run.message.logTail or "").splitlines() == lines


def test_a_scene_killed_at_its_deadline_keeps_its_progress_in_the_log_tail(render: RenderFn) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                self.play(Create(Circle()), run_time=1)
                while True:
                    pass
        """,
        extra=("--deadline", "4"),
    )

    assert run.returncode == ExitClass.CODE_RAISED
    tail = (run.message.logTail or "").splitlines()
    assert tail[0] == "scene 0 (Intro): rendering at low quality (15 fps)"
    assert tail[1].startswith("scene 0 (Intro): animation 1, 15 frames, "), tail  # from the killed child


def test_progress_lines_are_throttled_and_count_animations_and_frames(tmp_path: Path) -> None:
    import os
    import types

    from scenefarm_renderer._child import Progress

    read, write = os.pipe()
    progress = Progress(write, "scene 0 (Intro)", total=90, every=3600)
    renderer = types.SimpleNamespace(num_plays=1, frames=15)
    progress(renderer)  # the first animation: at once
    renderer.num_plays = 2
    progress(renderer)  # within the interval: nothing
    progress.every = 0
    renderer.num_plays, renderer.frames = 2, 30
    progress(renderer)
    progress.done(types.SimpleNamespace(num_plays=6, frames=90))
    progress.stream.close()
    with os.fdopen(read) as stream:
        lines = stream.read().splitlines()
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        "scene 0 (Intro): animation 1, 15/90 frames",
        "scene 0 (Intro): animation 2, 30/90 frames",
        "scene 0 (Intro): done: 6 animations, 90/90 frames",
    ]
