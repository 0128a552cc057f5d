"""Instant mode's made-up renderer ends: plan, whole scene, chunk of an Indexed Job, stitch."""

from __future__ import annotations

import re
from typing import Any

from scenefarm_contract.chunks import decode_units, indexed_chunk_argv, plan_argv, stitch_argv
from scenefarm_contract.renderer import TerminationMessage, render_argv
from scenefarm_devkit.instant_renders import synthetic_end

PREFIX = "default/long-1234abcd"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def renderer_pod(args: list[str], index: int | None = None, attempt: int = 1) -> dict[str, Any]:
    annotations = {} if index is None else {"batch.kubernetes.io/job-completion-index": str(index)}
    container = {"name": "render", "command": ["python", "-m", "scenefarm_renderer"], "args": args}
    return {
        "metadata": {"annotations": annotations, "labels": {"scenefarm.dev/attempt": str(attempt)}},
        "spec": {"containers": [container]},
    }


def end(pod: dict[str, Any]) -> tuple[int, TerminationMessage]:
    code, text = synthetic_end(pod)
    message = TerminationMessage.from_json(text)
    assert message is not None
    return code, message


def scene_args(class_name: str, index: int = 2) -> list[str]:
    return render_argv(
        code_path="/plan/k",
        class_name=class_name,
        quality="low",
        scene_index=index,
        prefix=PREFIX,
        store="volume",
        store_root="/artifacts",
    )


def test_a_plan_reports_frames_and_segments_long_classes_last_their_seconds() -> None:
    code, long = end(renderer_pod(plan_argv(code_path="/plan/k", class_name="Long10", quality="low")))
    assert code == 0 and (long.exitClass, long.frames, long.fps) == (0, 150, 15.0)
    assert long.units == [[30, 0, 5]]  # 2 s segments at 15 fps
    assert sum(u.frames for u in decode_units(long.units)) == 150
    _, short = end(renderer_pod(plan_argv(code_path="/plan/k", class_name="Intro", quality="medium")))
    assert (short.frames, short.units) == (30, [[30, 0, 1]])
    assert short.artifact is None and short.sha256 is None


def test_a_chunk_pod_renders_the_chunk_of_its_completion_index() -> None:
    args = scene_args("Long10") + indexed_chunk_argv(edges=[0, 60, 150])
    digests = set()
    for index, (start, stop) in enumerate([(0, 60), (60, 150)]):
        code, message = end(renderer_pod(args, index=index))
        assert code == 0 and message.sha256 is not None and SHA256.match(message.sha256)
        digests.add(message.sha256)
        assert message.artifact == f"{PREFIX}/scene-02.chunk-{index:02d}.mp4"
        assert (message.chunk, message.startFrame, message.endFrame) == (index, start, stop)
        assert message.frames == stop - start and message.durationSeconds == round((stop - start) / 15, 3)
    assert len(digests) == 2  # each chunk is its own video


def test_a_stitch_names_the_scene_video_with_the_frames_it_checked_and_a_sha256() -> None:
    args = stitch_argv(
        scene_index=2,
        chunk_count=2,
        quality="low",
        expected_frames=150,
        prefix=PREFIX,
        store="volume",
        store_root="/artifacts",
    )
    code, message = end(renderer_pod(args))
    assert code == 0 and message.artifact == f"{PREFIX}/scene-02.mp4"
    assert message.frames == 150 and message.cacheKey is None
    assert message.sha256 is not None and SHA256.match(message.sha256)


def test_whole_scenes_carry_a_sha256_that_depends_on_their_command_line() -> None:
    _, first = end(renderer_pod(scene_args("Intro", 0)))
    _, second = end(renderer_pod(scene_args("Intro", 1)))
    assert first.artifact == f"{PREFIX}/scene-00.mp4" and first.frames == 15
    assert first.sha256 is not None and SHA256.match(first.sha256)
    assert first.sha256 != second.sha256


def test_flaky_scenes_fail_before_their_attempt() -> None:
    code, message = end(renderer_pod(scene_args("Flaky2"), attempt=1))
    assert (code, message.exitClass) == (11, 11) and "NameError" in (message.errorTail or "")
    code, message = end(renderer_pod(scene_args("Flaky2"), attempt=2))
    assert code == 0 and message.artifact == f"{PREFIX}/scene-02.mp4"
