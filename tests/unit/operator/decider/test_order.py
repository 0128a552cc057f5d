"""Longest expected scene first, and chunking by the cost model, through the real reconcile loop.

`run` checks at every step that a loop built from the cluster alone (a restarted operator)
decides what the lived-through loop decides, the order included.
"""

from __future__ import annotations

from typing import Any

from scenefarm_operator.support.settings import Settings

from .sim import Sim, run, spec


def waits(class_name: str, seconds: float) -> str:
    return f"from manim import *\n\n\nclass {class_name}(Scene):\n    def construct(self):\n        self.wait({seconds})\n"


LOOPING = "from manim import *\n\n\nclass {name}(Scene):\n    def construct(self):\n        for _ in range(3):\n            self.wait(1)\n"


def scenes_spec(lengths: list[float | None], parallelism: int, **render: Any) -> dict[str, Any]:
    """One scene per length (None: a loop, whose length the source cannot tell)."""
    names = [f"s{i}" for i in range(len(lengths))]
    the_spec = spec(*names)
    for scene, seconds in zip(the_spec["scenes"], lengths, strict=True):
        cls = scene["className"]
        scene["code"] = LOOPING.format(name=cls) if seconds is None else waits(cls, seconds)
    the_spec["render"] = {"parallelism": parallelism, **render}
    return the_spec


def launched(sim: Sim) -> list[int]:
    """Scene indexes in the order their first Job was created."""
    order: list[int] = []
    for name in sim.created:
        if "-combine-" in name:
            continue
        index = int(name.split("-s")[1][:2])
        if index not in order:
            order.append(index)
    return order


async def test_scenes_start_longest_expected_first_and_the_status_says_the_order(monkeypatch):
    sim = Sim(monkeypatch, scenes_spec([1, 5, None, 3, 2], parallelism=1))
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    # the loop's length is unknown: it starts first; then 5 s, 3 s, 2 s, 1 s
    assert sim.status["renderOrder"] == [2, 1, 3, 4, 0]
    assert launched(sim) == [2, 1, 3, 4, 0]


async def test_a_restarted_operator_keeps_launching_in_the_same_order(monkeypatch):
    sim = Sim(monkeypatch, scenes_spec([1, 4, 2, 3], parallelism=1))
    await sim.reconcile()
    sim.catch_up()
    sim.restart()  # every in-memory cache gone: the order comes from the plan ConfigMap and the Jobs
    await run(sim)

    assert launched(sim) == [1, 3, 2, 0]
    assert sim.status["renderOrder"] == [1, 3, 2, 0]


async def test_a_plan_jobs_frame_count_replaces_the_unknown_length_of_a_loop(monkeypatch):
    auto = {"mode": "Auto", "minChunkSeconds": 10, "maxChunks": 4}
    sim = Sim(monkeypatch, scenes_spec([5, None], parallelism=2, chunking=auto))
    sim.seconds[1] = 2.0  # its plan Job counts 30 frames at 15 fps: 2 s
    await sim.reconcile()
    assert sim.status["renderOrder"] == [1, 0]  # unknown first: its plan Job starts first
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert sim.status["renderOrder"] == [0, 1]  # 5 s before the planned 2 s
    assert sim.status["scenes"][1]["chunking"]["frames"] == 30


async def test_with_one_slot_a_long_scene_is_rendered_whole_without_a_plan_job(monkeypatch):
    auto = {"mode": "Auto", "minChunkSeconds": 10, "maxChunks": 4}
    sim = Sim(monkeypatch, scenes_spec([1, None], parallelism=1, chunking=auto))
    sim.seconds[1] = 40.0
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert not [n for n in sim.created if n.endswith("-plan")]
    assert "parallelism is 1" in sim.status["scenes"][1]["chunking"]["reason"]


async def test_a_long_scene_with_free_slots_is_chunked_and_the_status_records_the_prediction(monkeypatch):
    auto = {"mode": "Auto", "minChunkSeconds": 10, "maxChunks": 4}
    sim = Sim(monkeypatch, scenes_spec([None], parallelism=4, chunking=auto))
    sim.seconds[0] = 40.0
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    chunking = sim.status["scenes"][0]["chunking"]
    assert chunking["decision"] == "Chunked"
    predicted = chunking["predicted"]
    assert predicted["slots"] == 4 and predicted["chunks"] == len(chunking["chunks"])
    assert predicted["chunkedSeconds"] < predicted["wholeSeconds"]
    assert "the model predicts" in chunking["reason"]


async def test_a_request_queues_for_slots_by_its_longest_scene_still_waiting(monkeypatch):
    sim = Sim(monkeypatch, scenes_spec([1, 5, 3], parallelism=3), settings=Settings(max_running_scene_jobs=1))
    await sim.reconcile()  # plans; the cluster-wide cap lets the 5 s scene start, the others wait

    assert launched(sim) == [1]
    assert sim.loop.queue_order[:2] == (0, -3.0)  # priority 0; 3 s is the longest still waiting
    assert sim.loop.shared.admission.position(sim.loop.key) == 1


async def test_a_plan_pod_is_spared_when_the_codes_durations_show_chunks_cannot_pay(monkeypatch):
    # the chunk benchmark's request: five 4 s scenes and one of 16 s at 720p30 on 2 slots
    auto = {"mode": "Auto", "minChunkSeconds": 8, "maxChunks": 2}
    sim = Sim(monkeypatch, scenes_spec([4, 4, 16, 4, 4, 4], parallelism=2, chunking=auto, quality="medium"))
    await run(sim)

    assert sim.status["phase"] == "Succeeded"
    assert not [n for n in sim.created if n.endswith("-plan")]
    assert launched(sim)[0] == 2  # the long scene starts first
    chunking = sim.status["scenes"][2]["chunking"]
    assert chunking["decision"] == "Whole" and chunking["reason"].startswith("from the code's durations")
    assert chunking["predicted"]["wholeSeconds"] <= chunking["predicted"]["chunkedSeconds"] + 1


async def test_a_long_scene_with_free_slots_still_gets_its_plan(monkeypatch):
    auto = {"mode": "Auto", "minChunkSeconds": 8, "maxChunks": 4}
    sim = Sim(monkeypatch, scenes_spec([60], parallelism=4, chunking=auto, quality="medium"))
    sim.seconds[0] = 60.0
    await run(sim)

    assert [n for n in sim.created if "-s00-" in n] == [
        "newton-s00-a1-plan",
        "newton-s00-a1-chunks",
        "newton-s00-a1-stitch",
    ]
