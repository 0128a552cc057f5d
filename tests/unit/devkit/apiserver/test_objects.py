"""Object identity, resourceVersions, lists, concurrency, generation and the status subresource."""

from __future__ import annotations

import re

from .helpers import CM, VR, Client, cm, vr


async def test_created_objects_get_uid_timestamp_generation_and_a_numeric_resource_version(
    client: Client,
) -> None:
    status, obj = await client.post(CM, cm("a"))
    assert status == 201
    meta = obj["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert meta["resourceVersion"].isdigit()


async def test_resource_versions_increase_globally_across_kinds(client: Client) -> None:
    _, first = await client.post(CM, cm("a"))
    _, second = await client.post(VR, vr("v"))
    _, third = await client.patch(f"{CM}/a", {"data": {"k": "w"}})
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, second, third)]
    assert versions == sorted(versions) and len(set(versions)) == 3


async def test_lists_carry_their_kind_api_version_and_current_resource_version(client: Client) -> None:
    _, created = await client.post(VR, vr("v"))
    status, listing = await client.get(VR)
    assert status == 200
    assert listing["kind"] == "VideoRequestList"
    assert listing["apiVersion"] == "scenefarm.dev/v1alpha1"
    assert int(listing["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    assert [i["metadata"]["name"] for i in listing["items"]] == ["v"]


async def test_lists_are_paginated_with_limit_and_continue(client: Client) -> None:
    for name in "abcde":
        await client.post(CM, cm(name))
    _, page1 = await client.get(CM, limit="2")
    _, page2 = await client.get(CM, limit="2", **{"continue": page1["metadata"]["continue"]})
    _, page3 = await client.get(CM, limit="2", **{"continue": page2["metadata"]["continue"]})
    names = [i["metadata"]["name"] for p in (page1, page2, page3) for i in p["items"]]
    assert names == list("abcde")
    assert page1["metadata"]["remainingItemCount"] == 3
    assert "continue" not in page3["metadata"]


async def test_generate_name_appends_five_lowercase_alphanumerics(client: Client) -> None:
    body = cm("")
    body["metadata"] = {"generateName": "scene-"}
    status, obj = await client.post(CM, body)
    assert status == 201
    assert re.fullmatch(r"scene-[a-z0-9]{5}", obj["metadata"]["name"])


async def test_creating_an_existing_name_is_409_already_exists(client: Client) -> None:
    await client.post(CM, cm("a"))
    status, body = await client.post(CM, cm("a"))
    assert (status, body["reason"], body["kind"]) == (409, "AlreadyExists", "Status")
    assert body["message"] == 'configmaps "a" already exists'


async def test_creating_in_a_missing_namespace_is_404_not_found(client: Client) -> None:
    status, body = await client.post("/api/v1/namespaces/nowhere/configmaps", cm("a"))
    assert (status, body["reason"]) == (404, "NotFound")
    assert body["message"] == 'namespaces "nowhere" not found'


async def test_the_default_namespace_exists_and_namespaces_are_listable(client: Client) -> None:
    status, listing = await client.get("/api/v1/namespaces")
    assert status == 200 and listing["kind"] == "NamespaceList"
    assert "default" in [n["metadata"]["name"] for n in listing["items"]]
    status, ns = await client.get("/api/v1/namespaces/default")
    assert status == 200 and ns["kind"] == "Namespace"


async def test_put_with_a_stale_resource_version_is_409_conflict(client: Client) -> None:
    _, obj = await client.post(CM, cm("a"))
    await client.patch(f"{CM}/a", {"data": {"k": "newer"}})
    obj["data"] = {"k": "stale"}
    status, body = await client.put(f"{CM}/a", obj)
    assert (status, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]


async def test_put_with_the_current_resource_version_replaces_the_object(client: Client) -> None:
    _, obj = await client.post(CM, cm("a"))
    obj["data"] = {"other": "x"}
    status, replaced = await client.put(f"{CM}/a", obj)
    assert status == 200
    assert replaced["data"] == {"other": "x"}
    assert int(replaced["metadata"]["resourceVersion"]) > int(obj["metadata"]["resourceVersion"])


async def test_put_of_a_custom_resource_without_resource_version_is_invalid(client: Client) -> None:
    await client.post(VR, vr("v"))
    status, body = await client.put(f"{VR}/v", vr("v", topic="other"))
    assert (status, body["reason"]) == (422, "Invalid")


async def test_patch_carrying_a_stale_resource_version_is_409_conflict(client: Client) -> None:
    _, obj = await client.post(CM, cm("a"))
    await client.patch(f"{CM}/a", {"data": {"k": "newer"}})
    stale = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "data": {"k": "x"}}
    status, body = await client.patch(f"{CM}/a", stale)
    assert (status, body["reason"]) == (409, "Conflict")


async def test_generation_grows_on_spec_changes_only(client: Client) -> None:
    await client.post(VR, vr("v"))
    _, after_label = await client.patch(f"{VR}/v", {"metadata": {"labels": {"a": "b"}}})
    assert after_label["metadata"]["generation"] == 1
    _, after_spec = await client.patch(f"{VR}/v", {"spec": {"description": "more"}})
    assert after_spec["metadata"]["generation"] == 2
    _, after_status = await client.patch(f"{VR}/v/status", {"status": {"phase": "Planning"}})
    assert after_status["metadata"]["generation"] == 2


async def test_main_resource_writes_ignore_status_and_status_writes_ignore_spec(client: Client) -> None:
    body = vr("v")
    body["status"] = {"phase": "Succeeded"}
    _, created = await client.post(VR, body)
    assert "status" not in created
    _, patched = await client.patch(f"{VR}/v", {"spec": {"description": "d"}, "status": {"phase": "Failed"}})
    assert "status" not in patched and patched["spec"]["description"] == "d"
    _, via_status = await client.patch(
        f"{VR}/v/status", {"spec": {"description": "ignored"}, "status": {"phase": "Rendering"}}
    )
    assert via_status["status"] == {"phase": "Rendering"}
    assert via_status["spec"]["description"] == "d"


async def test_a_no_op_patch_keeps_the_resource_version(client: Client) -> None:
    _, obj = await client.post(CM, cm("a"))
    _, same = await client.patch(f"{CM}/a", {"data": {"k": "v"}})
    assert same["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
