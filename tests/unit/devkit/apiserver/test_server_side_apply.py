"""Server-side apply and managedFields: what kubectl --server-side, helm 4, Flux and Argo CD rely on."""

from __future__ import annotations

import json
from typing import Any

from .helpers import CM, Client

APPLY = "application/apply-patch+yaml"


async def apply(client: Client, body: dict[str, Any], manager: str, **params: str) -> tuple[int, Any]:
    return await client.request(
        "PATCH", f"{CM}/{body['metadata']['name']}", body, content_type=APPLY, fieldManager=manager, **params
    )


def config(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": data}


def managers(obj: dict[str, Any]) -> dict[str, Any]:
    return {e["manager"]: (e["operation"], e["fieldsV1"]) for e in obj["metadata"]["managedFields"]}


async def test_apply_creates_then_owns_exactly_the_applied_fields(client: Client) -> None:
    status, created = await apply(client, config(a="1", b="2"), "flux")
    assert status == 201
    assert managers(created) == {"flux": ("Apply", {"f:data": {"f:a": {}, "f:b": {}}})}
    status, updated = await apply(client, config(a="1"), "flux")  # b left out: removed
    assert status == 200 and updated["data"] == {"a": "1"}


async def test_a_field_owned_by_another_manager_conflicts_unless_forced(client: Client) -> None:
    await apply(client, config(a="1"), "flux")
    status, _ = await client.patch(f"{CM}/app", {"data": {"a": "edited"}}, fieldManager="kubectl-edit")
    assert status == 200
    status, body = await apply(client, config(a="2"), "flux")
    assert status == 409
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.a'
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using v1',
            "field": ".data.a",
        }
    ]
    status, forced = await apply(client, config(a="2"), "flux", force="true")
    assert status == 200 and forced["data"] == {"a": "2"}
    assert set(managers(forced)) == {"flux"}  # the edit's ownership moved to flux


async def test_fields_another_manager_also_owns_survive_when_left_out(client: Client) -> None:
    await apply(client, config(a="1", b="2"), "helm")
    await apply(client, config(b="2"), "argocd")  # same value: shared ownership, no conflict
    status, body = await apply(client, config(a="1"), "helm")
    assert status == 200 and body["data"] == {"a": "1", "b": "2"}


async def test_dry_run_all_answers_without_storing(client: Client) -> None:
    status, body = await apply(client, config(a="1"), "helm", dryRun="All")
    assert status == 201 and body["data"] == {"a": "1"}
    status, _ = await client.get(f"{CM}/app")
    assert status == 404
    status, body = await client.post(CM, config(a="1"), dryRun="All")
    assert status == 201
    assert (await client.get(f"{CM}/app"))[0] == 404


async def test_apply_without_a_field_manager_is_a_bad_request(client: Client) -> None:
    status, body = await client.request("PATCH", f"{CM}/app", config(a="1"), content_type=APPLY)
    # ValidatePatchOptions: 422 "fieldManager: Required value: is required for apply patch"
    assert status == 422 and "fieldManager: Required value: is required for apply patch" in json.dumps(body)
