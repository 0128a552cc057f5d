"""Finalizers, graceful deletion and ownerReference garbage collection."""

from __future__ import annotations

from typing import Any

from .helpers import CM, VR, Client, cm, vr


def owned_by(owner: dict[str, Any]) -> list[dict[str, Any]]:
    meta = owner["metadata"]
    return [
        {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"]}
    ]


async def test_delete_with_finalizers_marks_the_object_until_the_last_finalizer_goes(client: Client) -> None:
    body = vr("v")
    body["metadata"]["finalizers"] = ["scenefarm.dev/a", "scenefarm.dev/b"]
    await client.post(VR, body)
    status, marked = await client.delete(f"{VR}/v")
    assert status == 200
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 0
    _, still = await client.get(f"{VR}/v")
    assert still["metadata"]["deletionTimestamp"]
    _, after_one = await client.patch(f"{VR}/v", {"metadata": {"finalizers": ["scenefarm.dev/b"]}})
    assert after_one["metadata"]["generation"] == marked["metadata"]["generation"]
    await client.patch(f"{VR}/v", {"metadata": {"finalizers": None}})
    status, gone = await client.get(f"{VR}/v")
    assert (status, gone["reason"]) == (404, "NotFound")


async def test_deleting_an_owner_collects_its_dependents_recursively(client: Client) -> None:
    _, owner = await client.post(VR, vr("v"))
    _, child = await client.post(CM, cm("child", ownerReferences=owned_by(owner)))
    await client.post(CM, cm("grandchild", ownerReferences=owned_by(child)))
    await client.post(CM, cm("unrelated"))
    await client.delete(f"{VR}/v")
    _, listing = await client.get(CM)
    assert [i["metadata"]["name"] for i in listing["items"]] == ["unrelated"]


async def test_orphan_propagation_keeps_dependents_and_strips_the_owner_reference(client: Client) -> None:
    _, owner = await client.post(VR, vr("v"))
    await client.post(CM, cm("child", ownerReferences=owned_by(owner)))
    await client.delete(f"{VR}/v", {"propagationPolicy": "Orphan"})
    status, child = await client.get(f"{CM}/child")
    assert status == 200 and "ownerReferences" not in child["metadata"]


async def test_foreground_propagation_deletes_dependents_before_the_owner(client: Client) -> None:
    _, owner = await client.post(VR, vr("v"))
    body = cm("child", ownerReferences=owned_by(owner))
    body["metadata"]["finalizers"] = ["test/hold"]
    await client.post(CM, body)
    status, marked = await client.delete(f"{VR}/v", propagationPolicy="Foreground")
    assert status == 200 and "foregroundDeletion" in marked["metadata"]["finalizers"]
    status, _ = await client.get(f"{VR}/v")
    assert status == 200  # blocked by the dependent that is still terminating
    await client.patch(f"{CM}/child", {"metadata": {"finalizers": None}})
    assert (await client.get(f"{CM}/child"))[0] == 404
    assert (await client.get(f"{VR}/v"))[0] == 404


async def test_dependents_whose_owner_never_existed_are_collected(client: Client) -> None:
    ghost = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "no-such-uid"}]
    await client.post(CM, cm("orphan", ownerReferences=ghost))
    await client.post(CM, cm("trigger"))
    await client.delete(f"{CM}/trigger")
    assert (await client.get(f"{CM}/orphan"))[0] == 404


async def test_deleting_a_crd_removes_its_objects_and_stops_serving_it(client: Client) -> None:
    await client.post(VR, vr("v"))
    status, _ = await client.delete(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/videorequests.scenefarm.dev"
    )
    assert status == 200
    assert (await client.get(VR))[0] == 404
    assert (await client.get("/apis/scenefarm.dev/v1alpha1"))[0] == 404
