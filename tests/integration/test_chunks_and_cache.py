"""Chunked scenes and the scene cache through the operator on the dev cluster, with real renders.

A scene whose updaters build state over time (a `TracedPath`, an `add_updater` with `dt`) is
rendered by a plan Job, an Indexed Job of two chunks and a stitch Job; its decoded frames equal
those of the same code rendered whole. A later request with that scene and one new scene renders
only the new one: the other comes from the cache, without a Job, read from its origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from lightkube.resources.batch_v1 import Job

from scenefarm_devkit.devenv import DevEnv

from .conftest import create, jobs_of, video_request, wait_terminal

pytestmark = pytest.mark.integration
# This module is about exactness, not about when chunks pay: its scenes are a few seconds long,
# which the measured costs (a Pod's start, the stitch) would render whole. A cost model where
# rendering dominates (no Pod, plan or stitch cost, 1 s a frame) lets the operator chunk them.
CHUNKS_PAY = "pod=0,plan=0,stitch=0,low=1"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    operator_env = {"SCENEFARM_COST_MODEL": CHUNKS_PAY}
    with DevEnv(
        tmp_path_factory.mktemp("devenv"), rbac_from_chart=True, operator_env=operator_env
    ) as running:
        running.start_operator()
        yield running


# 4 seconds at 15 fps: 2 chunks of minChunkSeconds 2. The traced curve and the drifting dot carry
# state from the first chunk into the second.
TRACED = (
    "dot = Dot(LEFT * 2); path = TracedPath(dot.get_center); self.add(path, dot); "
    "dot.add_updater(lambda m, dt: m.shift(RIGHT * dt * 0.6 + UP * dt * 0.3)); "
    "self.play(Rotate(Square(), PI), run_time=2); self.wait(2)"
)
OTHER = "self.play(Create(Circle()), run_time=0.5)"
CHUNKS = {"mode": "Auto", "minChunkSeconds": 2, "maxChunks": 2}


def frames(path: Path) -> np.ndarray[Any, Any]:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_a_chunked_scene_is_frame_identical_and_a_resubmitted_scene_is_reused(env, client) -> None:
    chunked = video_request("chunked", [("traced", TRACED)])
    chunked["spec"]["render"] |= {"chunking": CHUNKS, "cache": False}
    whole = video_request("whole", [("traced", TRACED)], render={"cache": True})
    create(client, chunked)
    create(client, whole)
    status = wait_terminal(client, "chunked", timeout=300)
    reference = wait_terminal(client, "whole", timeout=300)
    assert status["phase"] == reference["phase"] == "Succeeded", (status["message"], reference["message"])

    scene = status["scenes"][0]
    assert scene["chunking"]["decision"] == "Chunked", scene["chunking"]
    assert [(c["startFrame"], c["endFrame"], c["phase"]) for c in scene["chunking"]["chunks"]] == [
        (0, 30, "Succeeded"),
        (30, 60, "Succeeded"),
    ]
    names = sorted(j.metadata.name for j in jobs_of(client, "chunked"))
    assert [n.rsplit("-", 1)[-1] for n in names if "-s00-" in n] == ["chunks", "plan", "stitch"]
    indexed = client.get(Job, next(n for n in names if n.endswith("-chunks")), namespace="default")
    assert (indexed.spec.completionMode, indexed.status.completedIndexes) == (
        "Indexed",
        "0,1",
    )  # the real controller writes two neighbours as "0,1"

    got = frames(env.artifact_path("default", scene["artifact"]))
    want = frames(env.artifact_path("default", reference["scenes"][0]["artifact"]))
    assert got.shape == want.shape == (60, *want.shape[1:])
    assert np.array_equal(got, want), f"{int((got != want).sum())} samples differ"
    assert scene["cacheKey"] == reference["scenes"][0]["cacheKey"]

    again = video_request("again", [("traced", TRACED), ("new", OTHER)], render={"cache": True})
    create(client, again)
    resubmitted = wait_terminal(client, "again", timeout=300)
    assert resubmitted["phase"] == "Succeeded", resubmitted["message"]
    reused = resubmitted["scenes"][0]
    assert reused["reused"]["request"] == "default/whole"  # "chunked" opted out of the cache
    assert reused["sha256"] == reference["scenes"][0]["sha256"]
    roles = sorted(j.metadata.labels["scenefarm.dev/role"] for j in jobs_of(client, "again"))
    assert roles == ["combine", "scene"]  # one render: the new scene
    assert [j.metadata.labels["scenefarm.dev/scene"] for j in jobs_of(client, "again") if
            j.metadata.labels["scenefarm.dev/role"] == "scene"] == ["1"]  # fmt: skip
    video = frames(env.artifact_path("default", resubmitted["output"]["uri"]))
    assert np.array_equal(video[:60], want)  # the combine read the reused scene from its origin


def test_a_dotted_request_name_renders_its_scene_in_chunks(env, client) -> None:
    """`intro.v2` is a legal name; its Indexed Job's Pod hostnames must be DNS labels all the same
    (the dev cluster refuses the Job otherwise, as a real API server does)."""
    dotted = video_request("intro.v2", [("traced", TRACED)])
    dotted["spec"]["render"] |= {"chunking": CHUNKS, "cache": False}
    create(client, dotted)
    status = wait_terminal(client, "intro.v2", timeout=300)
    assert status["phase"] == "Succeeded", status["message"]
    assert status["scenes"][0]["chunking"]["decision"] == "Chunked", status["scenes"][0]["chunking"]
    names = sorted(j.metadata.name for j in jobs_of(client, "intro.v2"))
    indexed = next(n for n in names if n.endswith("-chunks"))
    assert (
        "." not in indexed and client.get(Job, indexed, namespace="default").status.completedIndexes == "0,1"
    )
