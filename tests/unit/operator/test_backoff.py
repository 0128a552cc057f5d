"""The one backoff policy type and the schedules the operator uses."""

import pytest

from scenefarm_contract.backoff import API_ERRORS, PLANNER_OUTAGES, Backoff


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (Backoff(base=10.0), [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]),
        (Backoff(base=1.0, factor=3.0, cap=20.0), [1.0, 3.0, 9.0, 20.0, 20.0, 20.0, 20.0]),
        (PLANNER_OUTAGES, [15.0, 30.0, 60.0, 120.0, 240.0, 240.0, 240.0]),
        (API_ERRORS, [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]),
    ],
    ids=["default factor and cap", "own factor and cap", "planner outages", "API errors"],
)
def test_delays_grow_by_the_factor_up_to_the_cap(policy: Backoff, delays: list[float]) -> None:
    assert [policy.delay(n) for n in range(7)] == delays


def test_a_negative_count_waits_the_base_delay() -> None:
    assert Backoff(base=5.0).delay(-3) == 5.0


def test_the_planner_is_given_up_after_five_retries() -> None:
    assert [PLANNER_OUTAGES.exhausted(n) for n in range(7)] == [False] * 5 + [True, True]


def test_api_errors_are_retried_for_as_long_as_it_takes() -> None:
    assert not API_ERRORS.exhausted(10**6)
