"""The termination message: always written somewhere, never over 4096 bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenefarm_contract.renderer import (
    LOG_TAIL_CHARS,
    LOG_TAIL_LINES,
    TERMINATION_LOG_ENV,
    TERMINATION_MESSAGE_LIMIT,
    TerminationMessage,
)
from scenefarm_renderer.termination import SECRET_ENV, LogTail, write_termination_message

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


def test_the_log_tail_keeps_the_last_lines_within_its_bounds() -> None:
    tail = LogTail()
    tail.add(f"scene 0 (Intro): animation {i}, {15 * i} frames, {i}.0 s" for i in range(1, 40))
    tail.add(["", "   "])  # blank lines are no news

    text = tail.text({}) or ""
    lines = text.splitlines()
    assert len(lines) == LOG_TAIL_LINES and len(text) <= LOG_TAIL_CHARS
    assert lines[-1] == "scene 0 (Intro): animation 39, 585 frames, 39.0 s"
    assert LogTail().text({}) is None  # nothing written: no field

    long = LogTail()
    long.add(["x" * 2000 + " the end"])
    cut = long.text({}) or ""
    assert len(cut) == LOG_TAIL_CHARS and cut.startswith("…") and cut.endswith(" the end")


def test_the_log_tail_never_carries_the_store_key() -> None:
    tail = LogTail()
    tail.add(["store said: key sk-very-secret refused", "scene 0 (Intro): animation 1, 15 frames, 0.4 s"])

    text = tail.text({SECRET_ENV: "sk-very-secret"}) or ""

    assert "sk-very-secret" not in text and "key *** refused" in text


def test_a_full_log_tail_and_a_huge_error_tail_still_fit_in_the_message() -> None:
    message = TerminationMessage(exitClass=11, errorTail="E" * 9000 + " last", logTail="L" * 5000 + " tail")

    text = message.to_json()

    assert len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    parsed = TerminationMessage.from_json(text)
    assert parsed is not None and (parsed.errorTail or "").endswith(" last")
    assert (parsed.logTail or "").endswith(" tail")
    small = TerminationMessage(exitClass=0, logTail="a\nb")
    assert TerminationMessage.from_json(small.to_json()) == small  # within bounds: untouched
