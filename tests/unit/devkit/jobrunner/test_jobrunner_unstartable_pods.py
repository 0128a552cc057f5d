"""Pods that cannot start report why, as the scheduler and the Job controller of a real cluster do."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Event, PersistentVolumeClaim, ServiceAccount

from scenefarm_devkit.jobrunner.deletion import delete_job_if_same

from .conftest import Harness, python_job

Obj = dict[str, Any]


async def events_of(harness: Harness, kind: str, name: str) -> list[Obj]:
    fields: dict[str, Any] = {"involvedObject.kind": kind, "involvedObject.name": name}
    return [e.to_dict() async for e in harness.client.list(Event, namespace="default", fields=fields)]


def claim_job(name: str) -> Obj:
    return python_job(
        name,
        "print('ran')",
        container={"volumeMounts": [{"name": "artifacts", "mountPath": "/artifacts"}]},
        pod={"volumes": [{"name": "artifacts", "persistentVolumeClaim": {"claimName": "artifacts"}}]},
    )


async def test_a_pod_whose_claim_is_missing_stays_pending_with_the_schedulers_message(
    harness: Harness,
) -> None:
    await harness.create(claim_job("needs-claim"))

    async def unschedulable() -> Obj | None:
        pods = await harness.pods("needs-claim")
        conditions = (pods[0].get("status") or {}).get("conditions") or [] if pods else []
        return next((c for c in conditions if c.get("reason") == "Unschedulable"), None)

    condition = await harness.wait_for(unschedulable)
    assert condition["type"] == "PodScheduled"
    assert condition["status"] == "False"
    assert condition["message"].startswith(
        '0/1 nodes are available: persistentvolumeclaim "artifacts" not found.'
    )
    pod = (await harness.pods("needs-claim"))[0]
    assert pod["status"]["phase"] == "Pending"
    events = await harness.wait_for(lambda: events_of(harness, "Pod", pod["metadata"]["name"]))
    assert events[0]["reason"] == "FailedScheduling"
    assert events[0]["source"]["component"] == "default-scheduler"

    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "artifacts", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await harness.client.create(PersistentVolumeClaim.from_dict(claim))  # type: ignore[call-overload]
    await harness.wait_job("needs-claim", "Complete")


async def test_a_pod_the_server_refuses_leaves_a_failed_create_event_on_its_job(harness: Harness) -> None:
    await harness.create(python_job("no-account", "print('ran')", pod={"serviceAccountName": "render"}))
    events = await harness.wait_for(lambda: events_of(harness, "Job", "no-account"))
    assert events[0]["reason"] == "FailedCreate"
    assert events[0]["type"] == "Warning"
    assert events[0]["message"].startswith('Error creating: pods "no-account-')
    assert (
        'error looking up service account default/render: serviceaccount "render" not found'
        in events[0]["message"]
    )
    assert await harness.pods("no-account") == []

    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "render", "namespace": "default"},
    }
    await harness.client.create(ServiceAccount.from_dict(account))  # type: ignore[call-overload]
    await harness.wait_job("no-account", "Complete")


async def test_a_refused_pod_is_retried_with_back_off_and_logged_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scenefarm_devkit.jobrunner.runner")
    await harness.create(python_job("backs-off", "print('ran')", pod={"serviceAccountName": "render"}))
    await harness.wait_for(lambda: events_of(harness, "Job", "backs-off"))
    await asyncio.sleep(4.0)  # attempts at 0, 1, 3 s (then 7 s); a fixed 0.5 s retry made 8 or more

    attempts = sum(e.get("count") or 1 for e in await events_of(harness, "Job", "backs-off"))
    assert 2 <= attempts <= 3
    logged = [r for r in caplog.records if "default/backs-off" in r.getMessage()]
    assert len(logged) == 1 and not logged[0].exc_info  # one line, no traceback


async def test_the_ttl_delete_leaves_a_recreated_job_of_the_same_name_alone(harness: Harness) -> None:
    old = await harness.create(python_job("same-name", "print(1)", suspend=True))
    await harness.client.delete(Job, "same-name", namespace="default")
    await harness.wait_for(lambda: _gone(harness, "same-name"))
    new = await harness.create(python_job("same-name", "print(2)", suspend=True))
    with pytest.raises(ApiError) as refused:
        await delete_job_if_same(harness.client, old)
    assert refused.value.status.code == 409
    assert (await harness.job("same-name"))["metadata"]["uid"] == new["metadata"]["uid"]
    await delete_job_if_same(harness.client, new)
    await harness.wait_for(lambda: _gone(harness, "same-name"))


async def _gone(harness: Harness, name: str) -> bool:
    try:
        await harness.job(name)
    except ApiError as error:
        return error.status.code == 404
    return False
