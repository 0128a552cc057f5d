"""The chunk-related commands and contract helpers: plan, chunk layout, stitch, cache inputs."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import manim
import pytest

from scenefarm_contract.chunks import (
    MANIM_VERSION,
    Unit,
    cache_key,
    chunk_key,
    coarsen,
    decode_units,
    encode_units,
    source_key,
)
from scenefarm_contract.renderer import ExitClass, combine_argv, render_argv
from scenefarm_renderer.errors import EnvironmentProblem
from scenefarm_renderer.stitching import stitch
from scenefarm_renderer.storage.store import split_source

from .chunking_helpers import decoded_frames, differing_frames, plan_scene
from .conftest import PREFIX, RenderFn, make_clip, run_renderer

TWO_PLAYS = """
    from manim import *

    class Intro(Scene):
        def construct(self):
            dot = Dot(LEFT)
            self.add(dot, TracedPath(dot.get_center))
            self.play(dot.animate.shift(RIGHT * 2), run_time=1)
            self.play(dot.animate.shift(UP * 2), run_time=3)
"""


def test_the_contract_pins_the_manim_version_the_renderer_runs() -> None:
    assert manim.__version__ == MANIM_VERSION
    requirements = (Path(__file__).parents[3] / "renderer_image" / "requirements.txt").read_text()
    assert f"manim=={MANIM_VERSION}" in requirements


def test_units_round_trip_and_coarsening_keeps_every_frame() -> None:
    units = [Unit(15), Unit(30), Unit(30), Unit(30, True), Unit(15, True)] * 200

    assert decode_units(encode_units(units)) == units
    coarse = coarsen(units, budget=300)
    assert sum(u.frames for u in coarse) == sum(u.frames for u in units)
    assert len(str(encode_units(coarse)).replace(" ", "")) <= 300
    with pytest.raises(ValueError, match="malformed"):
        decode_units([[0, 0, 1]])


def test_plan_counts_frames_and_segments_without_a_video(tmp_path: Path) -> None:
    plan = plan_scene(tmp_path, TWO_PLAYS)

    # 1 s = 15 frames; 3 s = 45 frames cut on the 30-frame grid
    assert decode_units(plan.units or []) == [Unit(15), Unit(30), Unit(15)]
    assert (plan.frames, plan.durationSeconds, plan.artifact) == (60, 4.0, None)
    # The key the renderer reports is the operator's key for this code, class and quality.
    assert plan.cacheKey == cache_key(textwrap.dedent(TWO_PLAYS), "Intro", "low")
    assert plan.cacheKey != cache_key(textwrap.dedent(TWO_PLAYS), "Intro", "medium")
    assert plan.seed is not None


def test_a_chunk_edge_off_the_segment_grid_is_refused(render: RenderFn) -> None:
    run = render(TWO_PLAYS, extra=("--chunk-index", "1", "--frames", "20:60"))

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "not on the 30-frame segment grid" in (run.message.errorTail or "")


def test_an_indexed_job_pod_takes_its_chunk_from_the_completion_index(
    render: RenderFn, tmp_path: Path
) -> None:
    run = render(TWO_PLAYS, extra=("--chunk-layout", "0,15,45,60"), env={"JOB_COMPLETION_INDEX": "1"})

    assert run.returncode == ExitClass.OK, run.stderr
    assert (run.message.chunk, run.message.startFrame, run.message.endFrame, run.message.frames) == (
        1,
        15,
        45,
        30,
    )
    assert run.message.artifact == f"volume:{PREFIX}/{chunk_key(0, 1)}"


def test_a_plan_that_undercounts_the_scene_fails_its_last_chunk(render: RenderFn) -> None:
    run = render(TWO_PLAYS, extra=("--chunk-index", "1", "--frames", "15:45", "--last-chunk"))

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "the scene has 60 frames, its plan 45" in (run.message.errorTail or "")


def test_the_last_chunk_of_a_layout_runs_to_the_end_of_the_scene(render: RenderFn) -> None:
    run = render(TWO_PLAYS, extra=("--chunk-layout", "0,15,45,60", "--chunk-index", "2"))

    assert run.returncode == ExitClass.OK, run.stderr
    assert (run.message.startFrame, run.message.endFrame, run.message.frames) == (45, 60, 15)


def test_a_chunk_needs_both_its_index_and_its_frames(render: RenderFn) -> None:
    run = render(TWO_PLAYS, extra=("--frames", "0:15"))

    assert run.returncode == ExitClass.ENVIRONMENT
    assert "--frames and --chunk-index go together" in (run.message.errorTail or "")


def test_stitch_refuses_a_scene_whose_frames_differ_from_its_plan(tmp_path: Path) -> None:
    parts = [make_clip(tmp_path / f"c{i}.mp4", frames=15) for i in range(2)]

    with pytest.raises(EnvironmentProblem, match="the scene's plan has 31"):
        stitch(parts, tmp_path / "out.mp4", "low", 31)
    info = stitch(parts, tmp_path / "ok.mp4", "low", 30)
    assert (
        info.frames == 30
        and differing_frames(decoded_frames(tmp_path / "ok.mp4")[:15], decoded_frames(parts[0])) == []
    )


def test_stitch_refuses_chunks_that_would_need_a_reencode(tmp_path: Path) -> None:
    parts = [make_clip(tmp_path / "a.mp4", frames=15), make_clip(tmp_path / "b.mp4", frames=15, width=640)]

    with pytest.raises(EnvironmentProblem, match="stream copy"):
        stitch(parts, tmp_path / "out.mp4", "low", 30)


def test_combine_reads_a_cached_scene_from_another_request_of_the_namespace(
    render: RenderFn, tmp_path: Path
) -> None:
    assert render(TWO_PLAYS).returncode == ExitClass.OK
    store = tmp_path / "store"
    other = "default/other-89abcdef"
    (store / other).mkdir(parents=True)
    shutil.copy(store / PREFIX / "scene-00.mp4", store / other / "scene-00.mp4")

    argv = combine_argv(
        scene_keys=["scene-00.mp4", source_key(other, "scene-00.mp4")],
        prefix=PREFIX,
        store="volume",
        store_root=str(store),
    )
    run = run_renderer(argv, tmp_path)

    assert run.returncode == ExitClass.OK, run.stderr
    assert run.message.frames == 120


def test_a_combine_input_outside_the_namespace_is_refused() -> None:
    assert split_source(PREFIX, "scene-01.mp4") == (PREFIX, "scene-01.mp4")
    assert split_source(PREFIX, "default/x-1/scene-01.mp4") == ("default/x-1", "scene-01.mp4")
    for bad in ("kube-system/x/scene-00.mp4", "default/../etc/scene-00.mp4", "default//scene-00.mp4"):
        with pytest.raises(ValueError, match="not an artifact of namespace"):
            split_source(PREFIX, bad)


def test_the_render_argv_without_chunk_arguments_still_renders_the_whole_scene() -> None:
    argv = render_argv(
        code_path="c.py",
        class_name="A",
        quality="low",
        scene_index=3,
        prefix="p/q",
        store="volume",
        store_root="/r",
    )
    assert "--frames" not in argv and "--chunk-layout" not in argv
