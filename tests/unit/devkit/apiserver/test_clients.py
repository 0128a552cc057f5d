"""Real clients against the dev cluster: a kopf operator (KopfRunner) and lightkube's AsyncClient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes.config import kube_config
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from scenefarm_devkit.apiserver import DevCluster, DevClusterThread

from .helpers import CRD_PATH

OPERATOR = """
import kopf

@kopf.on.startup()
def configure(settings, **_):
    settings.persistence.finalizer = "test.scenefarm.dev/finalizer"
    settings.watching.server_timeout = 5

@kopf.on.create("scenefarm.dev", "v1alpha1", "videorequests")
def created(patch, **_):
    patch.status["phase"] = "Planning"

@kopf.on.delete("scenefarm.dev", "v1alpha1", "videorequests")
def deleted(**_):
    pass
"""

VideoRequest = create_namespaced_resource("scenefarm.dev", "v1alpha1", "VideoRequest", "videorequests")


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_a_kopf_operator_adds_its_finalizer_patches_status_and_releases_on_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "operator.py").write_text(OPERATOR)
    with DevClusterThread(tmp_path / "state", crds=[CRD_PATH]) as cluster:
        kubeconfig = str(cluster.kubeconfig_for("operator"))
        monkeypatch.setenv("KUBECONFIG", kubeconfig)
        # kopf logs in through the official client when it is installed, which read $KUBECONFIG
        # once, when it was first imported (maybe before this test): point it there too.
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", kubeconfig)
        # Only this file's handlers: another test of the same process may have imported the real
        # operator's handlers into kopf's default registry.
        previous = kopf.get_default_registry()
        registry = kopf.OperatorRegistry()
        kopf.on.login(registry=registry)(kopf.login_via_client)  # as kopf registers it by default
        kopf.set_default_registry(registry)
        request.addfinalizer(lambda: kopf.set_default_registry(previous))
        with KopfRunner(
            ["run", "--standalone", "--all-namespaces", str(tmp_path / "operator.py")], timeout=60
        ) as runner:
            body = {
                "apiVersion": "scenefarm.dev/v1alpha1",
                "kind": "VideoRequest",
                "metadata": {"name": "newton", "namespace": "default"},
                "spec": {"topic": "t"},
            }
            cluster.call(lambda: _create(cluster.cluster, body))

            def current() -> dict | None:
                return cluster.get_object("videorequests", "default", "newton", group="scenefarm.dev")

            wait_for(lambda: (current() or {}).get("status", {}).get("phase") == "Planning")
            assert "test.scenefarm.dev/finalizer" in current()["metadata"]["finalizers"]
            cluster.call(lambda: _delete(cluster.cluster))
            wait_for(lambda: current() is None)
        assert runner.exit_code == 0, runner.output
        assert runner.exception is None
        assert "Handler 'created' succeeded" in runner.output
    assert any(
        r.resource == "videorequests" and r.verb == "watch" and r.namespace == "" for r in cluster.request_log
    )  # -A: one cluster-wide watch
    writes = {r.identity for r in cluster.request_log if r.is_write and r.resource == "videorequests"}
    assert "operator" in writes


async def _create(cluster: DevCluster, body: dict) -> None:
    rt = cluster.resource("scenefarm.dev", "v1alpha1", "videorequests")
    assert rt is not None
    cluster.server.api.create(rt, "default", body)


async def _delete(cluster: DevCluster) -> None:
    rt = cluster.resource("scenefarm.dev", "v1alpha1", "videorequests")
    assert rt is not None
    cluster.server.api.delete(rt, "default", "newton")


async def test_lightkube_async_client_creates_lists_patches_watches_and_deletes(tmp_path: Path) -> None:
    async with DevCluster(tmp_path / "state", crds=[CRD_PATH]) as cluster:
        config = KubeConfig.from_file(cluster.kubeconfig_for("operator"))
        client = AsyncClient(config=config)
        try:
            created = await client.create(
                ConfigMap(metadata=ObjectMeta(name="plan", labels={"app": "x"}), data={"a": "1"}),
                namespace="default",
            )
            assert created.metadata is not None and created.metadata.uid
            listed = [cm async for cm in client.list(ConfigMap, namespace="default", labels={"app": "x"})]
            assert [cm.metadata.name for cm in listed if cm.metadata] == ["plan"]
            patched = await client.patch(
                ConfigMap, "plan", {"data": {"b": "2"}}, namespace="default", patch_type=PatchType.MERGE
            )
            assert patched.data == {"a": "1", "b": "2"}

            vr = await client.create(
                VideoRequest(metadata=ObjectMeta(name="v"), spec={"topic": "t"}), namespace="default"
            )
            await client.patch(
                VideoRequest.Status,
                "v",
                {"status": {"phase": "Rendering"}},
                namespace="default",
                patch_type=PatchType.MERGE,
            )
            fetched = await client.get(VideoRequest, "v", namespace="default")
            assert fetched.status == {"phase": "Rendering"}
            assert fetched.metadata is not None and vr.metadata is not None
            assert fetched.metadata.generation == vr.metadata.generation

            async def first_deletion() -> str:
                async for event, obj in client.watch(
                    ConfigMap, namespace="default", resource_version=patched.metadata.resourceVersion
                ):
                    if event == "DELETED":
                        return obj.metadata.name
                return ""

            watching = asyncio.create_task(first_deletion())
            await client.delete(ConfigMap, "plan", namespace="default")
            assert await asyncio.wait_for(watching, timeout=10) == "plan"
        finally:
            await client.close()
