"""OpenAPI v3 and v2: the schemas kubectl explain and helm's client-side validation read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.tools import ensure_tool

from .helpers import Client


async def test_the_v3_document_of_a_crd_group_carries_its_schema_under_its_kind(client: Client) -> None:
    status, root = await client.get("/openapi/v3")
    url = root["paths"]["apis/scenefarm.dev/v1alpha1"]["serverRelativeURL"]
    assert status == 200 and "?hash=" in url
    status, doc = await client.get(url.split("?")[0])
    schema = doc["components"]["schemas"]["dev.scenefarm.v1alpha1.VideoRequest"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "scenefarm.dev", "version": "v1alpha1", "kind": "VideoRequest"}
    ]
    assert "topic" in schema["properties"]["spec"]["properties"]
    meta_ref = schema["properties"]["metadata"]["$ref"].rsplit("/", 1)[1]
    assert meta_ref in doc["components"]["schemas"]  # every reference resolves in the document


async def test_built_in_schemas_come_with_everything_they_reference(client: Client) -> None:
    _, doc = await client.get("/openapi/v3/apis/batch/v1")
    schemas = doc["components"]["schemas"]
    job = schemas["io.k8s.api.batch.v1.Job"]
    assert job["x-kubernetes-group-version-kind"] == [{"group": "batch", "kind": "Job", "version": "v1"}]
    refs = [s["$ref"] for s in _walk(schemas) if isinstance(s.get("$ref"), str)]
    assert refs and all(ref.rsplit("/", 1)[1] in schemas for ref in refs)


async def test_v2_is_served_as_the_protobuf_client_go_asks_for(client: Client) -> None:
    accept = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    async with client.session.get(
        client.base + "/openapi/v2", headers=client.headers | {"Accept": accept}
    ) as response:
        body = await response.read()
        assert (
            response.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        )
    assert body.startswith(b"\x0a\x032.0")  # field 1 (swagger) = "2.0"
    assert b"dev.scenefarm.v1alpha1.VideoRequest" in body


def _walk(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        return [node, *[n for v in node.values() for n in _walk(v)]]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


async def test_kubectl_explain_reads_the_crds_schema(cluster: DevCluster, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        str(ensure_tool("kubectl")), f"--kubeconfig={cluster.kubeconfig_path}", "explain", "vr.spec.render",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, out.decode()
    assert "KIND:       VideoRequest" in out.decode() and "quality" in out.decode()
