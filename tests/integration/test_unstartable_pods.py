"""A render Pod that a real cluster would refuse or never schedule is named, not just "Pending".

The dev cluster now behaves as a real one here: a Pod naming a missing ServiceAccount is refused
(the Job gets FailedCreate Events), a Pod whose PVC is missing stays Pending/Unschedulable. The
operator-side facts (`admission_signals.start_blockers`) are computed from exactly what a client
observes: the Jobs, their Pods and the Events.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from lightkube import Client
from lightkube.resources.core_v1 import Event, Pod

from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.engine.admission_signals import Blocker, start_blockers

from .conftest import create, jobs_of, status_of, video_request, wait_for

pytestmark = pytest.mark.integration


def observed_blockers(client: Client, name: str) -> list[Blocker]:
    jobs = [j.to_dict() for j in jobs_of(client, name)]
    pods: dict[str, list[dict[str, Any]]] = {}
    for pod in client.list(Pod, namespace="default", labels={"scenefarm.dev/request": name}):
        pods.setdefault(pod.metadata.labels["job-name"], []).append(pod.to_dict())
    fields: dict[str, Any] = {
        "involvedObject.kind": "Job",
        "reason": "FailedCreate",
    }  # as kube.failed_creates
    events = [e.to_dict() for e in client.list(Event, namespace="default", fields=fields)]
    now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
    return start_blockers(jobs, pods, events, now, grace_seconds=60)


def warning_on(env: DevEnv, name: str) -> dict[str, Any] | None:
    """The operator's Event about Pods that cannot start, on the VideoRequest (kubectl describe)."""
    fields: dict[str, Any] = {"involvedObject.name": name, "reason": "PodNotStarting"}
    events = [e.to_dict() for e in env.client().list(Event, namespace="default", fields=fields)]
    return events[0] if events else None


def run_with(tmp_path: Path, setting: str, value: str, name: str) -> tuple[DevEnv, list[Blocker]]:
    operator_env = {setting: value, "SCENEFARM_POD_START_GRACE_SECONDS": "1"}
    env = DevEnv(tmp_path, instant=True, rbac_from_chart=True, operator_env=operator_env)
    env.start()
    try:
        env.start_operator()
        client = env.client()
        create(client, video_request(name, [("only", "self.wait(0.2)")]))
        blockers = wait_for(lambda: observed_blockers(client, name), 90, f"{name}'s scene Job to be blocked")
        assert status_of(client, name).get("phase") not in ("Succeeded", "Failed")
    except BaseException:
        env.stop()
        raise
    return env, blockers


def test_a_missing_render_service_account_is_named(tmp_path: Path) -> None:
    env, [blocker] = run_with(tmp_path, "SCENEFARM_RENDER_SERVICE_ACCOUNT", "no-such-account", "no-account")
    try:
        assert (blocker.reason, blocker.missing_kind, blocker.missing_name) == (
            "FailedCreate",
            "ServiceAccount",
            "no-such-account",
        )
        assert 'serviceaccount "no-such-account" not found' in blocker.message
        assert blocker.job == "no-account-s00-a1"
        warning = wait_for(lambda: warning_on(env, "no-account"), 60, "a PodNotStarting Event on the request")
        assert 'ServiceAccount "no-such-account"' in warning["message"]
        assert 'serviceaccount "no-such-account" not found' in warning["message"]
        ready = next(c for c in status_of(env.client(), "no-account")["conditions"] if c["type"] == "Ready")
        assert 'ServiceAccount "no-such-account"' in ready["message"]
        denied = [r for r in env.cluster.request_log if r.identity == "operator" and r.status == 403]
        assert denied == [], "the chart's RBAC covers listing the FailedCreate Events"
    finally:
        env.stop()


def test_a_missing_artifact_claim_is_named(tmp_path: Path) -> None:
    env, [blocker] = run_with(tmp_path, "SCENEFARM_ARTIFACT_CLAIM", "no-such-claim", "no-claim")
    try:
        assert (blocker.reason, blocker.missing_kind, blocker.missing_name) == (
            "Unschedulable",
            "PersistentVolumeClaim",
            "no-such-claim",
        )
        assert blocker.message.startswith(
            '0/1 nodes are available: persistentvolumeclaim "no-such-claim" not found'
        )

        def stalled() -> dict[str, Any] | None:
            conditions = status_of(env.client(), "no-claim").get("conditions") or []
            found = next((c for c in conditions if c["type"] == "Stalled" and c["status"] == "True"), None)
            return found

        condition = wait_for(stalled, 60, "Stalled=True on the request")
        assert condition["reason"] == "PodNotStarting"
        assert 'PersistentVolumeClaim "no-such-claim"' in condition["message"]
        assert status_of(env.client(), "no-claim")["phase"] == "Rendering"
    finally:
        env.stop()
