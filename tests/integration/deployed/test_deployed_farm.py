"""The chart as installed, walked through with helm, kubectl and the scenefarm CLI only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import EXAMPLES, Farm, farm, wait_for

pytestmark = pytest.mark.integration

# The dev cluster's instant renders plan a `Long<S>` scene as S seconds. 30 s at low quality is
# long enough for the operator's cost model to predict the video sooner in 2 chunks than whole.
CHUNKED_SCENE = """from manim import *

class Long30(Scene):
    def construct(self):
        dot = Dot(LEFT * 2)
        self.add(TracedPath(dot.get_center), dot)
        dot.add_updater(lambda m, dt: m.shift(RIGHT * dt * 0.6))
        self.wait(30)
"""


def chunked_request(name: str) -> str:
    body = {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name},
        "spec": {
            "topic": "a traced path in two chunks",
            "scenes": [{"name": "traced", "className": "Long30", "code": CHUNKED_SCENE}],
            "render": {
                "quality": "low",
                "cache": False,
                "chunking": {"mode": "Auto", "minChunkSeconds": 2, "maxChunks": 2},
            },
        },
    }
    return yaml.safe_dump(body)


def apply(farm: Farm, namespace: str, manifest: str, tmp: Path) -> None:
    path = tmp / "request.yaml"
    path.write_text(manifest, encoding="utf-8")
    farm.kubectl("apply", "-n", namespace, "-f", str(path))


# ---- the default values, real renders ------------------------------------------------------------


@pytest.fixture(scope="module")
def default_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    yield from farm(tmp_path_factory.mktemp("deployed-default"), instant=False)


def test_helm_install_on_dev_up_gives_a_running_operator_and_rollout_status_returns(
    default_farm: Farm,
) -> None:
    notes = default_farm.install(["default-values.yaml"])
    assert "rollout status deployment/scenefarm" in notes
    [pod] = default_farm.operator_pods()
    assert pod["spec"]["serviceAccountName"] == "scenefarm"
    assert default_farm.lease_holder() == pod["metadata"]["name"]


def test_an_example_request_becomes_a_verified_video(default_farm: Farm, tmp_path: Path) -> None:
    default_farm.kubectl("apply", "-n", "default", "-f", str(EXAMPLES / "explicit-scenes.yaml"))
    assert default_farm.wait_terminal("shapes", "default", timeout=420) == "Succeeded"
    target = tmp_path / "shapes.mp4"
    out = default_farm.run("scenefarm", "download", "shapes", "-n", "default", "-o", str(target), check=False)
    assert target.is_file() and "sha256 verified" in out, out


# ---- a list of watched namespaces, the release elsewhere, instant renders ----------------------


@pytest.fixture(scope="module")
def namespaced_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    for running in farm(tmp_path_factory.mktemp("deployed-namespaced"), namespace="scenefarm-system"):
        running.kubectl("create", "namespace", "videos-a")
        running.kubectl("create", "namespace", "videos-b")
        # The chart makes the artifacts PVC in each render namespace when asked (NOTES say so).
        running.install(["namespaced-values.yaml"], ["artifacts.volume.persistence.create=true"])
        yield running


def test_a_request_in_a_watched_namespace_other_than_the_releases_finishes(
    namespaced_farm: Farm, tmp_path: Path
) -> None:
    manifest = (EXAMPLES / "explicit-scenes.yaml").read_text(encoding="utf-8")
    apply(namespaced_farm, "videos-b", manifest, tmp_path)
    assert namespaced_farm.wait_terminal("shapes", "videos-b") == "Succeeded"
    jobs = namespaced_farm.json("jobs", "-n", "videos-b")["items"]
    assert {j["spec"]["template"]["spec"]["serviceAccountName"] for j in jobs} == {"scenefarm-render"}


def test_a_chunked_request_is_planned_rendered_in_chunks_and_stitched(
    namespaced_farm: Farm, tmp_path: Path
) -> None:
    apply(namespaced_farm, "videos-a", chunked_request("traced"), tmp_path)
    assert namespaced_farm.wait_terminal("traced", "videos-a") == "Succeeded"
    status = namespaced_farm.json("vr", "traced", "-n", "videos-a")["status"]
    assert status["scenes"][0]["chunking"]["decision"] == "Chunked", json.dumps(status["scenes"][0])
    roles = {
        j["metadata"]["labels"].get("scenefarm.dev/role")
        for j in namespaced_farm.json("jobs", "-n", "videos-a")["items"]
    }
    assert {"plan", "chunks", "stitch"} <= roles


# ---- two replicas: one active, failover ---------------------------------------------------------


@pytest.fixture(scope="module")
def ha_farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    for running in farm(tmp_path_factory.mktemp("deployed-ha")):
        # No prometheus-operator CRDs on the dev cluster: the ServiceMonitor is left out.
        running.install(["ha-values.yaml"], ["metrics.serviceMonitor.enabled=false"])
        yield running


def test_of_two_ready_replicas_exactly_one_acts(ha_farm: Farm) -> None:
    pods = {p["metadata"]["name"] for p in ha_farm.operator_pods()}
    assert len(pods) == 2
    holder = ha_farm.lease_holder()
    assert holder in pods
    [standby] = pods - {holder}
    log = ha_farm.operator_log(standby)
    assert "Standing by for the Lease" in log and "Acquired the Lease" not in log
    assert "Activity 'configure' succeeded" not in log  # no watch, daemon or intake started


def test_deleting_the_active_pod_hands_over_and_requests_finish_without_duplicate_jobs(
    ha_farm: Farm, tmp_path: Path
) -> None:
    old = ha_farm.lease_holder()
    manifest = (EXAMPLES / "explicit-scenes.yaml").read_text(encoding="utf-8")
    apply(ha_farm, "default", manifest, tmp_path)
    ha_farm.kubectl("delete", "pod", old, "-n", "default", "--wait=false")
    new = wait_for(
        lambda: (h := ha_farm.lease_holder()) not in ("", old) and h, 60, "another replica to take over"
    )
    assert new != old
    assert ha_farm.wait_terminal("shapes", "default") == "Succeeded"
    jobs = [j["metadata"]["name"] for j in ha_farm.json("jobs", "-n", "default")["items"]]
    assert len(jobs) == len(set(jobs)) == 3  # two scenes and one combine, each made once
    # The Deployment replaces the deleted Pod; the rollout is complete again.
    ha_farm.kubectl("-n", "default", "rollout", "status", "deployment/scenefarm", "--timeout=120s")
    wait_for(lambda: len(ha_farm.operator_pods()) == 2, 60, "the replacement Pod")


# ---- each installable values set: rolled out, and a request in its first watched namespace -----

# values file -> (namespaces a person creates first, extra --set, where requests go). The chart
# creates render.namespace.name itself; the others it only expects. Not here: the Appwrite,
# web-only and observability sets (they need an Appwrite and prometheus-operator's CRDs).
VALUES_SETS = {
    "ha-namespaced-values.yaml": (["videos"], ["artifacts.volume.persistence.create=true"], "videos"),
    "openshift-values.yaml": (["videos"], ["artifacts.volume.persistence.create=true"], "videos"),
    "volume-pvc-values.yaml": ([], [], "scenefarm-renders"),
}


@pytest.mark.parametrize("values", VALUES_SETS, ids=[v.removesuffix("-values.yaml") for v in VALUES_SETS])
def test_the_values_set_rolls_out_and_renders_a_request(
    values: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    namespaces, settings, target = VALUES_SETS[values]
    for running in farm(
        tmp_path_factory.mktemp("deployed-" + values.removesuffix(".yaml")), "scenefarm-system"
    ):
        for namespace in namespaces:
            running.kubectl("create", "namespace", namespace)
        running.install([values], settings)
        pods = running.operator_pods()
        assert running.lease_holder() in {p["metadata"]["name"] for p in pods}
        manifest = (EXAMPLES / "explicit-scenes.yaml").read_text(encoding="utf-8")
        apply(running, target, manifest, tmp_path)
        assert running.wait_terminal("shapes", target) == "Succeeded"
