from decimal import Decimal

import pytest

from scenefarm_contract.renderer import ExitClass
from scenefarm_operator.engine.triage import (
    Fail,
    FailedAttempt,
    Fix,
    RetryAsIs,
    RetryWithMoreMemory,
    TriageLimits,
    backoff,
    format_quantity,
    triage,
)

GEMINI = {"planner_mode": "Gemini"}

TABLE = [
    # (case, attempt, expected decision type, expected detail)
    (
        "rejected code in Gemini mode is fixed",
        FailedAttempt(ExitClass.CODE_REJECTED, **GEMINI),
        Fix,
        "fix attempt 1 of 2",
    ),
    (
        "raising code in Gemini mode is fixed",
        FailedAttempt(ExitClass.CODE_RAISED, fix_attempts_used=1, **GEMINI),
        Fix,
        "fix attempt 2 of 2",
    ),
    (
        "fixes run out",
        FailedAttempt(ExitClass.CODE_RAISED, fix_attempts_used=2, error_tail="ZeroDivisionError", **GEMINI),
        Fail,
        "after 2 of 2 fix attempts: ZeroDivisionError",
    ),
    (
        "zero fix attempts allowed",
        FailedAttempt(ExitClass.CODE_RAISED, fix_attempts_allowed=0, **GEMINI),
        Fail,
        "after 0 of 0 fix attempts",
    ),
    (
        "template code is never sent to fix",
        FailedAttempt(ExitClass.CODE_RAISED, planner_mode="Template"),
        Fail,
        "planner mode Template does not rewrite code",
    ),
    (
        "explicit code is never sent to fix",
        FailedAttempt(ExitClass.CODE_REJECTED, planner_mode="Explicit"),
        Fail,
        "planner mode Explicit does not rewrite code",
    ),
    (
        "environment errors are never sent to the LLM",
        FailedAttempt(ExitClass.ENVIRONMENT, error_tail="latex not found", **GEMINI),
        Fail,
        "exit 20",
    ),
    (
        "first transient failure retries after the base delay",
        FailedAttempt(ExitClass.TRANSIENT),
        RetryAsIs,
        10.0,
    ),
    ("backoff doubles", FailedAttempt(ExitClass.TRANSIENT, transient_retries_used=2), RetryAsIs, 40.0),
    ("evicted pods retry as transient", FailedAttempt(None, pod_reason="Evicted"), RetryAsIs, 10.0),
    (
        "transient retries are bounded",
        FailedAttempt(ExitClass.TRANSIENT, transient_retries_used=3),
        Fail,
        "failed transiently 4 times",
    ),
    (
        "OOMKilled doubles memory",
        FailedAttempt(None, pod_reason="OOMKilled", memory_limit="1Gi"),
        RetryWithMoreMemory,
        "2Gi",
    ),
    (
        "exit 137 counts as OOM",
        FailedAttempt(ExitClass.OOM_KILLED, memory_limit="768Mi"),
        RetryWithMoreMemory,
        "1536Mi",
    ),
    (
        "OOM even with an exit class",
        FailedAttempt(ExitClass.CODE_RAISED, pod_reason="OOMKilled", memory_limit="512M", **GEMINI),
        RetryWithMoreMemory,
        "1000000Ki",
    ),
    (
        "doubling stops at the cap",
        FailedAttempt(None, pod_reason="OOMKilled", memory_limit="5Gi"),
        RetryWithMoreMemory,
        "8Gi",
    ),
    (
        "OOM at the cap fails",
        FailedAttempt(None, pod_reason="OOMKilled", memory_limit="8Gi"),
        Fail,
        "the operator's cap (8Gi)",
    ),
    (
        "OOM without a limit fails",
        FailedAttempt(None, pod_reason="OOMKilled"),
        Fail,
        "set spec.render.resources.limits.memory",
    ),
    (
        "deadline exceeded fails",
        FailedAttempt(None, pod_reason="DeadlineExceeded"),
        Fail,
        "activeDeadlineSeconds",
    ),
    (
        "unknown exits fail",
        FailedAttempt(None, pod_reason="Error", error_tail="Segmentation fault"),
        Fail,
        "an unknown exit (Error): Segmentation fault",
    ),
]


def detail(decision):
    return {
        Fix: lambda d: d.reason,
        RetryAsIs: lambda d: d.delay_seconds,
        RetryWithMoreMemory: lambda d: d.new_limit,
        Fail: lambda d: d.message,
    }[type(decision)](decision)


@pytest.mark.parametrize(
    ("attempt", "kind", "expected"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_triage_decides_by_the_table(attempt, kind, expected):
    decision = triage(attempt)
    assert type(decision) is kind
    if isinstance(expected, str):
        assert expected in detail(decision)
    else:
        assert detail(decision) == expected


def test_backoff_is_capped():
    decision = triage(
        FailedAttempt(ExitClass.TRANSIENT, transient_retries_used=9), TriageLimits(max_transient_retries=20)
    )
    assert decision == RetryAsIs(300.0, reason="transient failure, retry 10 of 20")


def test_transient_retries_back_off_from_the_configured_base():
    limits = TriageLimits(base_delay_seconds=5.0, max_delay_seconds=30.0)
    assert [backoff(n, limits) for n in range(5)] == [5.0, 10.0, 20.0, 30.0, 30.0]


def test_long_error_tails_are_cut_from_the_start_in_fail_messages():
    decision = triage(FailedAttempt(ExitClass.ENVIRONMENT, error_tail="x" * 5000 + "THE END"))
    assert isinstance(decision, Fail)
    assert decision.message.endswith("THE END")
    assert len(decision.message) < 500


def test_a_successful_attempt_is_not_triaged():
    with pytest.raises(ValueError, match="did not fail"):
        triage(FailedAttempt(ExitClass.OK))


@pytest.mark.parametrize(
    ("value", "text"), [(2 * 1024**3, "2Gi"), (1536 * 1024**2, "1536Mi"), (1000, "1000"), (3072, "3Ki")]
)
def test_quantities_use_the_largest_exact_binary_unit(value, text):
    assert format_quantity(Decimal(value)) == text
