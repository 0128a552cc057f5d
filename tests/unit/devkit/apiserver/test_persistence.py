"""A persistent dev cluster keeps its objects across restarts, as kube-apiserver does with etcd."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from scenefarm_devkit.apiserver import DevCluster

from .helpers import CM, CRD_PATH, VR, Client, cm, vr


async def test_a_restarted_cluster_has_its_objects_and_custom_kinds_back_with_increasing_versions(
    tmp_path: Path,
) -> None:
    async with DevCluster(tmp_path, crds=[CRD_PATH], persist=True) as cluster, aiohttp.ClientSession() as s:
        client = Client(s, cluster.url, cluster.token_for("admin"))
        _, kept = await client.post(CM, cm("kept"))
        await client.post(CM, cm("gone"))
        await client.delete(f"{CM}/gone")
        _, request = await client.post(VR, vr("newton"))
        last_rv = cluster.server.store.resource_version
    async with DevCluster(tmp_path, crds=[CRD_PATH], persist=True) as cluster, aiohttp.ClientSession() as s:
        client = Client(s, cluster.url, cluster.token_for("admin"))
        status, again = await client.get(f"{CM}/kept")
        assert status == 200 and again["metadata"]["uid"] == kept["metadata"]["uid"]
        assert again["metadata"]["resourceVersion"] == kept["metadata"]["resourceVersion"]
        assert (await client.get(f"{CM}/gone"))[0] == 404
        status, restored = await client.get(f"{VR}/newton")  # the CRD's kind is served again
        assert status == 200 and restored["metadata"]["uid"] == request["metadata"]["uid"]
        _, fresh = await client.post(CM, cm("fresh"))
        assert int(fresh["metadata"]["resourceVersion"]) > last_rv


async def test_without_persist_a_restart_starts_empty(tmp_path: Path) -> None:
    async with DevCluster(tmp_path) as cluster, aiohttp.ClientSession() as s:
        await Client(s, cluster.url, cluster.token_for("admin")).post(CM, cm("kept"))
    async with DevCluster(tmp_path) as cluster:
        assert cluster.get_object("configmaps", "default", "kept") is None
