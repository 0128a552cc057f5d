"""The termination message: always written somewhere, never over 4096 bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenefarm_contract.renderer import TERMINATION_LOG_ENV, TERMINATION_MESSAGE_LIMIT, TerminationMessage
from scenefarm_renderer.termination import write_termination_message

from .conftest import RenderFn


def test_a_huge_scene_error_still_fits_in_the_termination_message(render: RenderFn, tmp_path: Path) -> None:
    run = render(
        """
        from manim import *

        class Intro(Scene):
            def construct(self):
                raise ValueError("the cart left the track " * 2000 + "at the end")
        """
    )

    written = (tmp_path / "termination-log").read_bytes()
    assert run.returncode == 11
    assert len(written) <= TERMINATION_MESSAGE_LIMIT
    tail = run.message.errorTail or ""
    assert 'File "scene.py", line 6, in construct' in tail  # the frames survive the cut
    assert tail.startswith("Traceback") and tail.endswith("at the end")


def test_an_unwritable_termination_log_is_printed_to_stderr_instead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "file" / "termination-log"
    (tmp_path / "file").write_text("")

    write_termination_message(
        TerminationMessage(exitClass=30, errorTail="volume gone"), {TERMINATION_LOG_ENV: str(blocked)}
    )

    err = capsys.readouterr().err
    assert f"cannot write termination message to {blocked}" in err
    assert '{"exitClass":30,"errorTail":"volume gone"}' in err


def test_the_termination_log_is_written_where_the_environment_says(tmp_path: Path) -> None:
    target = tmp_path / "log"

    write_termination_message(TerminationMessage(exitClass=0, frames=3), {TERMINATION_LOG_ENV: str(target)})

    assert TerminationMessage.from_json(target.read_text()) == TerminationMessage(exitClass=0, frames=3)
