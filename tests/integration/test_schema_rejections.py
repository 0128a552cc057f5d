"""Bad VideoRequests are refused by the API server (the CRD's schema and CEL rules) with 422."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lightkube.core.exceptions import ApiError

from .conftest import create, example

pytestmark = pytest.mark.integration


def scene(name: str = "a", **fields: Any) -> dict[str, Any]:
    return {"name": name, "className": "A", "code": "from manim import *"} | fields


def edit(**spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(example("explicit-scenes.yaml"))
    body["metadata"]["name"] = "invalid"
    body["spec"] = {k: v for k, v in ({**body["spec"], **spec}).items() if v is not None}
    return body


CASES = [
    ("missing topic", edit(topic=None), "spec.topic"),
    ("empty topic", edit(topic=""), "spec.topic"),
    ("topic too long", edit(topic="x" * 201), "spec.topic"),
    ("description too long", edit(description="x" * 4001), "spec.description"),
    ("unknown quality", edit(render={"quality": "ultra"}), "spec.render.quality"),
    ("parallelism zero", edit(render={"parallelism": 0}), "spec.render.parallelism"),
    ("parallelism too high", edit(render={"parallelism": 51}), "spec.render.parallelism"),
    ("backoffLimit too high", edit(render={"backoffLimit": 11}), "spec.render.backoffLimit"),
    ("deadline too short", edit(render={"activeDeadlineSeconds": 5}), "spec.render.activeDeadlineSeconds"),
    ("scene name not a DNS label", edit(scenes=[scene("Bad_Name")]), "spec.scenes[0].name"),
    ("class name not an identifier", edit(scenes=[scene(className="1st")]), "spec.scenes[0].className"),
    ("duplicate scene names", edit(scenes=[scene("a"), scene("a")]), "spec.scenes"),
    (
        "code and codeFrom",
        edit(scenes=[scene(codeFrom={"configMapKeyRef": {"name": "c", "key": "k"}})]),
        "spec.scenes[0]",
    ),
    ("neither code nor codeFrom", edit(scenes=[{"name": "a", "className": "A"}]), "spec.scenes[0]"),
    ("too many scenes", edit(scenes=[scene(f"s{i}") for i in range(51)]), "spec.scenes"),
    ("code over 64 KiB", edit(scenes=[scene(code="#" * 65537)]), "spec.scenes[0].code"),
    ("wrong type", edit(render={"parallelism": "four"}), "spec.render.parallelism"),
    ("unknown planner mode", edit(planner={"mode": "Magic"}), "spec.planner.mode"),
    ("Explicit mode without scenes", edit(scenes=None, planner={"mode": "Explicit"}), "spec"),
]


@pytest.mark.parametrize(("case", "body", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_request_is_rejected_with_422_naming_the_field(client, case, body, field):
    with pytest.raises(ApiError) as raised:
        create(client, body)
    status = raised.value.status
    assert status.code == 422, status.message
    assert status.reason == "Invalid"
    assert field in status.message, status.message
