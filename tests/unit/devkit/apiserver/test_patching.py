"""PATCH flavours: JSON merge, JSON patch (RFC 6902) and strategic merge for built-in kinds."""

from __future__ import annotations

from scenefarm_devkit.apiserver.patching import merge_patch, strategic_merge

from .helpers import CM, VR, Client, cm, vr

JOBS = "/apis/batch/v1/namespaces/default/jobs"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def test_merge_patch_merges_objects_replaces_lists_and_deletes_nulls() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "gone": 1}
    assert merge_patch(target, {"a": {"c": None, "d": 3}, "l": [3], "gone": None}) == {
        "a": {"b": 1, "d": 3},
        "l": [3],
    }


def test_strategic_merge_merges_containers_and_env_by_name_and_honours_delete() -> None:
    target = {
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "a",
                    "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                },
                {"name": "side", "image": "s"},
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "main", "env": [{"name": "X", "value": "9"}, {"name": "Y", "$patch": "delete"}]},
                {"name": "side", "$patch": "delete"},
                {"name": "new", "image": "n"},
            ]
        }
    }
    assert strategic_merge(target, patch) == {
        "spec": {
            "containers": [
                {"name": "main", "image": "a", "env": [{"name": "X", "value": "9"}]},
                {"name": "new", "image": "n"},
            ]
        }
    }


def test_strategic_merge_replaces_lists_without_a_merge_key() -> None:
    assert strategic_merge({"args": ["a", "b"]}, {"args": ["c"]}) == {"args": ["c"]}


async def test_json_patch_with_a_failing_test_op_is_422_and_changes_nothing(client: Client) -> None:
    await client.post(CM, cm("a"))
    ops = [
        {"op": "test", "path": "/data/k", "value": "other"},
        {"op": "replace", "path": "/data/k", "value": "x"},
    ]
    status, error = await client.patch(f"{CM}/a", ops, kind="json")
    assert (status, error["reason"]) == (422, "Invalid")
    assert (await client.get(f"{CM}/a"))[1]["data"] == {"k": "v"}


async def test_json_patch_applies_operations_in_order(client: Client) -> None:
    await client.post(CM, cm("a"))
    ops = [
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "add", "path": "/data/n", "value": "1"},
        {"op": "remove", "path": "/data/k"},
    ]
    status, patched = await client.patch(f"{CM}/a", ops, kind="json")
    assert status == 200 and patched["data"] == {"n": "1"}


async def test_strategic_merge_patch_works_on_built_in_kinds(client: Client) -> None:
    # A Deployment: its Pod template may change (a Job's template is immutable, see test_job_rules).
    deployment = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {
                    "containers": [{"name": "render", "image": "r", "env": [{"name": "A", "value": "1"}]}]
                },
            },
        },
    }
    assert (await client.post(DEPLOYMENTS, deployment))[0] == 201
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "render", "env": [{"name": "B", "value": "2"}]}]}}
        }
    }
    status, patched = await client.patch(f"{DEPLOYMENTS}/d", patch, kind="strategic-merge")
    assert status == 200
    assert patched["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]


async def test_strategic_merge_patch_on_a_custom_resource_is_415(client: Client) -> None:
    await client.post(VR, vr("v"))
    status, error = await client.patch(f"{VR}/v", {"spec": {"description": "x"}}, kind="strategic-merge")
    assert (status, error["reason"]) == (415, "UnsupportedMediaType")
