"""Built-in kinds are decoded, validated and size-checked as the real kube-apiserver does.

Each case here was accepted by the dev cluster before admission.py and is refused by a real
server: the product must never depend on that leniency.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .helpers import CM, VR, Client, cm, vr

JOBS = "/apis/batch/v1/namespaces/default/jobs"
PODS = "/api/v1/namespaces/default/pods"


def job(name: str = "render", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"scenefarm.dev/request": "r"}},
        "spec": {
            "backoffLimit": 1,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "render", "operator": "In", "values": [10, 11]},
                    }
                ]
            },
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "render", "image": "renderer:1", **container}],
                }
            },
        },
    }


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
    }


async def test_a_well_formed_job_is_accepted(client: Client) -> None:
    status, body = await client.post(JOBS, job(resources={"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}))
    assert status == 201, body


async def test_requests_above_limits_are_refused_with_the_servers_message(client: Client) -> None:
    resources = {"requests": {"memory": "4Gi", "cpu": "4"}, "limits": {"memory": "2Gi", "cpu": "2"}}
    status, body = await client.post(JOBS, job(resources=resources))
    assert status == 422, body
    assert body["reason"] == "Invalid"
    assert 'Job.batch "render" is invalid' in body["message"]
    assert (
        'spec.template.spec.containers[0].resources.requests: Invalid value: "4Gi": '
        "must be less than or equal to memory limit of 2Gi"
    ) in body["message"]
    assert "must be less than or equal to cpu limit of 2" in body["message"]


async def test_a_nonstandard_container_resource_name_is_refused(client: Client) -> None:
    status, body = await client.post(JOBS, job(resources={"limits": {"foo": "1"}}))
    assert status == 422
    assert (
        'spec.template.spec.containers[0].resources.limits[foo]: Invalid value: "foo": '
        "must be a standard resource type or fully qualified"
    ) in body["message"]
    status, _ = await client.post(JOBS, job("gpu", resources={"limits": {"nvidia.com/gpu": "1"}}))
    assert status == 201


async def test_a_job_without_containers_is_refused_by_the_openapi_schema(client: Client) -> None:
    body = job()
    body["spec"]["template"]["spec"].pop("containers")
    status, answer = await client.post(JOBS, body)
    assert status == 422
    assert "spec.template.spec.containers: Required value" in answer["message"]


async def test_a_wrongly_typed_field_is_a_decode_error(client: Client) -> None:
    body = job()
    body["spec"]["backoffLimit"] = "two"
    status, answer = await client.post(JOBS, body)
    assert status == 400
    assert 'Job in version "v1" cannot be handled as a Job' in answer["message"]
    assert "spec.backoffLimit" in answer["message"]


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        (
            "restartPolicy other than Never",
            lambda s: s["template"]["spec"].update(restartPolicy="OnFailure"),
            'only "Never" is supported when podFailurePolicy is specified',
        ),
        (
            "exit code 0 with In",
            lambda s: s["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[0, 10]),
            "must not be 0 for the In operator",
        ),
        (
            "unordered exit codes",
            lambda s: s["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[11, 10]),
            "must be ordered",
        ),
        (
            "an unknown container",
            lambda s: s["podFailurePolicy"]["rules"][0]["onExitCodes"].update(containerName="main"),
            "must be one of the container or initContainer names in the pod template",
        ),
        (
            "a rule with both requirements",
            lambda s: s["podFailurePolicy"]["rules"][0].update(
                onPodConditions=[{"type": "DisruptionTarget"}]
            ),
            "specifying one of onExitCodes and onPodConditions is required",
        ),
    ],
)
async def test_pod_failure_policy_constraints(client: Client, case: str, change: Any, message: str) -> None:
    body = job()
    change(body["spec"])
    status, answer = await client.post(JOBS, body)
    assert status == 422, (case, answer)
    assert message in answer["message"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Upper", "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"),
        ("a" * 254, "must be no more than 253 characters"),
        ("under_score", "a lowercase RFC 1123 subdomain"),
    ],
)
async def test_names_follow_rfc_1123(client: Client, name: str, message: str) -> None:
    status, answer = await client.post(CM, cm(name))
    assert status == 422
    assert f'metadata.name: Invalid value: "{name}": {message}' in answer["message"]
    status, answer = await client.post(VR, vr(name))
    assert status == 422, "custom resources follow the same rule"


async def test_a_label_value_over_63_characters_is_refused(client: Client) -> None:
    status, answer = await client.post(CM, cm("long-label", labels={"scenefarm.dev/request": "x" * 64}))
    assert status == 422
    assert "must be no more than 63 characters" in answer["message"]
    body = job()
    body["spec"]["template"]["metadata"] = {"labels": {"job-name": "y" * 64}}
    status, answer = await client.post(JOBS, body)
    assert status == 422
    assert "spec.template.metadata.labels" in answer["message"]


async def test_annotations_over_256_kib_are_refused_on_create_and_on_patch(client: Client) -> None:
    big = {"kopf.zalando.org/last-handled-configuration": "x" * (256 * 1024)}
    status, answer = await client.post(
        VR, vr("big", annotations=None) | {"metadata": {"name": "big", "annotations": big}}
    )
    assert status == 422
    assert "metadata.annotations: Too long: may not be more than 262144 bytes" in answer["message"]
    assert (await client.post(VR, vr("small")))[0] == 201
    status, answer = await client.patch(f"{VR}/small", {"metadata": {"annotations": big}})
    assert status == 422


async def test_an_object_over_etcds_request_limit_is_refused(client: Client) -> None:
    body = job("huge", env=[{"name": f"V{i}", "value": "x" * 100_000} for i in range(17)])
    status, answer = await client.post(JOBS, body)
    assert status == 413, answer
    assert answer["message"] == "etcdserver: request is too large"


async def test_a_configmap_over_1_mib_is_refused(client: Client) -> None:
    body = cm("plan")
    body["data"] = {f"scene-{i:02d}.py": "#" * 65_536 for i in range(17)}
    status, answer = await client.post(CM, body)
    assert status == 422
    assert "Too long: must have at most 1048576 bytes" in answer["message"]


async def test_nulls_are_pruned_not_refused(client: Client) -> None:
    body = vr("with-nulls", description=None)
    body["spec"]["render"] = {"quality": "low", "resources": None}
    status, answer = await client.post(VR, body)
    assert status == 201, answer
    assert "description" not in answer["spec"]
    assert "resources" not in answer["spec"]["render"]
    config = copy.deepcopy(cm("cm-nulls"))
    config["metadata"]["annotations"] = None
    status, answer = await client.post(CM, config)
    assert status == 201, answer
    assert "annotations" not in answer["metadata"]


@pytest.mark.parametrize(
    ("path", "selector", "expected"),
    [
        (PODS, "status.phase=Running", 200),
        (PODS, "spec.nodeName=", 200),
        (PODS, "metadata.name=p", 200),
        (PODS, "spec.containers.image=i", 400),
        (JOBS, "status.successful=1", 200),
        (JOBS, "spec.suspend=true", 400),
        (CM, "data.k=v", 400),
        ("/api/v1/namespaces/default/events", "involvedObject.name=x,reason=FailedCreate", 200),
        (VR, "spec.topic=t", 400),
        (VR, "metadata.name=t", 200),
    ],
)
async def test_field_selectors_are_limited_per_kind(
    client: Client, path: str, selector: str, expected: int
) -> None:
    status, answer = await client.get(path, fieldSelector=selector)
    assert status == expected, answer
    if expected == 400:
        assert answer["message"] == f"field label not supported: {selector.split('=', maxsplit=1)[0]}"
        status, _ = await client.get(path, fieldSelector=selector, watch="true", timeoutSeconds="1")
        assert status == 400
