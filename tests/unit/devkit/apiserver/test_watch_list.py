"""Watch-list (sendInitialEvents): what kubectl 1.36's `wait` and `delete` stream instead of a list."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scenefarm_devkit.apiserver import DevCluster
from scenefarm_devkit.tools import ensure_tool

from .helpers import CM, Client, cm

WATCH_LIST = {
    "sendInitialEvents": "true",
    "resourceVersionMatch": "NotOlderThan",
    "allowWatchBookmarks": "true",
}


async def test_watch_list_sends_the_state_then_the_initial_events_end_bookmark_then_live_events(
    client: Client,
) -> None:
    await client.post(CM, cm("a"))
    _, b = await client.post(CM, cm("b"))
    later = asyncio.create_task(client.watch(CM, limit=8, timeoutSeconds=2, **WATCH_LIST))
    await asyncio.sleep(0.3)
    await client.post(CM, cm("c"))
    end_marker = {"k8s.io/initial-events-end": "true"}
    events = [  # periodic bookmarks (every 0.2 s here) carry no annotation
        e
        for e in await later
        if e["type"] != "BOOKMARK" or e["object"]["metadata"].get("annotations") == end_marker
    ]
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("BOOKMARK", None),
        ("ADDED", "c"),
    ]
    bookmark = events[2]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]
    assert bookmark["kind"] == "ConfigMap"


async def test_watch_list_from_an_older_resource_version_still_starts_from_the_current_state(
    client: Client,
) -> None:
    _, a = await client.post(CM, cm("a"))
    await client.delete(f"{CM}/a")
    await client.post(CM, cm("b"))
    events = await client.watch(
        CM, limit=2, timeoutSeconds=2, resourceVersion=a["metadata"]["resourceVersion"], **WATCH_LIST
    )
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "b"),
        ("BOOKMARK", None),
    ]


async def test_send_initial_events_without_not_older_than_is_refused_like_the_real_server(
    client: Client,
) -> None:
    status, body = await client.get(CM, watch="true", sendInitialEvents="true", allowWatchBookmarks="true")
    assert status == 422
    assert "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" in body["message"]


async def test_kubectl_wait_and_delete_return_without_client_feature_workarounds(tmp_path: Path) -> None:
    kubectl = ensure_tool("kubectl")
    async with DevCluster(tmp_path / "state") as cluster:

        async def run(*args: str) -> tuple[int, str]:
            process = await asyncio.create_subprocess_exec(
                str(kubectl), f"--kubeconfig={cluster.kubeconfig_path}", *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
            return process.returncode or 0, out.decode()

        (tmp_path / "cm.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\n"
            "metadata: {name: held, finalizers: [example.com/hold]}\ndata: {k: v}\n"
        )
        code, out = await run("apply", "-f", str(tmp_path / "cm.yaml"))
        assert code == 0, out
        code, out = await run("wait", "--for=jsonpath={.data.k}=v", "configmap/held", "--timeout=20s")
        assert (code, out.strip()) == (0, "configmap/held condition met")
        deleting = asyncio.create_task(run("delete", "configmap", "held", "--timeout=20s"))
        await asyncio.sleep(1)
        assert not deleting.done()  # waiting for the finalizer, as against a real server
        code, out = await run(
            "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
        )
        assert code == 0, out
        code, out = await deleting
        assert (code, out.strip()) == (0, 'configmap "held" deleted from default namespace')
        watch_lists = [r for r in cluster.request_log.records if "sendInitialEvents=true" in r.query]
        assert watch_lists  # kubectl did use watch-list (no KUBE_FEATURE_WatchListClient=false)


@pytest.fixture(autouse=True)
def _no_workaround(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBE_FEATURE_WatchListClient", raising=False)
