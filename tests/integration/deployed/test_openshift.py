"""The chart on a cluster that plays OpenShift (`scenefarm dev up --openshift`): every namespace gets
its own UID range from the allocator and every Pod goes through the restricted-v2 SCC. The chart's
default values (uid 10001) are refused; `openshift: true` runs, and every Pod it leads to (operator,
render, plan/chunks/stitch, combine, the CLI's download Pod) is admitted with the namespace's UID."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, Farm, Running, start_farm, wait_for
from .test_deployed_farm import apply, chunked_request

pytestmark = pytest.mark.integration

UID_RANGE = "openshift.io/sa.scc.uid-range"
RELEASE = "scenefarm-system"


def first_uid(running: Farm, namespace: str) -> int:
    """The first UID of the range the allocator gave the namespace (restricted-v2 assigns it)."""

    def allocated() -> str | None:
        annotations = running.json("namespace", namespace)["metadata"].get("annotations") or {}
        return annotations.get(UID_RANGE)

    start, size = wait_for(allocated, 30, f"namespace {namespace}'s uid range").split("/")
    assert int(size) == 10000
    return int(start)


def uids(pod: dict[str, Any]) -> set[int]:
    return {c["securityContext"]["runAsUser"] for c in pod["spec"]["containers"]}


def test_the_default_values_operator_pod_is_refused_by_restricted_v2(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with Running(
        start_farm(tmp_path_factory.mktemp("openshift-defaults"), RELEASE, openshift=True)
    ) as running:
        running.install(["default-values.yaml"], rollout=False)  # helm itself succeeds
        first = first_uid(running, RELEASE)

        def refusal() -> dict[str, Any] | None:
            events = running.json("events", "-n", RELEASE, "--field-selector", "reason=FailedCreate")["items"]
            return events[0] if events else None

        event = wait_for(refusal, 60, "the ReplicaSet's FailedCreate event")
        assert event["involvedObject"]["kind"] == "ReplicaSet"
        message = event["message"]
        assert message.startswith('Error creating: pods "scenefarm-'), message
        assert "is forbidden: unable to validate against any security context constraint: [" in message
        assert (
            f"provider restricted-v2: .containers[0].runAsUser: Invalid value: 10001: "
            f"must be in the ranges: [{first}, {first + 9999}]" in message
        )
        assert (
            "provider restricted-v2: .spec.securityContext.fsGroup: Invalid value: []int64{10001}: "
            "10001 is not an allowed group" in message
        )

        def failed() -> dict[str, Any] | None:
            status = running.json("deployment", "scenefarm", "-n", RELEASE).get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            return conditions if "ReplicaFailure" in conditions else None

        conditions = wait_for(failed, 30, "the Deployment's ReplicaFailure condition")
        assert conditions["ReplicaFailure"]["reason"] == "FailedCreate"
        assert conditions["Available"]["status"] == "False"
        assert running.operator_pods() == []


def test_openshift_values_render_videos_with_every_pod_admitted_by_restricted_v2(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    state = tmp_path_factory.mktemp("openshift-values")
    with Running(start_farm(state, RELEASE, instant=False, openshift=True)) as running:
        running.kubectl("create", "namespace", "videos")
        running.install(["openshift-values.yaml"], ["artifacts.volume.persistence.create=true"])
        [operator] = running.operator_pods()
        assert operator["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
        assert uids(operator) == {first_uid(running, RELEASE)}

        apply(running, "videos", (EXAMPLES / "explicit-scenes.yaml").read_text(encoding="utf-8"), tmp_path)
        apply(running, "videos", chunked_request("traced"), tmp_path)
        assert running.wait_terminal("shapes", "videos", timeout=600) == "Succeeded"
        assert running.wait_terminal("traced", "videos", timeout=600) == "Succeeded"
        target = tmp_path / "shapes.mp4"
        out = running.run("scenefarm", "download", "shapes", "-n", "videos", "-o", str(target), check=False)
        assert target.is_file() and "sha256 verified" in out, out  # the download Pod was admitted too

        videos = first_uid(running, "videos")
        pods = running.json("pods", "-n", "videos")["items"]
        roles = {p["metadata"]["labels"].get("scenefarm.dev/role") for p in pods}
        assert {"scene", "combine", "plan", "chunks", "stitch"} <= roles
        for pod in pods:
            assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
            assert uids(pod) == {videos}
            assert pod["spec"]["securityContext"]["fsGroup"] == videos
        assert (
            running.json("events", "-n", "videos", "--field-selector", "reason=FailedCreate")["items"] == []
        )
