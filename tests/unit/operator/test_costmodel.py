"""The chunking cost model: predicted time-to-video on the request's slots, and the chunk count it picks."""

from __future__ import annotations

import pytest

from scenefarm_contract.chunks import Unit, encode_units
from scenefarm_operator.engine import chunking
from scenefarm_operator.engine.chunking import ChunkingPolicy, layout
from scenefarm_operator.engine.scheduling import estimates
from scenefarm_operator.engine.scheduling.costmodel import (
    Costs,
    Job,
    Load,
    finish_time,
    predict,
    split,
)

COSTS = Costs()
AUTO = ChunkingPolicy(mode="Auto", min_chunk_seconds=4, max_chunks=16)


def segments(seconds: int, fps: int = 30) -> list[Unit]:
    frames = seconds * fps
    return [Unit(min(60, frames - start)) for start in range(0, frames, 60)]


def layouts(units: list[Unit], most: int) -> dict[int, list[int]]:
    found = (layout(units, k, COSTS.replay_fraction * chunking.MOVING_COST) for k in range(2, most + 1))
    return {len(edges) - 1: edges for edges in found}


def test_list_scheduling_puts_the_longest_job_first_and_waits_for_prerequisites() -> None:
    # 2 slots: 10 and 4 start at once; 3 follows the 4 (ends 7), 5 after the stitch-like job
    jobs = [Job(4.0), Job(10.0), Job(3.0), Job(5.0, after=(0, 2))]
    assert finish_time(2, (), jobs) == 12.0
    assert finish_time(1, (), [Job(4.0), Job(6.0)]) == 10.0
    assert finish_time(2, (8.0, 1.0), [Job(2.0)]) == 8.0  # the busy slot ends last


def test_each_chunk_counts_its_frames_and_replays_the_moving_frames_before_it() -> None:
    units = [Unit(60), Unit(60, static=True), Unit(60)]
    assert split(units, [0, 90, 180]) == [(60, 30, 0), (60, 30, 60)]


@pytest.mark.parametrize("seconds", [16, 60, 240])
def test_with_one_slot_a_scene_is_never_chunked(seconds: int) -> None:
    units = segments(seconds)

    p = predict(units, layouts(units, 16), "medium", Load(slots=1), COSTS)

    assert not p.chunked and p.chunked_seconds > p.whole_seconds


def test_with_many_free_slots_one_long_scene_is_chunked() -> None:
    units = segments(60)

    p = predict(units, layouts(units, 16), "medium", Load(slots=16), COSTS)

    assert p.chunked and p.chunks > 2
    assert p.chunked_seconds < p.whole_seconds / 2


def test_the_chosen_chunk_count_minimises_the_predicted_time() -> None:
    units = segments(60)
    options = layouts(units, 16)

    chosen = predict(units, options, "medium", Load(slots=8), COSTS)

    each = {
        k: predict(units, {k: edges}, "medium", Load(slots=8), COSTS).chunked_seconds
        for k, edges in options.items()
    }
    assert chosen.chunked_seconds == min(each.values())
    assert each[chosen.chunks] == min(each.values())
    assert chosen.chunks <= 8  # chunks beyond the free slots would wait for a slot


def test_slots_busy_with_other_scenes_make_chunking_pay_less() -> None:
    units = segments(16)
    free = predict(units, layouts(units, 4), "medium", Load(slots=2), COSTS)
    # five 4-second scenes wait for the same two slots: the long scene whole hides behind them
    crowded = predict(units, layouts(units, 4), "medium", Load(slots=2, waiting=(13.3,) * 5), COSTS)

    assert free.chunked
    assert crowded.whole_seconds - crowded.chunked_seconds < free.whole_seconds - free.chunked_seconds


def test_the_decision_records_the_prediction_and_keeps_the_policy_bounds() -> None:
    plan = encode_units(segments(60))

    decision = chunking.decide(AUTO, 1800, 30, plan, load=Load(slots=8))
    whole = chunking.decide(AUTO, 1800, 30, plan, load=Load(slots=1))
    capped = chunking.decide(ChunkingPolicy("Auto", 4, 2), 1800, 30, plan, load=Load(slots=8))

    assert decision.chunked and decision.predicted is not None
    status = decision.to_status()["predicted"]
    assert status["chunks"] == len(decision.chunks) and status["slots"] == 8
    assert status["chunkedSeconds"] < status["wholeSeconds"]
    assert not whole.chunked and "on 1 slot" in whole.reason and whole.to_status()["predicted"]["slots"] == 1
    assert len(capped.chunks) == 2  # maxChunks bounds the model


