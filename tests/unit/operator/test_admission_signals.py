"""Pods that cannot start are named with the missing object and the cluster's own message."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from scenefarm_operator.engine.admission_signals import classify, needs_pod_events, start_blockers

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
SA_REFUSAL = (
    'Error creating: pods "newton-s00-a1-x7k2p" is forbidden: error looking up service account '
    'videos/scenefarm-render: serviceaccount "scenefarm-render" not found'
)
PVC_PENDING = (
    '0/3 nodes are available: persistentvolumeclaim "scenefarm-artifacts" not found. '
    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
)
QUOTA = (
    'Error creating: pods "newton-s01-a1-abcde" is forbidden: exceeded quota: compute-small, '
    "requested: limits.memory=2Gi, used: limits.memory=8Gi, limited: limits.memory=8Gi"
)


def ago(seconds: int) -> str:
    return (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(name: str, created: int = 120, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": ago(created)}} | extra


def failed_create(name: str, message: str, at: int = 10) -> dict[str, Any]:
    return {
        "involvedObject": {"kind": "Job", "name": name, "uid": f"uid-{name}"},
        "reason": "FailedCreate",
        "type": "Warning",
        "message": message,
        "lastTimestamp": ago(at),
    }


def pending_pod(message: str, since: int = 90) -> dict[str, Any]:
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastTransitionTime": ago(since),
    }
    return {
        "metadata": {"name": "p", "creationTimestamp": ago(since)},
        "status": {"phase": "Pending", "conditions": [condition]},
    }


def test_a_missing_service_account_is_named_after_the_grace_period() -> None:
    jobs, events = [job("newton-s00-a1")], [failed_create("newton-s00-a1", SA_REFUSAL)]
    [blocker] = start_blockers(jobs, {}, events, NOW, grace_seconds=60)
    assert (blocker.reason, blocker.missing_kind, blocker.missing_name) == (
        "FailedCreate",
        "ServiceAccount",
        "scenefarm-render",
    )
    shown = SA_REFUSAL.replace('"newton-s00-a1-x7k2p"', '"newton-s00-a1-*"')
    assert blocker.condition_message(NOW) == (
        f'Job newton-s00-a1 cannot start its Pod (ServiceAccount "scenefarm-render") for 120s: {shown}'
    )


def test_each_retry_names_a_new_pod_and_the_blocker_stays_the_same() -> None:
    jobs = [job("newton-s00-a1")]
    retried = SA_REFUSAL.replace("x7k2p", "q9zzt")
    first = start_blockers(jobs, {}, [failed_create("newton-s00-a1", SA_REFUSAL)], NOW, grace_seconds=60)
    later = start_blockers(jobs, {}, [failed_create("newton-s00-a1", retried)], NOW, grace_seconds=60)
    assert first[0].message == later[0].message
    assert first[0].message.startswith('Error creating: pods "newton-s00-a1-*" is forbidden: ')


def test_nothing_is_reported_within_the_grace_period() -> None:
    jobs, events = [job("newton-s00-a1", created=30)], [failed_create("newton-s00-a1", SA_REFUSAL)]
    assert start_blockers(jobs, {}, events, NOW, grace_seconds=60) == []


def test_a_pod_the_scheduler_cannot_place_names_the_missing_claim() -> None:
    [blocker] = start_blockers([job("j")], {"j": [pending_pod(PVC_PENDING)]}, [], NOW, grace_seconds=60)
    assert (blocker.reason, blocker.missing_kind, blocker.missing_name) == (
        "Unschedulable",
        "PersistentVolumeClaim",
        "scenefarm-artifacts",
    )
    assert 'PersistentVolumeClaim "scenefarm-artifacts"' in blocker.condition_message(NOW)


def test_an_exceeded_quota_is_named() -> None:
    [blocker] = start_blockers([job("j")], {}, [failed_create("j", QUOTA)], NOW, grace_seconds=60)
    assert (blocker.missing_kind, blocker.missing_name) == ("ResourceQuota", "compute-small")


@pytest.mark.parametrize(
    ("case", "the_job", "pods", "events"),
    [
        ("a running pod", job("j"), {"j": [{"metadata": {"name": "p"}, "status": {"phase": "Running"}}]}, []),
        ("a suspended job (Kueue)", job("j", spec={"suspend": True}), {}, [failed_create("j", SA_REFUSAL)]),
        (
            "a finished job",
            job("j", status={"conditions": [{"type": "Failed", "status": "True"}]}),
            {},
            [failed_create("j", SA_REFUSAL)],
        ),
        ("no event and no pod yet", job("j"), {}, []),
        (
            "an event about another job with the same name",
            job("j"),
            {},
            [
                failed_create("j", SA_REFUSAL)
                | {"involvedObject": {"kind": "Job", "name": "j", "uid": "an-older-job"}}
            ],
        ),
    ],
)
def test_no_blocker(case: str, the_job: dict[str, Any], pods: Any, events: list[Any]) -> None:
    assert start_blockers([the_job], pods, events, NOW, grace_seconds=0) == [], case


def test_a_missing_configmap_stops_the_container_from_being_created() -> None:
    pod = {
        "metadata": {"name": "p", "creationTimestamp": ago(200)},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {
                    "state": {
                        "waiting": {
                            "reason": "CreateContainerConfigError",
                            "message": 'configmap "x-plan" not found',
                        }
                    }
                }
            ],
        },
    }
    [blocker] = start_blockers([job("j")], {"j": [pod]}, [], NOW, grace_seconds=60)
    assert (blocker.missing_kind, blocker.missing_name) == ("ConfigMap", "x-plan")


def test_pod_security_refusals_are_recognised() -> None:
    message = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true'
    assert classify(message) == ("PodSecurity", "restricted:latest")


def scheduled_pod(uid: str, waiting: dict[str, Any] | None = None, since: int = 90) -> dict[str, Any]:
    state = {"waiting": waiting or {"reason": "ContainerCreating"}}
    return {
        "metadata": {"name": "p", "uid": uid, "creationTimestamp": ago(since)},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"image": "ghcr.io/x/renderer:1", "state": state}],
        },
    }


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_is_named(reason: str) -> None:
    message = 'Back-off pulling image "ghcr.io/x/renderer:nope"'
    pods = {"newton-s00-a1": [scheduled_pod("pod-1", {"reason": reason, "message": message})]}
    [blocker] = start_blockers([job("newton-s00-a1")], pods, [], NOW, 60)
    assert blocker.reason == reason
    assert blocker.what == 'Image "ghcr.io/x/renderer:nope"'


def test_a_volume_the_kubelet_cannot_mount_is_named_from_its_failed_mount_event() -> None:
    assert needs_pod_events([scheduled_pod("pod-1")])
    event = {
        "involvedObject": {"kind": "Pod", "name": "p", "uid": "pod-1"},
        "reason": "FailedMount",
        "message": 'MountVolume.SetUp failed for volume "plan" : configmap "newton-plan" not found',
        "lastTimestamp": ago(5),
    }
    pods = {"newton-s00-a1": [scheduled_pod("pod-1")]}
    [blocker] = start_blockers([job("newton-s00-a1")], pods, [event], NOW, 60)
    assert (blocker.reason, blocker.what) == ("FailedMount", 'ConfigMap "newton-plan"')
    assert start_blockers([job("newton-s00-a1")], pods, [event], NOW, 120) == []  # within the grace
