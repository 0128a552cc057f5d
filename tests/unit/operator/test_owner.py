"""engine.manifests.owner.adopt does what kopf.adopt does, so the engine needs no kopf."""

import copy

import kopf
import pytest

from scenefarm_operator.engine.manifests.owner import adopt

OWNER = {
    "apiVersion": "scenefarm.dev/v1alpha1",
    "kind": "VideoRequest",
    "metadata": {
        "name": "intro",
        "namespace": "videos",
        "uid": "u-1",
        "labels": {"scenefarm.dev/intake": "appwrite", "shared": "owner"},
    },
}


@pytest.mark.parametrize(
    "child",
    [
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "intro-s00-a1"}},
        {"kind": "ConfigMap", "metadata": {"name": "intro-plan", "labels": {"shared": "child"}}},
        {"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "elsewhere"}},
        {"kind": "ConfigMap"},
        {"kind": "ConfigMap", "metadata": {"name": "x", "ownerReferences": [{"uid": "u-1", "name": "old"}]}},
    ],
)
def test_adopt_matches_kopf(child: dict) -> None:
    ours, kopfs = copy.deepcopy(child), copy.deepcopy(child)
    adopt(ours, OWNER)
    kopf.adopt(kopfs, owner=kopf.Body(copy.deepcopy(OWNER)))
    assert ours == kopfs
    assert [ref["uid"] for ref in ours["metadata"]["ownerReferences"]] == ["u-1"]
