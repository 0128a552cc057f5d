from typing import Any

import pytest

from scenefarm_operator.engine import conditions

OLD, NOW = "2025-06-01T10:00:00Z", "2025-06-01T11:00:00Z"


def cond(type_: str, status: str, when: str | None = OLD, reason: str = "R") -> dict[str, Any]:
    c = {"type": type_, "status": status, "reason": reason, "message": "m", "observedGeneration": 1}
    if when is not None:
        c["lastTransitionTime"] = when
    return c


FOR_PHASE = [
    # (phase, Ready, Reconciling, Stalled)
    ("Pending", "False", "True", "False"),
    ("Planning", "False", "True", "False"),
    ("Rendering", "False", "True", "False"),
    ("Combining", "False", "True", "False"),
    ("Succeeded", "True", "False", "False"),
    ("Failed", "False", "False", "True"),
    ("Suspended", "False", "False", "False"),
]


@pytest.mark.parametrize(
    ("phase", "ready", "reconciling", "stalled"), FOR_PHASE, ids=[f[0] for f in FOR_PHASE]
)
def test_each_phase_maps_to_the_kstatus_triple(
    phase: str, ready: str, reconciling: str, stalled: str
) -> None:
    triple = conditions.for_phase(phase, "Why", "what happened", 7)
    assert [(c["type"], c["status"]) for c in triple] == [
        ("Ready", ready),
        ("Reconciling", reconciling),
        ("Stalled", stalled),
    ]
    assert all(c["reason"] == "Why" for c in triple)
    assert all(c["observedGeneration"] == 7 for c in triple)


MESSAGES = [
    # (phase, Reconciling's message, Stalled's message)
    ("Planning", "working on it", "not stalled"),
    ("Rendering", "working on it", "not stalled"),
    ("Succeeded", "finished", "not stalled"),
    (
        "Failed",
        "finished",
        "failed: see the Ready condition; edit the spec or retry (scenefarm retry) to continue",
    ),
    ("Suspended", "finished", "not stalled"),
    ("Cancelled", "finished", "not stalled"),
]


@pytest.mark.parametrize(("phase", "reconciling", "stalled"), MESSAGES, ids=[m[0] for m in MESSAGES])
def test_the_message_is_said_once_on_ready_and_the_others_say_what_they_mean(
    phase: str, reconciling: str, stalled: str
) -> None:
    ready, reconciling_cond, stalled_cond = conditions.for_phase(phase, "Why", "scene 'intro' failed", 1)
    assert ready["message"] == "scene 'intro' failed"
    assert (reconciling_cond["message"], stalled_cond["message"]) == (reconciling, stalled)


def test_cancelled_is_neither_ready_nor_in_progress_nor_stalled() -> None:
    triple = conditions.for_phase("Cancelled", "Cancelled", "cancelled", 1)
    assert [c["status"] for c in triple] == ["False", "False", "False"]


MERGE = [
    # (case, previous, desired, expected lastTransitionTime of the desired condition)
    ("a new condition starts now", [], cond("Ready", "False", None), NOW),
    (
        "an unchanged status keeps its time",
        [cond("Ready", "False")],
        cond("Ready", "False", None, "Other"),
        OLD,
    ),
    ("a changed status moves its time", [cond("Ready", "False")], cond("Ready", "True", None), NOW),
    (
        "a previous condition without a time gets now",
        [cond("Ready", "True", None)],
        cond("Ready", "True", None),
        NOW,
    ),
]


@pytest.mark.parametrize(("case", "previous", "desired", "when"), MERGE, ids=[m[0] for m in MERGE])
def test_merge_transition_times(
    case: str, previous: list[dict[str, Any]], desired: dict[str, Any], when: str
) -> None:
    (merged,) = conditions.merge(previous, [desired], NOW)
    assert merged["lastTransitionTime"] == when
    assert {k: v for k, v in merged.items() if k != "lastTransitionTime"} == {
        k: v for k, v in desired.items() if k != "lastTransitionTime"
    }, "reason, message and generation always come from the desired condition"


def test_merge_keeps_condition_types_it_is_not_told_about_with_their_times() -> None:
    synced = cond("AppwriteSynced", "False", "2025-05-01T00:00:00Z", "Unreachable")
    merged = conditions.merge([synced, cond("Ready", "False")], [cond("Ready", "True", None)], NOW)
    assert merged == [synced, cond("Ready", "True", NOW)]


def test_merge_orders_conditions_by_type() -> None:
    desired = conditions.for_phase("Rendering", "Rendering", "m", 1)
    merged = conditions.merge([cond("AppwriteSynced", "True")], desired, NOW)
    assert [c["type"] for c in merged] == ["AppwriteSynced", "Ready", "Reconciling", "Stalled"]


def test_merging_the_same_conditions_again_changes_nothing() -> None:
    first = conditions.merge([], conditions.for_phase("Rendering", "Rendering", "m", 1), OLD)
    again = conditions.merge(first, conditions.for_phase("Rendering", "Rendering", "m", 1), NOW)
    assert again == first


def test_merge_does_not_modify_its_inputs() -> None:
    previous = [cond("Ready", "False")]
    desired = [cond("Ready", "True", None)]
    conditions.merge(previous, desired, NOW)
    assert previous == [cond("Ready", "False")]
    assert desired == [cond("Ready", "True", None)]
