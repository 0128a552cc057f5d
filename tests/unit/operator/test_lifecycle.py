import datetime

import pytest

from scenefarm_operator import lifecycle

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("spec", "started", "left"),
    [
        ({}, "2026-11-25T11:59:00Z", None),
        ({"activeDeadlineSeconds": 120}, None, None),
        ({"activeDeadlineSeconds": 120}, "2026-11-25T11:59:00Z", 60.0),
        ({"activeDeadlineSeconds": 60}, "2026-11-25T11:58:00Z", -60.0),
        ({"activeDeadlineSeconds": 60}, "not a time", None),
    ],
)
def test_seconds_left_before_the_request_deadline(spec, started, left) -> None:
    assert lifecycle.seconds_left(spec, started, NOW) == left


@pytest.mark.parametrize(
    ("spec", "finished", "left"),
    [
        ({}, "2026-11-25T11:59:00Z", None),
        ({"ttlSecondsAfterFinished": 0}, "2026-11-25T11:59:00Z", -60.0),
        ({"ttlSecondsAfterFinished": 300}, "2026-11-25T11:59:00Z", 240.0),
        ({"ttlSecondsAfterFinished": 300}, None, None),
    ],
)
def test_seconds_until_a_finished_request_is_deleted(spec, finished, left) -> None:
    assert lifecycle.seconds_until_deletion(spec, finished, NOW) == left


@pytest.mark.parametrize(
    ("phase", "observed", "generation", "settled"),
    [
        ("Succeeded", 2, 2, True),
        ("Failed", 2, 2, True),
        ("Cancelled", 1, 1, True),
        ("Succeeded", 1, 2, False),  # the spec changed after it finished: work to do
        ("Rendering", 2, 2, False),
        (None, None, 1, False),
    ],
)
def test_a_request_is_settled_only_when_finished_with_nothing_new_in_spec(
    phase, observed, generation, settled
):
    status = {"phase": phase, "observedGeneration": observed}
    assert lifecycle.is_settled({"generation": generation}, status) is settled


@pytest.mark.parametrize(
    ("spec", "status", "wanted"),
    [
        ({}, {}, False),
        ({"retryGeneration": 1}, {}, True),
        ({"retryGeneration": 1}, {"retryGeneration": 1}, False),
    ],
)
def test_a_retry_is_requested_by_raising_retry_generation(spec, status, wanted) -> None:
    assert lifecycle.retry_requested(spec, status) is wanted


def scene(index: int, phase: str, attempt: int = 1, revision: int = 1) -> dict:
    return {"index": index, "phase": phase, "attempt": attempt, "revision": revision}


def test_combine_inputs_are_the_succeeded_scenes_in_order_named_by_a_digest() -> None:
    scenes = [scene(0, "Succeeded"), scene(1, "Failed"), scene(2, "Succeeded")]
    indexes, digest = lifecycle.combine_inputs(scenes, 0)
    assert indexes == [0, 2]
    assert digest == lifecycle.combine_inputs(list(scenes), 0)[1]  # deterministic


@pytest.mark.parametrize(
    "changed",
    [
        [scene(0, "Succeeded", attempt=2), scene(1, "Succeeded")],  # a retried scene
        [scene(0, "Succeeded", revision=2), scene(1, "Succeeded")],  # an edited scene
    ],
)
def test_new_combine_inputs_give_a_new_digest(changed) -> None:
    before = lifecycle.combine_inputs([scene(0, "Succeeded"), scene(1, "Succeeded")], 0)[1]
    assert lifecycle.combine_inputs(changed, 0)[1] != before


def test_a_retry_generation_gives_a_new_combine_even_with_the_same_scenes() -> None:
    scenes = [scene(0, "Succeeded")]
    assert lifecycle.combine_inputs(scenes, 0)[1] != lifecycle.combine_inputs(scenes, 1)[1]
