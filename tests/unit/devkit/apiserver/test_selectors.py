"""Label and field selectors on lists."""

from __future__ import annotations

import pytest

from scenefarm_devkit.apiserver.errors import BadRequest
from scenefarm_devkit.apiserver.selectors import matcher

from .helpers import CM, Client, cm

OBJ = {
    "metadata": {"name": "n", "namespace": "ns", "labels": {"app": "x", "tier": "web"}},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=x", True),
        ("app==x", True),
        ("app!=x", False),
        ("app!=y", True),
        ("tier in (web, db)", True),
        ("tier notin (web)", False),
        ("missing notin (a)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=x,tier in (db)", False),
        ("missing!=a", True),
        ("missing=a", False),
    ],
)
def test_label_selector_operators_match_like_the_api_server(selector: str, expected: bool) -> None:
    assert matcher(selector, None)(OBJ) is expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=n", True),
        ("metadata.namespace!=ns", False),
        ("status.phase=Running", True),
        ("status.phase==Pending", False),
        ("metadata.name=n,status.phase=Running", True),
    ],
)
def test_field_selectors_compare_dotted_fields(selector: str, expected: bool) -> None:
    assert matcher(None, selector)(OBJ) is expected


def test_a_malformed_selector_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        matcher("a in b", None)


async def test_lists_filter_by_label_selector(client: Client) -> None:
    await client.post(CM, cm("a", {"scenefarm.dev/role": "scene"}))
    await client.post(CM, cm("b", {"scenefarm.dev/role": "combine"}))
    await client.post(CM, cm("c"))
    _, listing = await client.get(CM, labelSelector="scenefarm.dev/role in (scene,combine)")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a", "b"]
    _, listing = await client.get(CM, labelSelector="!scenefarm.dev/role")
    assert [i["metadata"]["name"] for i in listing["items"]] == ["c"]


async def test_events_are_listable_by_involved_object_fields(client: Client) -> None:
    for name, target in (("e1", "vr-a"), ("e2", "vr-b")):
        await client.post(
            "/api/v1/namespaces/default/events",
            {
                "metadata": {"name": name},
                "involvedObject": {
                    "kind": "VideoRequest",
                    "name": target,
                    "namespace": "default",
                    "uid": f"uid-{target}",
                },
                "reason": "Planned",
                "message": "m",
                "type": "Normal",
            },
        )
    _, listing = await client.get(
        "/api/v1/namespaces/default/events",
        fieldSelector="involvedObject.name=vr-a,involvedObject.uid=uid-vr-a",
    )
    assert [i["metadata"]["name"] for i in listing["items"]] == ["e1"]
    status, _ = await client.post(
        "/apis/events.k8s.io/v1/namespaces/default/events",
        {
            "metadata": {"name": "e3"},
            "regarding": {"name": "vr-a"},
            "reason": "R",
            "note": "n",
            "type": "Normal",
            "action": "Plan",
            "eventTime": "2025-01-01T00:00:00.000000Z",
        },
    )
    assert status == 201
