"""CRD registration and discovery, schema validation, pruning, defaulting and CEL rules."""

from __future__ import annotations

import copy

from .helpers import VR, Client, vr

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {
        "group": "example.dev",
        "scope": "Cluster",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def test_a_created_crd_is_established_and_its_resource_discoverable(client: Client) -> None:
    status, crd = await client.post(CRDS, WIDGET_CRD)
    assert status == 201
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"Established": "True", "NamesAccepted": "True"}
    _, groups = await client.get("/apis")
    assert "example.dev" in [g["name"] for g in groups["groups"]]
    _, resources = await client.get("/apis/example.dev/v1")
    (widget,) = resources["resources"]
    assert widget == {
        "name": "widgets",
        "singularName": "widget",
        "namespaced": False,
        "kind": "Widget",
        "verbs": widget["verbs"],
        "shortNames": ["wd"],
        "categories": ["all"],
    }
    status, created = await client.post("/apis/example.dev/v1/widgets", {"metadata": {"name": "w"}, "x": 1})
    assert status == 201 and created["x"] == 1 and "namespace" not in created["metadata"]


async def test_status_subresource_is_discoverable_for_crds_that_declare_it(client: Client) -> None:
    _, resources = await client.get("/apis/scenefarm.dev/v1alpha1")
    assert {r["name"] for r in resources["resources"]} == {"videorequests", "videorequests/status"}


async def test_v1_namespaces_is_discoverable_for_cluster_wide_operators(client: Client) -> None:
    _, resources = await client.get("/api/v1")
    names = {r["name"]: r for r in resources["resources"]}
    assert names["namespaces"]["namespaced"] is False and "watch" in names["namespaces"]["verbs"]


async def test_invalid_custom_resources_are_rejected_with_api_server_messages(client: Client) -> None:
    body = vr(
        "bad", topic="x" * 201, render={"quality": "ultra", "parallelism": 0}, scenes=[{"name": "Bad_Name"}]
    )
    status, error = await client.post(VR, body)
    assert (status, error["reason"], error["code"]) == (422, "Invalid", 422)
    assert error["details"]["kind"] == "VideoRequest" and error["details"]["name"] == "bad"
    messages = {c["field"]: c["message"] for c in error["details"]["causes"]}
    assert messages["spec.topic"] == "Too long: may not be longer than 200"
    assert (
        messages["spec.render.quality"]
        == 'Unsupported value: "ultra": supported values: "low", "medium", "high", "fourk"'
    )
    assert (
        messages["spec.render.parallelism"]
        == "Invalid value: 0: spec.render.parallelism in body should be greater than or equal to 1"
    )
    assert messages["spec.scenes[0].name"].startswith(
        'Invalid value: "Bad_Name": spec.scenes[0].name in body should match'
    )
    assert error["message"].startswith('VideoRequest.scenefarm.dev "bad" is invalid: [')


async def test_missing_required_fields_are_reported_as_required_values(client: Client) -> None:
    body = vr("bad")
    del body["spec"]["topic"]
    status, error = await client.post(VR, body)
    assert status == 422
    assert error["message"] == 'VideoRequest.scenefarm.dev "bad" is invalid: spec.topic: Required value'


async def test_too_many_items_are_rejected(client: Client) -> None:
    status, error = await client.post(VR, vr("v", scenes=[{"name": f"s{i}"} for i in range(7)]))
    assert status == 422
    assert error["details"]["causes"][0]["message"] == "Too many: 7: must have at most 6 items"


async def test_defaults_are_applied_and_unknown_fields_pruned(client: Client) -> None:
    body = vr("v", unknown="dropped")
    status, created = await client.post(VR, body)
    assert status == 201
    assert created["spec"] == {"topic": "Newton's laws", "render": {"quality": "low"}}


async def test_strict_field_validation_rejects_unknown_fields_and_warn_mode_warns(client: Client) -> None:
    status, error = await client.post(VR, vr("v", unknown=1), fieldValidation="Strict")
    assert (status, error["message"]) == (400, 'strict decoding error: unknown field "spec.unknown"')
    async with client.session.post(
        client.base + VR, json=vr("v", unknown=1), headers=client.headers, params={"fieldValidation": "Warn"}
    ) as response:
        assert response.status == 201
        assert (
            'unknown field \\"spec.unknown\\"' in response.headers["Warning"]
            or 'unknown field "spec.unknown"' in response.headers["Warning"]
        )


async def test_cel_rules_reject_duplicate_scene_names_with_the_rule_message(client: Client) -> None:
    status, error = await client.post(VR, vr("v", scenes=[{"name": "a"}, {"name": "a"}]))
    assert status == 422
    assert error["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec",
            "message": 'Invalid value: "object": scene names must be unique',
        }
    ]


async def test_transition_rules_compare_with_the_old_object_on_update(client: Client) -> None:
    await client.post(VR, vr("v"))
    status, error = await client.patch(f"{VR}/v", {"spec": {"topic": "changed"}})
    assert status == 422 and "topic is immutable" in error["message"]
    status, _ = await client.patch(f"{VR}/v", {"spec": {"description": "fine"}})
    assert status == 200


async def test_patches_are_validated_after_being_applied(client: Client) -> None:
    await client.post(VR, vr("v"))
    status, error = await client.patch(
        f"{VR}/v", [{"op": "replace", "path": "/spec/render/quality", "value": "ultra"}], kind="json"
    )
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.render.quality"


async def test_updating_a_crd_changes_what_is_validated(client: Client) -> None:
    _, crd = await client.get(f"{CRDS}/videorequests.scenefarm.dev")
    updated = copy.deepcopy(crd)
    updated["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["topic"][
        "maxLength"
    ] = 5
    status, _ = await client.put(f"{CRDS}/videorequests.scenefarm.dev", updated)
    assert status == 200
    status, _ = await client.post(VR, vr("v", topic="longer than five"))
    assert status == 422
