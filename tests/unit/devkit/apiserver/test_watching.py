"""Watch streams: initial state, resume, 410 Gone, bookmarks, timeouts, selectors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from scenefarm_devkit.apiserver import DevCluster

from .helpers import CM, Client, cm


async def test_a_watch_from_a_resource_version_replays_only_later_events(client: Client) -> None:
    _, first = await client.post(CM, cm("a"))
    await client.post(CM, cm("b"))
    await client.delete(f"{CM}/a")
    events = await client.watch(
        CM, limit=2, resourceVersion=first["metadata"]["resourceVersion"], timeoutSeconds=1
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]


async def test_a_watch_without_resource_version_starts_with_the_current_objects(client: Client) -> None:
    await client.post(CM, cm("a"))
    events = await client.watch(CM, limit=1, timeoutSeconds=1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "a"
    assert events[0]["object"]["kind"] == "ConfigMap"


async def test_a_watch_from_a_compacted_resource_version_gets_410_gone(tmp_path: Path) -> None:
    async with DevCluster(tmp_path, history_size=3) as cluster, aiohttp.ClientSession() as session:
        client = Client(session, cluster.url, cluster.token_for("admin"))
        _, first = await client.post(CM, cm("a"))
        for name in "bcdef":
            await client.post(CM, cm(name))
        events = await client.watch(CM, limit=5, resourceVersion=first["metadata"]["resourceVersion"])
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


async def test_bookmarks_are_sent_when_allowed_and_carry_the_latest_resource_version(client: Client) -> None:
    _, created = await client.post(CM, cm("a"))
    events = await client.watch(
        CM,
        limit=2,
        allowWatchBookmarks="true",
        timeoutSeconds=5,
        resourceVersion=created["metadata"]["resourceVersion"],
    )
    assert [e["type"] for e in events] == ["BOOKMARK", "BOOKMARK"]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(
        created["metadata"]["resourceVersion"]
    )


async def test_without_bookmarks_allowed_no_bookmark_is_sent_and_the_timeout_ends_the_stream(
    client: Client,
) -> None:
    _, created = await client.post(CM, cm("a"))
    events = await client.watch(
        CM, limit=10, timeoutSeconds=1, resourceVersion=created["metadata"]["resourceVersion"]
    )
    assert events == []


async def test_label_selected_watches_see_objects_entering_and_leaving_the_selection(client: Client) -> None:
    _, created = await client.post(CM, cm("a", {"role": "scene"}))
    rv = created["metadata"]["resourceVersion"]
    watching = asyncio.create_task(
        client.watch(CM, limit=3, labelSelector="role=scene", resourceVersion=rv, timeoutSeconds=5)
    )
    await client.post(CM, cm("other", {"role": "combine"}))
    await client.patch(f"{CM}/a", {"metadata": {"labels": {"role": "combine"}}})
    await client.patch(f"{CM}/other", {"metadata": {"labels": {"role": "scene"}}})
    await client.patch(f"{CM}/other", {"data": {"x": "y"}})
    events = await watching
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("DELETED", "a"),
        ("ADDED", "other"),
        ("MODIFIED", "other"),
    ]


async def test_namespaced_watches_do_not_see_other_namespaces(client: Client) -> None:
    await client.post("/api/v1/namespaces", {"metadata": {"name": "other"}})
    await client.post("/api/v1/namespaces/other/configmaps", cm("x"))
    await client.post(CM, cm("y"))
    events = await client.watch(CM, limit=5, timeoutSeconds=1)
    assert [e["object"]["metadata"]["name"] for e in events] == ["y"]
    cluster_wide = await client.watch("/api/v1/configmaps", limit=5, timeoutSeconds=1)
    assert sorted(e["object"]["metadata"]["name"] for e in cluster_wide) == ["x", "y"]
