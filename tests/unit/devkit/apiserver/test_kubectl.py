"""The real kubectl binary against the dev cluster: apply, get (tables), get -w, describe, delete."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.tools import ensure_tool

from .helpers import CRD_PATH, VR, Client

MANIFEST = """\
apiVersion: scenefarm.dev/v1alpha1
kind: VideoRequest
metadata: {name: newton}
spec: {topic: "Newton's laws"}
"""


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return ensure_tool("kubectl")


@pytest.fixture
async def bare_cluster(tmp_path: Path) -> AsyncIterator[DevCluster]:
    async with DevCluster(tmp_path / "state") as running:
        yield running


async def run(kubectl: Path, cluster: DevCluster, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(kubectl),
        f"--kubeconfig={cluster.kubeconfig_path}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode()


async def apply_all(kubectl: Path, cluster: DevCluster, tmp_path: Path) -> None:
    code, out = await run(kubectl, cluster, "apply", "-f", str(CRD_PATH))
    assert code == 0, out
    (tmp_path / "vr.yaml").write_text(MANIFEST)
    code, out = await run(kubectl, cluster, "apply", "-f", str(tmp_path / "vr.yaml"))
    assert code == 0, out
    assert "videorequest.scenefarm.dev/newton created" in out


async def test_kubectl_applies_a_crd_and_a_custom_resource_and_lists_it_with_printer_columns(
    kubectl: Path, bare_cluster: DevCluster, tmp_path: Path
) -> None:
    await apply_all(kubectl, bare_cluster, tmp_path)
    code, out = await run(kubectl, bare_cluster, "get", "vr")
    assert code == 0, out
    header, row = out.splitlines()
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "AGE"]
    assert row.split()[0] == "newton"
    code, out = await run(kubectl, bare_cluster, "apply", "-f", str(tmp_path / "vr.yaml"))
    assert code == 0 and "unchanged" in out, out


async def test_kubectl_apply_reports_schema_errors_from_the_server(
    kubectl: Path, bare_cluster: DevCluster, tmp_path: Path
) -> None:
    await apply_all(kubectl, bare_cluster, tmp_path)
    (tmp_path / "bad.yaml").write_text(
        MANIFEST.replace("newton", "bad").replace("spec: {", "spec: {render: {quality: ultra}, ")
    )
    code, out = await run(kubectl, bare_cluster, "apply", "-f", str(tmp_path / "bad.yaml"))
    assert code != 0
    assert 'spec.render.quality: Unsupported value: "ultra"' in out


async def test_kubectl_get_watch_prints_a_row_when_the_status_changes(
    kubectl: Path, bare_cluster: DevCluster, tmp_path: Path
) -> None:
    await apply_all(kubectl, bare_cluster, tmp_path)
    process = await asyncio.create_subprocess_exec(
        str(kubectl),
        f"--kubeconfig={bare_cluster.kubeconfig_path}",
        "get",
        "vr",
        "-w",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        header = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert header.split() == [b"NAME", b"PHASE", b"PROGRESS", b"AGE"]
        await asyncio.wait_for(process.stdout.readline(), timeout=30)  # the initial row
        async with aiohttp.ClientSession() as session:
            client = Client(session, bare_cluster.url, bare_cluster.token_for("admin"))
            status, _ = await client.patch(
                f"{VR}/newton/status", {"status": {"phase": "Rendering", "progress": 40}}
            )
            assert status == 200
        changed = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert changed.split()[:3] == [b"newton", b"Rendering", b"40"]
    finally:
        process.terminate()
        await process.wait()


async def test_kubectl_describe_lists_the_events_of_the_object(
    kubectl: Path, bare_cluster: DevCluster, tmp_path: Path
) -> None:
    await apply_all(kubectl, bare_cluster, tmp_path)
    async with aiohttp.ClientSession() as session:
        client = Client(session, bare_cluster.url, bare_cluster.token_for("operator"))
        _, obj = await client.get(f"{VR}/newton")
        await client.post(
            "/api/v1/namespaces/default/events",
            {
                "metadata": {"name": "newton.1"},
                "involvedObject": {
                    "apiVersion": "scenefarm.dev/v1alpha1",
                    "kind": "VideoRequest",
                    "name": "newton",
                    "namespace": "default",
                    "uid": obj["metadata"]["uid"],
                },
                "reason": "Planned",
                "message": "3 scenes planned",
                "type": "Normal",
                "count": 1,
                "firstTimestamp": obj["metadata"]["creationTimestamp"],
                "lastTimestamp": obj["metadata"]["creationTimestamp"],
                "source": {"component": "scenefarm"},
            },
        )
    code, out = await run(kubectl, bare_cluster, "describe", "vr", "newton")
    assert code == 0, out
    assert "Topic:" in out and "Planned" in out and "3 scenes planned" in out


async def test_kubectl_delete_removes_the_object(
    kubectl: Path, bare_cluster: DevCluster, tmp_path: Path
) -> None:
    await apply_all(kubectl, bare_cluster, tmp_path)
    code, out = await run(kubectl, bare_cluster, "delete", "vr", "newton")
    assert code == 0, out
    code, out = await run(kubectl, bare_cluster, "get", "vr")
    assert "No resources found" in out
