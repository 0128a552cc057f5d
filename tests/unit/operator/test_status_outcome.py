"""`status.outcome`: what one Job and its Pods say, over every Job/Pod state combination."""

from typing import Any

import pytest

from scenefarm_contract.renderer import ExitClass, TerminationMessage
from scenefarm_operator.engine.observed import JobOutcome, attempt_of, outcome

START = "2025-06-01T10:00:00Z"
END = "2025-06-01T10:05:00Z"

OK_MESSAGE = TerminationMessage(
    exitClass=0,
    artifact="videos/newton-6f1c2d3e/scene-01.mp4",
    durationSeconds=4.0,
    frames=60,
    sizeBytes=123456,
    sha256="ab" * 32,
    renderSeconds=9.5,
).to_json()


def failure_message(exit_class: int, tail: str) -> str:
    return TerminationMessage(exitClass=exit_class, errorTail=tail, renderSeconds=1.0).to_json()


def job(
    *conditions: tuple[str, str],
    active: int = 0,
    suspend: bool = False,
    attempt: str = "1",
    completion: str | None = None,
) -> dict[str, Any]:
    """A scene Job; `conditions` are (type, reason) pairs with status True."""
    status: dict[str, Any] = {"startTime": START}
    if active:
        status["active"] = active
    if completion:
        status["completionTime"] = completion
    if conditions:
        status["conditions"] = [
            {
                "type": t,
                "status": "True",
                "reason": r,
                "message": f"{t} because {r}",
                "lastTransitionTime": END,
            }
            for t, r in conditions
        ]
    return {
        "metadata": {"name": "newton-s01-a1", "labels": {"scenefarm.dev/attempt": attempt}},
        "spec": {"suspend": suspend},
        "status": status,
    }


def pod(phase: str, **terminated: Any) -> dict[str, Any]:
    """A Pod of the Job; `terminated` (exitCode, reason, message, finishedAt) when its container ended."""
    state: dict[str, Any]
    if terminated:
        state = {"terminated": {"finishedAt": END, **terminated}}
    elif phase == "Running":
        state = {"running": {"startedAt": START}}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    return {"status": {"phase": phase, "containerStatuses": [{"name": "render", "state": state}]}}


def failed_pod(
    exit_code: int, message: str = "", reason: str = "Error", finished: str = END
) -> dict[str, Any]:
    return pod("Failed", exitCode=exit_code, reason=reason, message=message, finishedAt=finished)


def tail(error: str) -> str:
    return f"Traceback (most recent call last):\n  File 'scene.py', line 3\n{error}\n"


TABLE = [
    # (case, job, pods, phase, exit class, message contains, oom)
    ("no pods yet", job(), [], "Pending", None, "", False),
    ("pod pending, not yet counted active", job(), [pod("Pending")], "Pending", None, "", False),
    ("pod running", job(active=1), [pod("Running")], "Running", None, "", False),
    ("running pod seen before the job status", job(), [pod("Running")], "Running", None, "", False),
    (
        "succeeded with a valid termination message",
        job(("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached"), completion=END),
        [pod("Succeeded", exitCode=0, reason="Completed", message=OK_MESSAGE)],
        "Succeeded",
        0,
        "",
        False,
    ),
    (
        "succeeded after a transient failure",
        job(("Complete", "CompletionsReached"), completion=END),
        [
            failed_pod(30, failure_message(30, tail("ConnectionError")), finished="2025-06-01T10:01:00Z"),
            pod("Succeeded", exitCode=0, reason="Completed", message=OK_MESSAGE),
        ],
        "Succeeded",
        0,
        "",
        False,
    ),
    (
        "code rejected (10) fails the job by pod failure policy",
        job(("FailureTarget", "PodFailurePolicy"), ("Failed", "PodFailurePolicy")),
        [failed_pod(10, failure_message(10, tail("PolicyError: import of 'os' is not allowed")))],
        "Failed",
        10,
        "PolicyError: import of 'os' is not allowed",
        False,
    ),
    (
        "code raised (11) fails the job by pod failure policy",
        job(("Failed", "PodFailurePolicy")),
        [failed_pod(11, failure_message(11, tail("ZeroDivisionError: division by zero")))],
        "Failed",
        11,
        "ZeroDivisionError: division by zero",
        False,
    ),
    (
        "environment (20) fails the job by pod failure policy",
        job(("Failed", "PodFailurePolicy")),
        [failed_pod(20, failure_message(20, tail("RuntimeError: latex not found")))],
        "Failed",
        20,
        "RuntimeError: latex not found",
        False,
    ),
    (
        "transient (30) until the backoff limit, the latest pod speaks",
        job(("Failed", "BackoffLimitExceeded")),
        [
            failed_pod(30, failure_message(30, tail("TimeoutError: third")), finished="2025-06-01T10:04:00Z"),
            failed_pod(30, failure_message(30, tail("TimeoutError: first")), finished="2025-06-01T10:02:00Z"),
            failed_pod(
                30, failure_message(30, tail("TimeoutError: second")), finished="2025-06-01T10:03:00Z"
            ),
        ],
        "Failed",
        30,
        "TimeoutError: third",
        False,
    ),
    (
        "killed by the OOM killer",
        job(("Failed", "BackoffLimitExceeded")),
        [failed_pod(137, "", reason="OOMKilled")],
        "Failed",
        ExitClass.OOM_KILLED,
        "out-of-memory",
        True,
    ),
    (
        "OOM wins over a stale message in the pod",
        job(("Failed", "BackoffLimitExceeded")),
        [failed_pod(137, failure_message(30, tail("half written")), reason="OOMKilled")],
        "Failed",
        ExitClass.OOM_KILLED,
        "out-of-memory",
        True,
    ),
    (
        "garbage termination message falls back to the exit code and the job's reason",
        job(("Failed", "BackoffLimitExceeded")),
        [failed_pod(1, "Segmentation fault (core dumped)")],
        "Failed",
        1,
        "Failed because BackoffLimitExceeded",
        False,
    ),
    (
        "truncated termination message is not trusted",
        job(("Failed", "BackoffLimitExceeded")),
        [failed_pod(30, failure_message(30, "TimeoutError")[:20])],
        "Failed",
        30,
        "Failed because BackoffLimitExceeded",
        False,
    ),
    (
        "deadline exceeded before any pod ended",
        job(("Failed", "DeadlineExceeded")),
        [],
        "Failed",
        None,
        "Failed because DeadlineExceeded",
        False,
    ),
    (
        "deadline exceeded after the renderer stopped itself",
        job(("Failed", "DeadlineExceeded")),
        [failed_pod(30, failure_message(30, tail("DeadlineReached: stopped after 885 s")))],
        "Failed",
        30,
        "DeadlineReached: stopped after 885 s",
        False,
    ),
    ("suspended with nothing running", job(suspend=True), [], "Suspended", None, "", False),
    (
        "suspended while its pod still runs",
        job(suspend=True, active=1),
        [pod("Running")],
        "Running",
        None,
        "",
        False,
    ),
    (
        "a condition that is not True counts for nothing",
        {**job(), "status": {"startTime": START, "conditions": [{"type": "Failed", "status": "False"}]}},
        [],
        "Pending",
        None,
        "",
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "job_", "pods", "phase", "exit_class", "message", "oom"), TABLE, ids=[t[0] for t in TABLE]
)
def test_outcome(
    case: str,
    job_: dict[str, Any],
    pods: list[dict[str, Any]],
    phase: str,
    exit_class: int | None,
    message: str,
    oom: bool,
) -> None:
    out = outcome(job_, pods)
    assert out.phase == phase
    assert out.exit_class == exit_class
    assert message in out.message
    if not message:
        assert out.message == ""
    assert out.oom_killed is oom
    assert out.started_at == START


