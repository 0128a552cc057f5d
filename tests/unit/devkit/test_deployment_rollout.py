"""The dev kit's Deployment controller decides as the real one: one ReplicaSet per template, a
rolling update within maxSurge/maxUnavailable, Recreate after the old Pods are gone, and the
status fields `kubectl rollout status` reads."""

from __future__ import annotations

from typing import Any

from scenefarm_devkit.deployments import rollout


def deployment(
    replicas: int = 2, strategy: dict[str, Any] | None = None, image: str = "op:1"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "scenefarm", "namespace": "ops", "uid": "d-1", "generation": 3},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "op"}},
            "strategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {"app": "op"}}, "spec": {"containers": [{"image": image}]}},
        },
    }


def replica_set(of: dict[str, Any], replicas: int, name: str = "") -> dict[str, Any]:
    rs = rollout.replica_set_for(of)
    rs["spec"]["replicas"] = replicas
    if name:
        rs["metadata"]["name"] = name
    return rs


def test_a_template_gets_its_own_replica_set_whose_pods_the_deployment_still_selects() -> None:
    d = deployment()
    rs = rollout.replica_set_for(d)
    labels = rs["spec"]["template"]["metadata"]["labels"]
    assert rs["metadata"]["name"] == f"scenefarm-{labels[rollout.HASH_LABEL]}"
    assert rollout.selects(d["spec"]["selector"], labels) and rollout.selects(rs["spec"]["selector"], labels)
    assert rollout.owned_by(rs, d)
    assert rollout.replica_set_for(deployment(image="op:2"))["metadata"]["name"] != rs["metadata"]["name"]


def test_a_rolling_update_surges_by_one_and_removes_an_old_pod_only_when_a_new_one_is_ready() -> None:
    d = deployment(image="op:2")
    new, old = replica_set(d, 0), replica_set(deployment(), 2, "scenefarm-old")
    want = rollout.scale(d, new, [old], ready={"scenefarm-old": 2}, pods={"scenefarm-old": 2})
    assert want == {new["metadata"]["name"]: 1, "scenefarm-old": 2}  # 3 Pods at most, 2 ready kept
    new["spec"]["replicas"] = 1
    ready = {new["metadata"]["name"]: 1, "scenefarm-old": 2}
    want = rollout.scale(d, new, [old], ready=ready, pods={"scenefarm-old": 2})
    assert want == {new["metadata"]["name"]: 1, "scenefarm-old": 1}


def test_recreate_starts_the_new_pods_only_after_the_old_ones_are_gone() -> None:
    d = deployment(strategy={"type": "Recreate"}, image="op:2")
    new, old = replica_set(d, 0), replica_set(deployment(), 2, "scenefarm-old")
    assert rollout.scale(d, new, [old], ready={}, pods={"scenefarm-old": 1}) == {
        new["metadata"]["name"]: 0,
        "scenefarm-old": 0,
    }
    assert rollout.scale(d, new, [old], ready={}, pods={})[new["metadata"]["name"]] == 2


def test_status_is_complete_only_when_every_replica_is_updated_and_available() -> None:
    d = deployment()
    new = replica_set(d, 2)
    new["status"] = {"replicas": 2, "availableReplicas": 1, "readyReplicas": 1}
    status = rollout.deployment_status(d, new, [new], "2026-12-07T06:00:00Z")
    assert status["observedGeneration"] == 3 and status["updatedReplicas"] == 2
    assert status["availableReplicas"] < status["updatedReplicas"]  # kubectl keeps waiting
    new["status"]["availableReplicas"] = 2
    status = rollout.deployment_status(d, new, [new], "2026-12-07T06:00:00Z")
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "NewReplicaSetAvailable"


def test_terminating_pods_are_not_replicas_and_not_ready_ones_go_first() -> None:
    def pod(name: str, ready: bool, terminating: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": name}
        if terminating:
            meta["deletionTimestamp"] = "2026-12-07T06:00:00Z"
        return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}

    pods = [pod("a", True), pod("b", False), pod("c", True, terminating=True)]
    status = rollout.replica_set_status({"metadata": {"generation": 1}}, pods)
    assert (status["replicas"], status["terminatingReplicas"]) == (2, 1)
    assert [p["metadata"]["name"] for p in rollout.to_remove(pods[:2], 1)] == ["b"]


def test_a_refused_pod_is_a_replica_failure_of_the_replica_set_and_of_the_deployment() -> None:
    d = deployment(replicas=1)
    new = replica_set(d, 1)
    refused = 'pods "scenefarm-abc-" is forbidden: unable to validate against any security context constraint'
    status = rollout.replica_set_status(new, [], refused, "2026-12-07T06:00:00Z")
    [condition] = status["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "ReplicaFailure",
        "True",
        "FailedCreate",
    )
    assert condition["message"] == refused
    new["status"] = status
    later = rollout.replica_set_status(new, [], "another message", "2026-12-07T06:05:00Z")
    assert later["conditions"] == [condition]  # set once, as the ReplicaSet controller does
    deployed = rollout.deployment_status(d, new, [new], "2026-12-07T06:00:00Z")
    kinds = {c["type"]: c for c in deployed["conditions"]}
    assert kinds["Available"]["status"] == "False"
    assert (kinds["ReplicaFailure"]["reason"], kinds["ReplicaFailure"]["message"]) == (
        "FailedCreate",
        refused,
    )
    new["status"] = rollout.replica_set_status(new, [], None, "2026-12-07T06:10:00Z")
    assert new["status"]["conditions"] is None  # removed after a clean pass (a merge patch's null)
    cleared = rollout.deployment_status(d | {"status": deployed}, new, [new], "2026-12-07T06:10:00Z")
    assert "ReplicaFailure" not in {c["type"] for c in cleared["conditions"]}
