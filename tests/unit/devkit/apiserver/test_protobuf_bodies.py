"""Protobuf request bodies: what kubectl's typed clients send for `kubectl create <built-in>`."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.apiserver.errors import BadRequest
from scenefarm_devkit.apiserver.protobuf import decode_object
from scenefarm_devkit.tools import ensure_tool


async def test_kubectl_create_of_built_in_kinds_stores_what_kubectl_meant(tmp_path: Path) -> None:
    kubectl = ensure_tool("kubectl")
    (tmp_path / "code.py").write_text("print('hi')\n")
    async with DevCluster(tmp_path / "state") as cluster:

        async def run(*args: str) -> str:
            process = await asyncio.create_subprocess_exec(
                str(kubectl), f"--kubeconfig={cluster.kubeconfig_path}", *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
            assert process.returncode == 0, out.decode()
            return out.decode()

        assert await run("create", "namespace", "team") == "namespace/team created\n"
        await run("create", "secret", "generic", "key", "-n", "team", "--from-literal=apiKey=s3cret")
        await run("create", "configmap", "code", f"--from-file=scene.py={tmp_path / 'code.py'}")
        await run("create", "deployment", "web", "--image=nginx", "--replicas=0")
        overrides = (
            '{"apiVersion": "v1", "spec": {"volumes": [{"name": "code", "configMap": {"name": "code"}}], '
            '"containers": [{"name": "shell", "image": "python", "env": [{"name": "KEY", "valueFrom": '
            '{"secretKeyRef": {"name": "key", "key": "apiKey"}}}]}]}}'
        )
        await run("run", "shell", "--image=python", f"--overrides={overrides}")
        pod = cluster.get_object("pods", "default", "shell")
        secret = cluster.get_object("secrets", "team", "key")
        configmap = cluster.get_object("configmaps", "default", "code")
        deployment = cluster.get_object("deployments", "default", "web", group="apps")
    assert cluster.get_object("namespaces", "", "team") is not None
    assert secret is not None and base64.b64decode(secret["data"]["apiKey"]) == b"s3cret"
    assert configmap is not None and configmap["data"] == {"scene.py": "print('hi')\n"}
    assert pod is not None  # embedded Go structs (VolumeSource, LocalObjectReference) are inline
    # SetDefaults_ConfigMapVolumeSource: defaultMode 0644
    assert pod["spec"]["volumes"] == [{"name": "code", "configMap": {"name": "code", "defaultMode": 420}}]
    assert pod["spec"]["containers"][0]["env"][0]["valueFrom"] == {
        "secretKeyRef": {"name": "key", "key": "apiKey"}
    }
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 0  # a meaningful zero survives
    assert deployment["spec"]["template"]["spec"]["containers"][0] == {
        "name": "nginx",
        "image": "nginx",
        "resources": {},
        # SetDefaults_Container, as the real server stores what `kubectl create deployment` sent
        "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def test_a_body_without_the_protobuf_envelope_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="k8s magic prefix"):
        decode_object(b'{"kind": "Namespace"}')
