"""Each fidelity item of the dev cluster, checked against plain kmock 0.8 and against the dev cluster.

The same probe runs on both servers: it must fail on plain kmock (the gap DESIGN.md measured)
and hold on the dev cluster (the fidelity layer closes it). A probe that passed on kmock would
prove nothing, so that is asserted too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import pytest

from scenefarm_devkit.apiserver import DevCluster

Probe = Callable[[aiohttp.ClientSession, str], Awaitable[bool]]
CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


def cm(name: str, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": "v"}}


async def post(s: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with s.post(url, json=body) as r:
        return r.status, await _json(r)


async def get(s: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with s.get(url) as r:
        return r.status, await _json(r)


async def patch(
    s: aiohttp.ClientSession, url: str, body: Any, kind: str = "merge-patch"
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": f"application/{kind}+json"}
    async with s.patch(url, data=json.dumps(body), headers=headers) as r:
        return r.status, await _json(r)


async def _json(r: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = json.loads(await r.text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def uid_and_creation_timestamp(s: aiohttp.ClientSession, base: str) -> bool:
    _, obj = await post(s, base + CMS, cm("uid"))
    meta = obj.get("metadata", {})
    return bool(meta.get("uid")) and bool(meta.get("creationTimestamp"))


async def increasing_resource_versions(s: aiohttp.ClientSession, base: str) -> bool:
    _, a = await post(s, base + CMS, cm("rv-a"))
    _, b = await post(s, base + CMS, cm("rv-b"))
    ra, rb = (
        a.get("metadata", {}).get("resourceVersion", ""),
        b.get("metadata", {}).get("resourceVersion", ""),
    )
    return ra.isdigit() and rb.isdigit() and int(rb) > int(ra)


async def list_kind_and_resource_version(s: aiohttp.ClientSession, base: str) -> bool:
    await post(s, base + CMS, cm("listed"))
    _, listing = await get(s, base + CMS)
    return (
        listing.get("kind") == "ConfigMapList"
        and str(listing.get("metadata", {}).get("resourceVersion", "")).isdigit()
    )


async def label_selector(s: aiohttp.ClientSession, base: str) -> bool:
    await post(s, base + CMS, cm("red", labels={"color": "red"}))
    await post(s, base + CMS, cm("blue", labels={"color": "blue"}))
    _, listing = await get(s, base + CMS + "?labelSelector=color%3Dred")
    return [i["metadata"]["name"] for i in listing.get("items", [])] == ["red"]


async def field_selector(s: aiohttp.ClientSession, base: str) -> bool:
    await post(s, base + CMS, cm("f-one"))
    await post(s, base + CMS, cm("f-two"))
    _, listing = await get(s, base + CMS + "?fieldSelector=metadata.name%3Df-two")
    return [i["metadata"]["name"] for i in listing.get("items", [])] == ["f-two"]


async def stale_resource_version_is_409(s: aiohttp.ClientSession, base: str) -> bool:
    await post(s, base + CMS, cm("stale"))
    await patch(s, base + CMS + "/stale", {"data": {"k": "v2"}})
    code, _ = await patch(
        s, base + CMS + "/stale", {"metadata": {"resourceVersion": "1"}, "data": {"k": "v3"}}
    )
    return code == 409


async def generation_bumps_on_spec_change(s: aiohttp.ClientSession, base: str) -> bool:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gen"},
        "spec": {"containers": [{"name": "c", "image": "a"}]},
    }
    _, created = await post(s, base + PODS, pod)
    _, patched = await patch(s, base + PODS + "/gen", {"spec": {"activeDeadlineSeconds": 5}})
    return (
        created.get("metadata", {}).get("generation") == 1
        and patched.get("metadata", {}).get("generation") == 2
    )


async def status_is_split_from_the_main_resource(s: aiohttp.ClientSession, base: str) -> bool:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "split"},
        "spec": {"containers": [{"name": "c", "image": "a"}]},
    }
    await post(s, base + PODS, pod)
    await patch(s, base + PODS + "/split", {"status": {"phase": "Running"}})  # ignored on the main resource
    _, obj = await get(s, base + PODS + "/split")
    return (obj.get("status") or {}).get("phase") != "Running"


async def owner_reference_garbage_collection(s: aiohttp.ClientSession, base: str) -> bool:
    _, owner = await post(s, base + CMS, cm("owner"))
    uid = owner.get("metadata", {}).get("uid") or "missing"
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
    await post(s, base + CMS, cm("dependent", ownerReferences=[ref]))
    async with s.delete(base + CMS + "/owner"):
        pass
    for _ in range(20):
        code, _ = await get(s, base + CMS + "/dependent")
        if code == 404:
            return True
        await asyncio.sleep(0.05)
    return False


async def generate_name(s: aiohttp.ClientSession, base: str) -> bool:
    _, obj = await post(s, base + CMS, cm("", generateName="gen-"))
    name = str(obj.get("metadata", {}).get("name") or "")
    return name.startswith("gen-") and len(name) == len("gen-") + 5


async def failed_json_patch_test_is_422(s: aiohttp.ClientSession, base: str) -> bool:
    await post(s, base + CMS, cm("jp"))
    code, _ = await patch(
        s, base + CMS + "/jp", [{"op": "test", "path": "/data/k", "value": "nope"}], "json-patch"
    )
    return code == 422


async def put_replaces_the_object(s: aiohttp.ClientSession, base: str) -> bool:
    _, obj = await post(s, base + CMS, cm("put"))
    replacement = cm("put")
    replacement["data"] = {"other": "x"}
    replacement["metadata"]["resourceVersion"] = obj.get("metadata", {}).get("resourceVersion", "")
    async with s.put(base + CMS + "/put", json=replacement):
        pass
    _, after = await get(s, base + CMS + "/put")
    return after.get("data") == {"other": "x"}


async def namespaces_are_served(s: aiohttp.ClientSession, base: str) -> bool:
    code, listing = await get(s, base + "/api/v1/namespaces")
    return code == 200 and "default" in [i["metadata"]["name"] for i in listing.get("items", [])]


async def watch_resumes_from_a_resource_version(s: aiohttp.ClientSession, base: str) -> bool:
    _, first = await post(s, base + CMS, cm("w-before"))
    rv = first.get("metadata", {}).get("resourceVersion", "0")
    await post(s, base + CMS, cm("w-after"))
    names = []
    try:
        async with s.get(base + CMS + f"?watch=true&resourceVersion={rv}&timeoutSeconds=1") as r:
            async with asyncio.timeout(3):
                async for line in r.content:
                    if line.strip():
                        names.append(json.loads(line)["object"]["metadata"]["name"])
    except (TimeoutError, ValueError, KeyError):
        pass
    return names == ["w-after"]


async def crd_registration_and_validation(s: aiohttp.ClientSession, base: str) -> bool:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {
                    "type": "object", "properties": {"size": {"type": "integer", "maximum": 3}}}}}},
            }],
        },
    }  # fmt: skip
    await post(s, base + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    await asyncio.sleep(0.1)
    bad = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 9}}
    code, body = await post(s, base + "/apis/example.com/v1/namespaces/default/widgets", bad)
    return code == 422 and body.get("reason") == "Invalid"


PROBES: list[Probe] = [
    uid_and_creation_timestamp,
    increasing_resource_versions,
    list_kind_and_resource_version,
    label_selector,
    field_selector,
    stale_resource_version_is_409,
    generation_bumps_on_spec_change,
    status_is_split_from_the_main_resource,
    owner_reference_garbage_collection,
    generate_name,
    failed_json_patch_test_is_422,
    put_replaces_the_object,
    namespaces_are_served,
    watch_resumes_from_a_resource_version,
    crd_registration_and_validation,
]


async def run_probe(probe: Probe, base: str) -> bool:
    async with aiohttp.ClientSession() as session:
        try:
            return await probe(session, base)
        except (aiohttp.ClientError, KeyError, TypeError, ValueError):
            return False


@pytest.fixture
async def plain_kmock() -> AsyncIterator[str]:
    async with kmock.KubernetesEmulator() as k8s, kmock.Server(k8s) as server:
        for path, kind in (
            ("v1/configmaps", "ConfigMap"),
            ("v1/pods", "Pod"),
            ("v1/namespaces", "Namespace"),
        ):
            k8s.resources[path] = kmock.ResourceInfo(kind=kind, namespaced=kind != "Namespace")
        yield str(server.url).rstrip("/")


@pytest.fixture
async def dev_cluster(tmp_path: Path) -> AsyncIterator[str]:
    async with DevCluster(tmp_path) as cluster:
        yield cluster.url


@pytest.mark.parametrize("probe", PROBES, ids=[p.__name__ for p in PROBES])
async def test_the_fidelity_item_is_missing_on_plain_kmock_and_present_on_the_dev_cluster(
    probe: Probe, plain_kmock: str, dev_cluster: str
) -> None:
    assert await run_probe(probe, plain_kmock) is False, (
        "plain kmock already does this: the probe proves nothing"
    )
    assert await run_probe(probe, dev_cluster) is True
