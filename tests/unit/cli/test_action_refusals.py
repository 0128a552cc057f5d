import pytest

from scenefarm_cli.actions import no_op, refusal


def request(spec=None, status=None):
    return {"metadata": {"name": "newtons-laws"}, "spec": spec or {}, "status": status or {}}


@pytest.mark.parametrize("action", ["resume", "retry", "suspend"])
def test_a_cancelled_request_refuses_everything_but_cancel_with_the_reason(action) -> None:
    cancelled = request({"cancel": True}, {"phase": "Cancelled"})
    reason = refusal(action, cancelled)
    assert reason is not None
    assert "Cancelled is final" in reason and "newtons-laws" in reason
    assert reason.endswith("Render it again under a new name with: scenefarm resubmit newtons-laws")
    kept = refusal(action, cancelled, "scenefarm -n videos")
    assert kept and kept.endswith("with: scenefarm -n videos resubmit newtons-laws")


def test_a_request_being_cancelled_is_final_before_its_phase_says_so() -> None:
    assert refusal("resume", request({"cancel": True, "suspend": True}, {"phase": "Suspended"}))


def test_cancel_on_a_cancelled_request_is_not_an_error_but_says_so() -> None:
    cancelled = request({"cancel": True}, {"phase": "Cancelled"})
    assert refusal("cancel", cancelled) is None
    assert no_op("cancel", cancelled) == "videorequest/newtons-laws is already cancelled"


def test_retrying_a_request_that_fully_succeeded_is_refused() -> None:
    assert "nothing to retry" in str(
        refusal("retry", request(status={"phase": "Succeeded", "scenesFailed": 0}))
    )
    assert refusal("retry", request(status={"phase": "Failed", "scenesFailed": 1})) is None


def test_resume_and_suspend_say_when_there_is_nothing_to_do() -> None:
    assert no_op("resume", request()) == "videorequest/newtons-laws is not suspended: nothing to resume"
    assert no_op("suspend", request({"suspend": True})) == "videorequest/newtons-laws is already suspended"
    assert no_op("suspend", request()) is None


def test_retry_says_when_nothing_failed_instead_of_promising_a_render() -> None:
    running = request(status={"phase": "Rendering", "scenes": [{"phase": "Running"}, {"phase": "Queued"}]})
    assert (
        no_op("retry", running)
        == "videorequest/newtons-laws has no failed scene (phase Rendering): nothing to retry"
    )
    assert "nothing to retry" in str(no_op("retry", request({"suspend": True}, {"phase": "Suspended"})))
    assert no_op("retry", request(status={"phase": "Rendering", "scenes": [{"phase": "Retrying"}]})) is None
    assert no_op("retry", request(status={"phase": "Failed"})) is None
