"""The CRD refuses, at apply time, what a real API server would refuse later in a child Job."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from scenefarm_devkit.apiserver import validation
from scenefarm_devkit.data import crd_path

ETCD_REQUEST_LIMIT = 1536 * 1024


def schema() -> dict[str, Any]:
    crd = yaml.safe_load(crd_path().read_text())
    return dict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def request(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"topic": "t"} | spec,
    }


def causes(body: dict[str, Any]) -> list[dict[str, str]]:
    return validation.admit(body, schema(), None)[2]


@pytest.mark.parametrize("name", ["foo", "kubernetes.io/foo", "requests.cpu", "CPU"])
def test_a_resource_name_the_server_refuses_for_containers_is_refused_by_the_crd(name: str) -> None:
    found = causes(request(render={"resources": {"requests": {name: "1"}}}))
    assert [c["field"] for c in found] == ["spec.render.resources.requests"]
    assert "resource names are cpu, memory" in found[0]["message"]


@pytest.mark.parametrize("name", ["cpu", "memory", "ephemeral-storage", "hugepages-2Mi", "nvidia.com/gpu"])
def test_standard_and_extended_resource_names_are_accepted(name: str) -> None:
    assert causes(request(render={"resources": {"limits": {name: "1"}}})) == []


def test_a_quantity_the_server_cannot_parse_is_refused() -> None:
    found = causes(request(render={"resources": {"limits": {"memory": "2 GB"}}}))
    assert [c["field"] for c in found] == ["spec.render.resources.limits.memory"]


def test_the_largest_inline_code_the_crd_allows_fits_etcds_request_limit() -> None:
    props = schema()["properties"]["spec"]["properties"]["scenes"]
    largest = props["maxItems"] * props["items"]["properties"]["code"]["maxLength"]
    assert largest * 1.1 < ETCD_REQUEST_LIMIT  # ASCII code, with room for JSON quoting and the rest


def test_code_over_the_inline_limit_is_refused_and_points_at_code_from() -> None:
    scene = {"name": "a", "className": "A", "code": "#" * (16 * 1024 + 1)}
    found = causes(request(scenes=[scene]))
    assert [c["field"] for c in found] == ["spec.scenes[0].code"]
    code = schema()["properties"]["spec"]["properties"]["scenes"]["items"]["properties"]["code"]
    assert "codeFrom" in code["description"]
