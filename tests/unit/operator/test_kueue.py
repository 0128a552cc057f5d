"""A Job Kueue holds says so, with Kueue's own reason from the Workload."""

from __future__ import annotations

from typing import Any

from scenefarm_operator.engine.kueue import held_reason, held_reasons, queued_message, workload_of

JOB = {"metadata": {"name": "j", "uid": "job-uid", "labels": {"kueue.x-k8s.io/queue-name": "render"}}}
PENDING = "couldn't assign flavors to pod set main: insufficient unused quota for cpu in flavor default, 2 more needed"


def workload(*conditions: dict[str, Any], owner: str = "job-uid") -> dict[str, Any]:
    return {
        "metadata": {"name": "job-j-1a2b3", "ownerReferences": [{"kind": "Job", "name": "j", "uid": owner}]},
        "status": {"conditions": list(conditions)},
    }


def test_a_pending_workload_gives_kueues_reason() -> None:
    pending = workload({"type": "QuotaReserved", "status": "False", "reason": "Pending", "message": PENDING})
    [reason] = held_reasons([JOB], [workload(owner="other"), pending]).values()
    assert queued_message(JOB, reason) == f"held by Kueue queue 'render' until it is admitted: {PENDING}"


def test_without_a_workload_the_message_still_names_the_queue() -> None:
    assert held_reasons([JOB], []) == {"j": ""}
    assert queued_message(JOB) == "held by Kueue queue 'render' until it is admitted"


def test_a_job_without_a_queue_name_is_not_kueues() -> None:
    other = {"metadata": {"name": "k", "uid": "k-uid", "labels": {}}}
    assert held_reasons([other], [workload(owner="k-uid")]) == {}
    assert queued_message(other) == "held by its queue (suspended by another controller) until it is admitted"


def test_an_admitted_workload_has_no_reason() -> None:
    admitted = workload({"type": "Admitted", "status": "True", "message": "The workload is admitted"})
    assert held_reason(admitted) == ""


def test_only_the_jobs_own_workload_counts() -> None:
    assert workload_of(JOB, [workload(owner="other")]) is None