def test_a_pending_pod_counted_active_by_the_job_controller_is_still_pending() -> None:
    assert outcome(job(active=1), [pod("Pending")]).phase == "Pending"


def test_a_pod_that_succeeded_before_the_job_is_complete_keeps_the_scene_running() -> None:
    # the Job controller sets Complete at its next sync: the scene must not go back to Pending
    ended = pod("Succeeded", exitCode=0, reason="Completed", message=OK_MESSAGE)
    assert outcome(job(), [ended]).phase == "Running"
    assert outcome(job(active=1), [ended, pod("Pending")]).phase == "Running"  # an Indexed Job's next index


def test_a_succeeded_job_carries_the_renderers_result_and_times() -> None:
    out = outcome(
        job(("Complete", "CompletionsReached"), completion=END),
        [pod("Succeeded", exitCode=0, reason="Completed", message=OK_MESSAGE)],
    )
    assert out.result == TerminationMessage.from_json(OK_MESSAGE)
    assert out.result is not None and out.result.artifact == "videos/newton-6f1c2d3e/scene-01.mp4"
    assert (out.started_at, out.finished_at) == (START, END)


def test_a_succeeded_job_with_a_garbage_message_has_no_result() -> None:
    out = outcome(
        job(("Complete", "CompletionsReached")), [pod("Succeeded", exitCode=0, message="{not json")]
    )
    assert out.phase == "Succeeded"
    assert out.result is None


def test_a_failed_job_finishes_when_its_failed_condition_was_set() -> None:
    out = outcome(job(("Failed", "PodFailurePolicy")), [failed_pod(11, failure_message(11, tail("E")))])
    assert out.finished_at == END
    assert out.result is not None and out.result.exitClass == 11


def test_the_failure_message_is_the_last_line_of_the_error_tail_cut_to_500_chars() -> None:
    long_line = "ValueError: " + "x" * 2000
    out = outcome(job(("Failed", "PodFailurePolicy")), [failed_pod(11, failure_message(11, tail(long_line)))])
    assert out.message == long_line[:500]


def test_a_rejected_attempt_gives_every_field_of_its_outcome() -> None:
    message = failure_message(10, tail("PolicyError: import of 'os' is not allowed"))
    out = outcome(job(("Failed", "PodFailurePolicy")), [failed_pod(10, message)])
    assert out == JobOutcome(
        phase="Failed",
        exit_class=ExitClass.CODE_REJECTED,
        message="PolicyError: import of 'os' is not allowed",
        result=TerminationMessage(
            exitClass=10, errorTail=tail("PolicyError: import of 'os' is not allowed"), renderSeconds=1.0
        ),
        started_at=START,
        finished_at=END,
        oom_killed=False,
    )


ATTEMPTS = [
    # (case, labels, attempt)
    ("labelled", {"scenefarm.dev/attempt": "7"}, 7),
    ("no label means the first attempt", {}, 1),
    ("a garbled label means the first attempt", {"scenefarm.dev/attempt": "seven"}, 1),
]


@pytest.mark.parametrize(("case", "labels", "attempt"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
def test_attempt_of(case: str, labels: dict[str, str], attempt: int) -> None:
    assert attempt_of({"metadata": {"labels": labels}}) == attempt