def test_a_request_with_one_slot_gets_no_plan_job() -> None:
    long = "class A(Scene):\n    def construct(self):\n        self.play(X(), run_time=60)\n"
    spec = {"render": {"parallelism": 1, "chunking": {"mode": "Auto"}}}

    assert not chunking.needs_plan(spec, long)
    assert chunking.needs_plan({"render": {"parallelism": 2, "chunking": {"mode": "Auto"}}}, long)


def test_the_costs_are_overridable_and_a_bad_override_is_refused() -> None:
    costs = Costs.parse("pod=1.5, replay=0.02,medium=0.05")

    assert (costs.pod_seconds, costs.replay_fraction, costs.per_frame("medium")) == (1.5, 0.02, 0.05)
    assert costs.per_frame("low") == Costs().per_frame("low")
    assert Costs.parse("") == Costs()
    for bad in ("pod", "pod=x", "warp=3", "pod=-1"):
        with pytest.raises(ValueError):
            Costs.parse(bad)


def test_a_cheaper_replay_and_pod_make_more_chunks_pay() -> None:
    units = segments(60)
    cheap = Costs.parse("pod=0.5,replay=0.02")

    measured = predict(units, layouts(units, 16), "medium", Load(slots=16), COSTS)
    faster = predict(units, layouts(units, 16), "medium", Load(slots=16), cheap)

    assert faster.chunks >= measured.chunks and faster.chunked_seconds < measured.chunked_seconds


def test_on_paper_the_bench_request_gains_from_chunks_only_with_free_nodes() -> None:
    # five 4 s scenes and one of 16 s at 720p30, plays of 2 s (bench/chunk_bench.py)
    scenes = [[Unit(60)] * (8 if i == 2 else 2) for i in range(6)]

    table = {k: estimates.on_paper(COSTS, "medium", scenes, k, 16) for k in (1, 2, 4, 8, 16)}

    assert table[1][0] == table[1][1] and table[1][2] == 1  # one node: no plan, all whole
    assert table[2][2] == 1  # two nodes: the long scene hides behind the short ones
    assert table[16][2] > 1 and table[16][1] < table[16][0]
    offs = [off for off, _, _ in table.values()]
    assert offs == sorted(offs, reverse=True)


def test_a_pod_runs_faster_than_one_core_only_when_fewer_pods_than_cores_share_them() -> None:
    two = Costs.parse("cores=2")

    assert COSTS.speed(1, 1) == 1.0  # cores unknown: a core per slot
    assert two.speed(1, 6) == pytest.approx(1.4)  # one slot: each Pod has the machine to itself
    assert two.speed(2, 1) == pytest.approx(1.4)  # two slots, one Pod to run
    assert two.speed(2, 6) == 1.0  # two Pods at a time on two cores
    assert Costs.parse("cores=16").speed(4, 9) == pytest.approx(1.4)  # capped by what one Pod uses
    assert Costs.parse("cores=2,pod_cores=1").speed(1, 1) == 1.0


def test_on_shared_cores_a_lone_long_scene_gains_less_from_chunks() -> None:
    # the bench's 16 s scene alone on 2 slots: whole it gets ~1.4 cores, two chunks one core each
    units = segments(16)
    unknown = predict(units, layouts(units, 2), "medium", Load(slots=2), COSTS)
    two_cores = predict(units, layouts(units, 2), "medium", Load(slots=2), Costs.parse("cores=2"))

    assert two_cores.whole_seconds == pytest.approx(unknown.whole_seconds / 1.4)
    assert two_cores.chunked_seconds == pytest.approx(unknown.chunked_seconds)  # both chunks share 2 cores
    assert (
        two_cores.chunked_seconds - two_cores.whole_seconds > unknown.chunked_seconds - unknown.whole_seconds
    )


def test_on_paper_one_slot_on_two_cores_is_the_one_core_time_over_a_pods_speed() -> None:
    scenes = [[Unit(60)] * (8 if i == 2 else 2) for i in range(6)]

    one_core = estimates.on_paper(COSTS, "medium", scenes, 1, 16)
    two_cores = estimates.on_paper(Costs.parse("cores=2"), "medium", scenes, 1, 16)
    shared = estimates.on_paper(Costs.parse("cores=2"), "medium", scenes, 2, 16)

    assert two_cores[0] == pytest.approx(one_core[0] / 1.4) and two_cores[2] == 1
    assert shared[0] == estimates.on_paper(COSTS, "medium", scenes, 2, 16)[0]  # 2 Pods, 2 cores
