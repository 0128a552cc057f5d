import datetime

import pytest

from scenefarm_contract import clock
from scenefarm_operator.engine import lifecycle

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
    ("spec", "status", "pending"),
    [
        ({}, {}, None),
        ({"retryGeneration": 1}, {}, 1),
        ({"retryGeneration": 1}, {"retryGeneration": 1}, None),  # served: nothing pending
        ({"retryGeneration": 3}, {"retryGeneration": 1}, 3),  # several raises: the newest is served
        ({"retryGeneration": 1}, {"retryGeneration": 2}, None),  # never goes back
    ],
)
def test_a_retry_is_pending_while_spec_retry_generation_is_above_the_one_served(
    spec, status, pending
) -> None:
    assert lifecycle.pending_retry(spec, status) == pending


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime.datetime(2026, 11, 25, 12, 0, 7, 999999, tzinfo=datetime.UTC), "2026-11-25T12:00:07Z"),
        (
            datetime.datetime(2026, 11, 25, 13, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
            "2026-11-25T12:00:00Z",
        ),
    ],
)
def test_timestamps_are_written_in_utc_to_the_second(moment, text) -> None:
    assert clock.iso(moment) == text
    assert clock.parse_time(text) == moment.replace(microsecond=0)


def scene(index: int, phase: str, attempt: int = 1, revision: int = 1, **more: str) -> dict:
    return {"index": index, "phase": phase, "attempt": attempt, "revision": revision, **more}


# sha256("0:1:1;2:1:1"): scene 0 and 2, revision 1, attempt 1. A fixed value on purpose: the digest
# names the combine Job, so an operator of another version must find the Job this one made.
DIGEST_0_2 = "0320a303a7258a0d65f6f252285374817322bac0fe0239cab6ee36e5bff6218c"


def test_combine_inputs_are_the_succeeded_scenes_in_order_named_by_a_digest() -> None:
    scenes = [scene(0, "Succeeded"), scene(1, "Failed"), scene(2, "Succeeded")]
    assert lifecycle.combine_inputs(scenes) == ([0, 2], DIGEST_0_2)


def test_only_the_inputs_name_the_combine() -> None:
    """No retry generation, message or time enters the name: a restarted operator finds the
    combine Job its predecessor made for the same scenes."""
    scenes = [
        scene(0, "Succeeded", job="newton-s00-a1", finishedAt="2026-11-25T12:00:00Z"),
        scene(1, "Failed", attempt=3, message="NameError"),
        scene(2, "Succeeded", artifact="videos/x/scene-02.mp4"),
    ]
    assert lifecycle.combine_inputs(scenes) == ([0, 2], DIGEST_0_2)
    without_revision = [{"index": 0, "phase": "Succeeded", "attempt": 1}, scene(2, "Succeeded")]
    assert lifecycle.combine_inputs(without_revision)[1] == DIGEST_0_2  # revision 1 by default


@pytest.mark.parametrize(
    "changed",
    [
        [scene(0, "Succeeded", attempt=2), scene(1, "Succeeded")],  # a retried scene
        [scene(0, "Succeeded", revision=2), scene(1, "Succeeded")],  # an edited scene
        [scene(0, "Succeeded"), scene(1, "Failed")],  # one scene fewer (SkipFailed)
    ],
)
def test_new_combine_inputs_give_a_new_digest(changed) -> None:
    before = lifecycle.combine_inputs([scene(0, "Succeeded"), scene(1, "Succeeded")])[1]
    assert lifecycle.combine_inputs(changed)[1] != before
