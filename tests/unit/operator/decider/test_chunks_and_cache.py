"""Chunked scenes and the scene cache through the real reconcile loop on a simulated cluster.

`run` checks at every step that a restarted operator decides what the lived-through loop does,
so each chain (plan -> chunks -> stitch) is also shown to continue across restarts.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from scenefarm_operator.engine import scene_cache

from .sim import NS, Outcome, Sim, run, spec

THREE = ("intro", "first-law", "outro")
AUTO = {"mode": "Auto", "minChunkSeconds": 10, "maxChunks": 4}
LOOPING = "from manim import *\n\n\nclass FirstLaw(Scene):\n    def construct(self):\n        for _ in range(40):\n            self.wait(1)\n"


def chunked_spec(**extra: Any) -> dict[str, Any]:
    the_spec = spec(*THREE, **extra)
    the_spec["render"] = {"parallelism": 4, "chunking": AUTO} | the_spec.get("render", {})
    the_spec["scenes"][1]["code"] = LOOPING  # its length is unknown from the source: a plan Job counts it
    return the_spec


def jobs_of_scene(sim: Sim, index: int) -> list[str]:
    return [n for n in sim.created if f"-s{index:02d}-" in n]


async def test_a_long_scene_is_planned_rendered_in_chunks_by_an_indexed_job_and_stitched(monkeypatch):
    sim = Sim(monkeypatch, chunked_spec())
    sim.seconds[1] = 40.0
    await run(sim)

    assert sim.status["phase"] == "Succeeded", sim.status["message"]
    assert jobs_of_scene(sim, 1) == ["newton-s01-a1-plan", "newton-s01-a1-chunks", "newton-s01-a1-stitch"]
    chunks = sim.jobs["newton-s01-a1-chunks"]["spec"]
    assert (chunks["completionMode"], chunks["completions"], chunks["parallelism"]) == ("Indexed", 4, 4)
    assert "--chunk-layout" in chunks["template"]["spec"]["containers"][0]["args"]
    scene = sim.status["scenes"][1]
    assert scene["chunking"]["decision"] == "Chunked"
    layout = [(c["startFrame"], c["endFrame"]) for c in scene["chunking"]["chunks"]]
    assert len(layout) == 4 and layout[0][0] == 0 and layout[-1][1] == 600
    assert all(a[1] == b[0] for a, b in itertools.pairwise(layout))
    assert scene["sha256"] == "01" * 32 and scene["cacheKey"] == "key-1"  # the stitch's file, the plan's key
    # the short scenes render whole without a plan Job: their source alone says they are short
    assert jobs_of_scene(sim, 0) == ["newton-s00-a1"]
    assert sim.status["scenes"][0]["chunking"]["decision"] == "Whole"
    assert "plays 1s" in sim.status["scenes"][0]["chunking"]["reason"]


async def test_a_planned_scene_too_short_to_split_renders_whole_and_says_why(monkeypatch):
    sim = Sim(monkeypatch, chunked_spec())
    sim.seconds[1] = 12.0
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert jobs_of_scene(sim, 1) == ["newton-s01-a1-plan", "newton-s01-a1"]
    chunking = sim.status["scenes"][1]["chunking"]
    assert chunking["decision"] == "Whole"
    assert "lasts 12.0s" in chunking["reason"]


async def test_a_chunk_whose_code_fails_is_healed_like_a_scene(monkeypatch):
    sim = Sim(monkeypatch, chunked_spec(planner={"mode": "Gemini"}))
    sim.seconds[1] = 40.0
    sim.outcomes[(1, 1)] = Outcome(exit_class=11)  # the chunks Job of attempt 1 fails (code raised)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.fix_calls == 1
    # the fixed code (the sim's planner answers a one-second scene) is judged again: it renders whole
    assert jobs_of_scene(sim, 1) == ["newton-s01-a1-plan", "newton-s01-a1-chunks", "newton-s01-a2"]
    scene = sim.status["scenes"][1]
    assert scene["revision"] == 2
    assert [(h["attempt"], h["phase"], h["exitClass"]) for h in scene["history"]] == [(1, "Failed", 11)]


async def test_an_out_of_memory_chunk_retries_the_attempt_with_more_memory_in_every_stage(monkeypatch):
    the_spec = chunked_spec()
    the_spec["render"]["resources"] = {"limits": {"memory": "1Gi"}}
    sim = Sim(monkeypatch, the_spec)
    sim.seconds[1] = 40.0
    sim.outcomes[(1, 1)] = Outcome(oom=True)
    await run(sim)

    assert sim.status["phase"] == "Succeeded"

    def memory(name: str) -> str:
        return sim.jobs[name]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]

    assert memory("newton-s01-a1-chunks") == "1Gi"
    assert memory("newton-s01-a2-plan") == memory("newton-s01-a2-chunks") == "2Gi"


# ---- the scene cache ---------------------------------------------------------------------------


def neighbour(the_spec: dict[str, Any], *, quality: str = "low", verified: bool = True) -> dict[str, Any]:
    """Another request of the namespace that rendered scene 0 of `the_spec` (same code and class)."""
    scene = the_spec["scenes"][0]
    entry = {
        "index": 0,
        "name": scene["name"],
        "phase": "Succeeded",
        "attempt": 1,
        "artifact": f"{NS}/earlier-11112222/scene-00.mp4",
        "cacheKey": scene_cache.key_for(scene["code"], scene["className"], quality),
    }
    if verified:
        entry["sha256"] = "ee" * 32
    return {
        "metadata": {
            "name": "earlier",
            "namespace": NS,
            "uid": "11112222-0000",
            "creationTimestamp": "2026-01-01T10:00:00Z",
        },
        "spec": {"scenes": [scene]},
        "status": {"phase": "Succeeded", "scenes": [entry]},
    }


async def test_a_scene_with_a_verified_artifact_in_the_namespace_is_reused_without_a_job(monkeypatch):
    the_spec = spec(*THREE)
    sim = Sim(monkeypatch, the_spec)
    sim.neighbours.append(neighbour(the_spec))
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert jobs_of_scene(sim, 0) == []  # no Job for the reused scene
    scene = sim.status["scenes"][0]
    assert scene["phase"] == "Succeeded"
    assert scene["reused"] == {
        "request": f"{NS}/earlier",
        "scene": 0,
        "source": f"{NS}/earlier-11112222/scene-00.mp4",
        "artifact": f"{NS}/earlier-11112222/scene-00.mp4",
    }
    assert scene["sha256"] == "ee" * 32
    [combine] = [j for n, j in sim.jobs.items() if "-combine-" in n]
    args = combine["spec"]["template"]["spec"]["containers"][0]["args"]
    inputs = [args[k + 1] for k, a in enumerate(args) if a == "--input"]
    assert inputs == [f"{NS}/earlier-11112222/scene-00.mp4", "scene-01.mp4", "scene-02.mp4"]
    assert [r for r, _ in sim.events].count("Reused") == 1


async def test_the_cache_never_serves_another_quality_an_unverified_artifact_or_an_opted_out_request(
    monkeypatch,
):
    for case in ("quality", "unverified", "opt-out"):
        the_spec = spec(*THREE)
        if case == "opt-out":
            the_spec["render"]["cache"] = False
        sim = Sim(monkeypatch, the_spec)
        sim.neighbours.append(neighbour(the_spec, quality="high" if case == "quality" else "low",
                                        verified=case != "unverified"))  # fmt: skip
        await run(sim)
        assert jobs_of_scene(sim, 0) == ["newton-s00-a1"], case
        assert "reused" not in sim.status["scenes"][0], case


async def test_edited_code_is_rendered_again_while_unchanged_scenes_are_reused(monkeypatch):
    first = spec(*THREE)
    earlier = neighbour(first)
    edited = spec(*THREE)
    edited["scenes"][0]["code"] += "        self.wait(0.5)\n"
    sim = Sim(monkeypatch, edited)
    sim.neighbours.append(earlier)
    await run(sim)

    assert jobs_of_scene(sim, 0) == ["newton-s00-a1"]
    assert "reused" not in sim.status["scenes"][0]
    assert json.dumps(sim.status["scenes"][0]).count("earlier") == 0


async def test_a_combine_that_fails_after_a_reuse_says_so_and_a_retry_renders_the_scene_here(monkeypatch):
    the_spec = spec(*THREE)
    sim = Sim(monkeypatch, the_spec)
    sim.neighbours.append(neighbour(the_spec))
    sim.combine_failures = 1  # the origin's file was deleted before the combine read it
    await run(sim)

    assert sim.status["phase"] == "Failed"
    assert "reused from other requests" in sim.status["message"]
    assert "spec.retryGeneration" in sim.status["message"]
    sim.edit(retryGeneration=1)
    await run(sim)

    assert sim.status["phase"] == "Succeeded", sim.status["message"]
    assert jobs_of_scene(sim, 0) == ["newton-s00-a1"]  # rendered by this request now
    assert "reused" not in sim.status["scenes"][0]
    assert sim.status["retryGeneration"] == 1
    assert len([n for n in sim.created if "-combine-" in n]) == 2


async def test_results_survive_the_terminated_pod_collector(monkeypatch):
    """On a busy cluster the Pod garbage collector removes terminated Pods soon after they end: the
    operator copies each finished Job's result onto the Job when it first sees it, and reads an
    Indexed Job's completed chunks from its completedIndexes."""
    sim = Sim(monkeypatch, chunked_spec())
    sim.seconds[1] = 40.0
    sim.pod_gc = True
    await run(sim)

    assert sim.status["phase"] == "Succeeded", sim.status["message"]
    assert jobs_of_scene(sim, 1) == ["newton-s01-a1-plan", "newton-s01-a1-chunks", "newton-s01-a1-stitch"]
    scene = sim.status["scenes"][1]
    assert scene["chunking"]["decision"] == "Chunked"  # the plan's frame count was not lost
    assert {c["phase"] for c in scene["chunking"]["chunks"]} == {"Succeeded"}
    assert scene["sha256"] == "01" * 32 and scene["cacheKey"] == "key-1"
    assert [s["sha256"] for s in sim.status["scenes"]] == ["00" * 32, "01" * 32, "02" * 32]
    assert sim.pods["newton-s01-a1-plan"] == [] and sim.pods["newton-s01-a1-chunks"] == []
    assert sim.status["output"]["sha256"] == "ab" * 32


async def test_a_reused_file_replaced_since_it_was_recorded_is_evicted_and_rendered_here(monkeypatch):
    the_spec = spec(*THREE)
    sim = Sim(monkeypatch, the_spec)
    sim.neighbours.append(neighbour(the_spec))
    sim.replaced.add(f"{NS}/earlier-11112222/scene-00.mp4")  # someone overwrote the origin's file
    await run(sim)

    assert sim.status["phase"] == "Succeeded", sim.status["message"]
    assert jobs_of_scene(sim, 0) == ["newton-s00-a1"]  # rendered here after the eviction
    assert "reused" not in sim.status["scenes"][0]
    assert sim.status["evictions"] == [{"source": f"{NS}/earlier-11112222/scene-00.mp4", "sha256": "ee" * 32}]
    assert [e for e in sim.events if e[0] == "CacheEntryEvicted"]
    # every request of the namespace skips the evicted entry from now on
    other = Sim(monkeypatch, spec(*THREE))
    other.neighbours += [neighbour(the_spec), copy.deepcopy(sim.vr)]
    await run(other)
    assert jobs_of_scene(other, 0) == ["newton-s00-a1"] and "reused" not in other.status["scenes"][0]
