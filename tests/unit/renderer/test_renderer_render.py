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
    assert [p.name for p in stored.parent.iterdir()] == ["scene-00.mp4"]  # no temporary leftovers


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


def test_a_store_that_cannot_be_written_is_a_transient_problem(render: RenderFn, tmp_path: Path) -> None:
    # Root ignores permission bits, so the store lives under a regular file instead.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")

    run = render(GOOD, store_root=blocker / "store")

    assert run.returncode == ExitClass.TRANSIENT
    assert f"cannot write volume:{PREFIX}/scene-00.mp4" in (run.message.errorTail or "")


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
