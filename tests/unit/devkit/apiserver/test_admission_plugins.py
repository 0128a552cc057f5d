"""Admission plugins a real cluster runs: ServiceAccount and OwnerReferencesPermissionEnforcement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scenefarm_devkit.apiserver import DevCluster

from .helpers import CM, CRD_PATH, VR, Client, cm, vr

PODS = "/api/v1/namespaces/default/pods"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
OPERATOR = {"kind": "ServiceAccount", "name": "scenefarm-operator", "namespace": "scenefarm-system"}


def pod(name: str, account: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    if account:
        spec["serviceAccountName"] = account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_a_pod_whose_service_account_is_missing_is_refused(client: Client) -> None:
    status, answer = await client.post(PODS, pod("render-0", "scenefarm-render"))
    assert status == 403
    assert answer["reason"] == "Forbidden"
    assert answer["message"] == (
        'pods "render-0" is forbidden: error looking up service account default/scenefarm-render: '
        'serviceaccount "scenefarm-render" not found'
    )
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "scenefarm-render"}}
    assert (await client.post("/api/v1/namespaces/default/serviceaccounts", account))[0] == 201
    assert (await client.post(PODS, pod("render-0", "scenefarm-render")))[0] == 201


async def test_a_pod_without_a_service_account_gets_default(client: Client) -> None:
    status, answer = await client.post(PODS, pod("plain"))
    assert status == 201
    assert answer["spec"]["serviceAccountName"] == "default"


@pytest.fixture
async def enforced(tmp_path: Path) -> AsyncIterator[tuple[DevCluster, Client, Client]]:
    async with (
        DevCluster(
            tmp_path / "state",
            crds=[CRD_PATH],
            enforce_rbac_for={"operator"},
            rbac_subjects={"operator": OPERATOR},
        ) as cluster,
        aiohttp.ClientSession() as session,
    ):
        yield (
            cluster,
            Client(session, cluster.url, cluster.token_for("admin")),
            Client(session, cluster.url, cluster.token_for("operator")),
        )


async def grant(admin: Client, resources: list[str]) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "op"},
        "rules": [
            {"apiGroups": ["", "scenefarm.dev"], "resources": resources, "verbs": ["create", "update"]}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "op"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "op"},
        "subjects": [OPERATOR],
    }
    status, _ = await admin.get(f"{RBAC}/clusterroles/op")
    if status == 200:
        await admin.delete(f"{RBAC}/clusterroles/op")
    assert (await admin.post(f"{RBAC}/clusterroles", role))[0] == 201
    if (await admin.get(f"{RBAC}/clusterrolebindings/op"))[0] != 200:
        assert (await admin.post(f"{RBAC}/clusterrolebindings", binding))[0] == 201


def owned(name: str, owner: dict[str, Any], block: bool) -> dict[str, Any]:
    body = cm(name)
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "scenefarm.dev/v1alpha1",
            "kind": "VideoRequest",
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": block,
        }
    ]
    return body


async def test_block_owner_deletion_needs_update_on_the_owners_finalizers(
    enforced: tuple[DevCluster, Client, Client],
) -> None:
    _, admin, operator = enforced
    _, owner = await admin.post(VR, vr("newton"))
    await grant(admin, ["configmaps"])
    status, answer = await operator.post(CM, owned("newton-plan", owner, block=True))
    assert status == 403, answer
    assert answer["message"] == (
        'configmaps "newton-plan" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers '
        "to a resource you can't set finalizers on: , <nil>"
    )
    # Without blockOwnerDeletion the plugin has nothing to check.
    assert (await operator.post(CM, owned("plain-ref", owner, block=False)))[0] == 201
    await grant(admin, ["configmaps", "videorequests/finalizers"])
    assert (await operator.post(CM, owned("newton-plan", owner, block=True)))[0] == 201


async def test_identities_without_enforced_rbac_are_not_checked(
    enforced: tuple[DevCluster, Client, Client],
) -> None:
    _, admin, _ = enforced
    _, owner = await admin.post(VR, vr("kepler"))
    assert (await admin.post(CM, owned("kepler-plan", owner, block=True)))[0] == 201


async def test_the_kueue_stand_in_creates_queued_jobs_suspended(cluster: DevCluster, client: Client) -> None:
    cluster.server.api.admission.kueue = True
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "queued", "labels": {"kueue.x-k8s.io/queue-name": "render"}},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}
        },
    }
    status, answer = await client.post("/apis/batch/v1/namespaces/default/jobs", job)
    assert status == 201
    assert answer["spec"]["suspend"] is True
    job["metadata"] = {"name": "unqueued"}
    _, answer = await client.post("/apis/batch/v1/namespaces/default/jobs", job)
    assert not answer["spec"].get("suspend")
