"""The command line documents its arguments and the exit classes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scenefarm_contract.renderer import combine_argv, render_argv
from scenefarm_renderer.cli import build_parser


@pytest.mark.parametrize("command", [[], ["render"], ["combine"]])
def test_help_documents_every_exit_class(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scenefarm_renderer", *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )

    for code in ("0 ", "10", "11", "20", "30"):
        assert f"  {code}" in done.stdout
    assert "termination" in done.stdout


def test_the_parser_accepts_the_contract_command_lines() -> None:
    render = build_parser().parse_args(
        render_argv(
            code_path="/plan/scene-02.py",
            class_name="Laws",
            quality="medium",
            scene_index=2,
            prefix="ns/vr-0123abcd",
            store="volume",
            store_root="/artifacts",
            deadline_seconds=120,
        )
    )
    combine = build_parser().parse_args(
        combine_argv(
            scene_keys=["scene-00.mp4", "scene-01.mp4"],
            prefix="ns/vr-0123abcd",
            store="volume",
            store_root="/a",
        )
    )

    assert (render.class_name, render.quality, render.scene_index, render.deadline) == (
        "Laws",
        "medium",
        2,
        120.0,
    )
    assert combine.input == ["scene-00.mp4", "scene-01.mp4"] and combine.output == "video.mp4"
