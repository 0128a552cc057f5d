"""Render a scene whole and in chunks through the real command line; decode both for comparison."""

from __future__ import annotations

import dataclasses
import itertools
import textwrap
from pathlib import Path

import av
import numpy as np

from scenefarm_contract.chunks import chunk_argv, decode_units, plan_argv, stitch_argv
from scenefarm_contract.renderer import ExitClass, TerminationMessage, render_argv

from .conftest import PREFIX, run_renderer

WHOLE, CHUNKED = 0, 1  # scene indexes: the whole render and the stitched chunks share one store


@dataclasses.dataclass
class Comparison:
    plan: TerminationMessage
    unit_starts: list[int]
    whole: list[np.ndarray]
    stitched: list[np.ndarray]
    chunks: list[TerminationMessage]
    whole_file: Path
    stitched_file: Path


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def plan_scene(tmp_path: Path, source: str, class_name: str = "Intro") -> TerminationMessage:
    code = tmp_path / "scene.py"
    code.write_text(textwrap.dedent(source))
    run = run_renderer(plan_argv(code_path=str(code), class_name=class_name, quality="low"), tmp_path)
    assert run.returncode == ExitClass.OK, run.stderr
    return run.message


def unit_starts(plan: TerminationMessage) -> list[int]:
    starts, frame = [], 0
    for unit in decode_units(plan.units or []):
        starts.append(frame)
        frame += unit.frames
    return starts


def render_whole_and_chunked(
    tmp_path: Path, source: str, cuts: list[int], class_name: str = "Intro"
) -> Comparison:
    """Plan, render whole (scene 0), render the chunks split at `cuts` and stitch them (scene 1)."""
    plan = plan_scene(tmp_path, source, class_name)
    starts = unit_starts(plan)
    assert set(cuts) <= set(starts), f"cuts {cuts} are not segment starts {starts}"
    code, store = str(tmp_path / "scene.py"), str(tmp_path / "store")

    def argv(index: int) -> list[str]:
        return render_argv(
            code_path=code,
            class_name=class_name,
            quality="low",
            scene_index=index,
            prefix=PREFIX,
            store="volume",
            store_root=store,
        )

    whole = run_renderer(argv(WHOLE), tmp_path)
    assert whole.returncode == ExitClass.OK, whole.stderr
    assert plan.frames is not None
    edges = [0, *cuts, plan.frames]
    chunks = []
    for k, (start, end) in enumerate(itertools.pairwise(edges)):
        run = run_renderer(
            [
                *argv(CHUNKED),
                *chunk_argv(chunk_index=k, start_frame=start, end_frame=end, last=end == edges[-1]),
            ],
            tmp_path,
        )
        assert run.returncode == ExitClass.OK, run.stderr
        chunks.append(run.message)
    stitched = run_renderer(
        stitch_argv(
            scene_index=CHUNKED,
            chunk_count=len(chunks),
            quality="low",
            expected_frames=plan.frames,
            prefix=PREFIX,
            store="volume",
            store_root=store,
        ),
        tmp_path,
    )
    assert stitched.returncode == ExitClass.OK, stitched.stderr
    root = tmp_path / "store" / PREFIX
    whole_file, stitched_file = root / "scene-00.mp4", root / "scene-01.mp4"
    return Comparison(
        plan,
        starts,
        decoded_frames(whole_file),
        decoded_frames(stitched_file),
        chunks,
        whole_file,
        stitched_file,
    )


def differing_frames(a: list[np.ndarray], b: list[np.ndarray]) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not np.array_equal(x, y)]


def assert_frame_identical(result: Comparison) -> None:
    assert len(result.whole) == len(result.stitched) == result.plan.frames
    differing = differing_frames(result.whole, result.stitched)
    windows = [(c.startFrame, c.endFrame) for c in result.chunks]
    assert differing == [], (
        f"frames {differing} differ; chunk windows {windows}; files {result.whole_file.parent}"
    )
    # The scene really moves: identical videos of a still picture would prove nothing.
    assert any(not np.array_equal(result.whole[0], frame) for frame in result.whole[1:])
