"""The chunking decision and layout: when a scene is split, and where."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from scenefarm_contract.chunks import Unit, encode_units
from scenefarm_operator.engine import chunking
from scenefarm_operator.engine.chunking import ChunkingPolicy, decide, layout, needs_plan

AUTO = ChunkingPolicy(mode="Auto", min_chunk_seconds=10, max_chunks=4)


def segments(seconds: int, fps: int = 30, static: bool = False) -> list[Unit]:
    """One play of `seconds` on the 2-second grid."""
    frames = seconds * fps
    return [Unit(min(60, frames - start), static) for start in range(0, frames, 60)]


def test_the_policy_reads_spec_render_chunking_with_defaults() -> None:
    spec = {"render": {"chunking": {"mode": "Auto", "minChunkSeconds": 5, "maxChunks": 8}}}

    assert ChunkingPolicy.from_spec(spec) == ChunkingPolicy("Auto", 5, 8)
    assert ChunkingPolicy.from_spec({}) == ChunkingPolicy("Off", 10, 4)
    assert needs_plan(spec) and not needs_plan({})


def test_chunking_off_renders_every_scene_whole() -> None:
    units = segments(120)

    decision = decide(ChunkingPolicy(), 3600, 30, encode_units(units))

    assert not decision.chunked and decision.reason == "chunking is Off"
    assert decision.to_status()["decision"] == "Whole"


def test_a_scene_shorter_than_two_minimum_chunks_is_rendered_whole() -> None:
    decision = decide(AUTO, 19 * 30, 30, encode_units(segments(19)))

    assert not decision.chunked
    assert "19.0s" in decision.reason and "minChunkSeconds=10" in decision.reason


def test_a_long_scene_gets_as_many_chunks_as_its_length_allows_up_to_max_chunks() -> None:
    assert len(decide(AUTO, 30 * 30, 30, encode_units(segments(30))).chunks) == 3
    assert len(decide(AUTO, 120 * 30, 30, encode_units(segments(120))).chunks) == 4


def test_one_long_animation_is_split_by_time_on_the_segment_grid() -> None:
    decision = decide(AUTO, 40 * 30, 30, encode_units(segments(40)))

    assert decision.chunked and len(decision.chunks) == 4
    assert decision.chunks[0].start_frame == 0 and decision.chunks[-1].end_frame == 1200
    assert all(c.start_frame % 60 == 0 for c in decision.chunks)  # every start is a segment start
    status = decision.to_status()["chunks"][1]
    assert status == {
        "index": 1,
        "startFrame": decision.chunks[1].start_frame,
        "endFrame": decision.chunks[1].end_frame,
    }


def test_later_chunks_are_shorter_because_they_replay_everything_before_them() -> None:
    edges = layout(segments(40), 4)

    sizes = [b - a for a, b in itertools.pairwise(edges)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    assert edges == [0, 360, 660, 960, 1200]


def test_chunks_are_balanced_by_cost_so_frozen_waits_count_little() -> None:
    # 20 s of animation (cost 6000, replay 900) then 20 s of a still picture (cost 600): the
    # cut falls about 11-12 s in, not at 20 s where it would halve the frames.
    units = segments(20) + segments(20, static=True)

    edges = layout(units, 2)

    assert edges[0] == 0 and edges[-1] == 1200
    assert edges[1] in (300, 360)


def test_layout_never_cuts_inside_a_unit_and_covers_every_frame() -> None:
    units = [Unit(15), Unit(23), Unit(60), Unit(60), Unit(7), Unit(60, True)]

    edges = layout(units, 3)

    starts = {sum(u.frames for u in units[:i]) for i in range(len(units) + 1)}
    assert set(edges) <= starts and edges[-1] == 225 and edges == sorted(set(edges))


def test_a_plan_whose_units_disagree_with_its_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="add up to"):
        decide(AUTO, 999, 30, encode_units(segments(40)))


def test_the_crd_defaults_are_the_policy_defaults() -> None:
    crd = yaml.safe_load(
        (Path(__file__).parents[3] / "crds" / "scenefarm.dev_videorequests.yaml").read_text()
    )
    render = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "render"
    ]
    fields = render["properties"]["chunking"]["properties"]

    assert fields["mode"]["enum"] == ["Off", "Auto"] and fields["mode"]["default"] == ChunkingPolicy().mode
    assert fields["minChunkSeconds"]["default"] == chunking.DEFAULT_MIN_CHUNK_SECONDS
    assert fields["maxChunks"]["default"] == chunking.DEFAULT_MAX_CHUNKS
    assert render["properties"]["cache"]["default"] is True


def test_the_static_estimate_reads_literal_durations_and_gives_up_on_loops() -> None:
    explicit = "class A(Scene):\n    def construct(self):\n        self.play(X(), run_time=2)\n        self.wait(0.5)\n        self.play(Y())\n"
    looped = "class A(Scene):\n    def construct(self):\n        for i in range(9):\n            self.play(X(), run_time=2)\n"
    computed = "class A(Scene):\n    def construct(self):\n        self.wait(n)\n"

    assert chunking.static_seconds(explicit) == 3.5
    assert chunking.static_seconds(looped) is None
    assert chunking.static_seconds(computed) is None
    assert chunking.static_seconds("def (") is None


def test_only_scenes_that_may_be_long_get_a_plan_job() -> None:
    spec = {"render": {"chunking": {"mode": "Auto", "minChunkSeconds": 10}}}
    short = "class A(Scene):\n    def construct(self):\n        self.play(X(), run_time=5)\n"
    long = "class A(Scene):\n    def construct(self):\n        self.play(X(), run_time=25)\n"
    looped = "class A(Scene):\n    def construct(self):\n        while True:\n            self.wait()\n"

    assert not needs_plan(spec, short)
    assert needs_plan(spec, long) and needs_plan(spec, looped) and needs_plan(spec)
    assert not needs_plan({}, long)


def test_plays_in_helpers_or_comprehensions_make_the_estimate_unknown() -> None:
    helper = "class A(Scene):\n    def step(self):\n        self.play(X())\n    def construct(self):\n        self.step()\n"
    comprehension = "class A(Scene):\n    def construct(self):\n        [self.wait(1) for _ in range(50)]\n"

    assert chunking.static_seconds(helper) is None
    assert chunking.static_seconds(comprehension) is None
