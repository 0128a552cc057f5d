"""AppwriteMirror with the real SDK against the double: lifecycle, coalescing, outages, deletion."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace as with_

import pytest
from appwrite.services.tables_db import TablesDB

from scenefarm_contract.appwrite_sdk import file_id
from scenefarm_contract.renderer import artifact_prefix
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread, Fault
from scenefarm_devkit.appwrite_double.scripted import UID, lifecycle, video_request
from scenefarm_operator.engine import scene_cache
from scenefarm_operator.engine.scene_cache import CacheHit
from scenefarm_operator.web import AppwriteConfig, AppwriteMirror
from scenefarm_operator.web.calls import make_client
from scenefarm_operator.web.intake import Limits
from scenefarm_operator.web.intake import video_request as intake_request
from scenefarm_operator.web.rows import desired_rows, scene_row_id, video_row_id
from scenefarm_renderer.storage.appwrite_store import AppwriteStore

API_KEY = "sk-test-7f3a9b2c1d4e5f60718293a4b5c6d7e8"  # the double fixture's key (conftest)
VIDEO_ORDER = ["queued", "planning", "rendering", "completed"]
SCENE_ORDER = ["planned", "coded", "rendered"]


async def settle(mirror: AppwriteMirror, uid: str = UID, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (mirror.state_for(uid).synced and mirror.idle):
        assert time.monotonic() < deadline, mirror.state_for(uid)
        await asyncio.sleep(0.02)


def mirrored(double: AppwriteDoubleThread, body: dict) -> dict[str, dict]:
    """The rows the double holds for a body, without Appwrite's system fields."""
    out = {}
    for row in desired_rows(body):
        stored = double.rows("scenefarm", row.table).get(row.row_id)
        assert stored is not None, row.row_id
        out[row.row_id] = {k: stored[k] for k in row.data} | {"$permissions": stored["$permissions"]}
    return out


def expected(body: dict) -> dict[str, dict]:
    return {
        row.row_id: dict(row.data) | {"$permissions": list(row.permissions)} for row in desired_rows(body)
    }


def is_ordered(statuses: list[str], order: list[str]) -> bool:
    positions = [order.index(s) for s in statuses]
    return positions == sorted(positions)


async def test_rows_follow_a_published_lifecycle_in_order(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, coalesce_seconds=0.05))
    await mirror.start()
    bodies = list(lifecycle(scenes=3))
    for body in bodies:
        mirror.publish(body)
        await settle(mirror)
    await mirror.stop()

    history = double.row_history("scenefarm", "videos", video_row_id(UID))
    assert is_ordered([h["status"] for h in history], VIDEO_ORDER)
    assert [h["status"] for h in history][-1] == "completed"
    progress = [h["progress"] for h in history]
    assert progress == sorted(progress) and progress[-1] == 100
    for index in range(3):
        scene_history = double.row_history("scenefarm", "scenes", scene_row_id(UID, index))
        statuses = [h["status"] for h in scene_history]
        assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == SCENE_ORDER
        assert [h["phase"] for h in scene_history][1:3] == ["Queued", "Running"]  # the extra column
    assert mirrored(double, bodies[-1]) == expected(bodies[-1])
    final = double.rows("scenefarm", "videos")[video_row_id(UID)]
    assert final["combined_video_url"] == f"f-{UID[:8]}-video"
    assert final["$permissions"] == ['read("user:user-42")']


async def test_publishing_an_unchanged_state_writes_nothing(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, coalesce_seconds=0.0))
    await mirror.start()
    *_, final = lifecycle(scenes=2)
    mirror.publish(final)
    await settle(mirror)
    writes = mirror.writes
    for _ in range(5):
        mirror.publish(final)
        await asyncio.sleep(0.02)
    await mirror.stop()
    assert writes == 3
    assert mirror.writes == writes


async def test_fifty_rapid_publishes_make_few_writes_and_the_last_state_wins(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, coalesce_seconds=0.5))
    await mirror.start()
    body = video_request()
    body["status"] = {"phase": "Rendering", "progress": 0}
    for progress in range(1, 51):
        body["status"]["progress"] = progress * 2 - 1 if progress < 50 else 100
        mirror.publish(body)
        await asyncio.sleep(0.005)
    await settle(mirror)
    await mirror.stop()
    history = double.row_history("scenefarm", "videos", video_row_id(UID))
    assert 1 <= len(history) <= 3
    assert history[-1]["progress"] == 100


async def test_stop_writes_the_final_state_without_waiting_for_the_interval(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, coalesce_seconds=30.0))
    await mirror.start()
    body = video_request()
    mirror.publish(body)
    await settle(mirror)
    body["status"] = {"phase": "Succeeded", "progress": 100, "finishedAt": "2026-11-25T10:05:00Z"}
    mirror.publish(body)
    started = time.monotonic()
    await mirror.stop()
    assert time.monotonic() - started < 5
    assert double.rows("scenefarm", "videos")[video_row_id(UID)]["status"] == "completed"


async def test_an_outage_never_blocks_publish_and_rows_catch_up_afterwards(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    assert mirror.ready
    double.faults.outage(60, kind="reset")
    bodies = list(lifecycle(scenes=3, heal=1))
    half = len(bodies) // 2
    slowest = 0.0
    for body in bodies[:half]:
        started = time.perf_counter()
        mirror.publish(body)
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.03)
    state = mirror.state_for(UID)
    assert state.synced is False
    assert "unreachable" in state.message or "Waiting" in state.message
    assert state.row_id == video_row_id(UID)
    double.faults.end_outage()
    for body in bodies[half:]:
        started = time.perf_counter()
        mirror.publish(body)
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.03)
    await settle(mirror)
    assert mirror.state_for(UID).synced is True
    await mirror.stop()
    assert slowest < 0.5, f"publish took {slowest:.3f}s"  # vs 2 s per Appwrite call
    assert mirrored(double, bodies[-1]) == expected(bodies[-1])


async def test_a_mirror_started_while_appwrite_is_down_bootstraps_when_it_comes_back(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    double.faults.outage(60)
    mirror = AppwriteMirror(config)
    started = time.monotonic()
    await mirror.start(wait_seconds=0.5)
    assert time.monotonic() - started < 3
    assert not mirror.ready
    *_, final = lifecycle(scenes=2)
    mirror.publish(final)
    await asyncio.sleep(0.3)
    assert mirror.state_for(UID).synced is False
    double.faults.end_outage()
    await settle(mirror)
    await mirror.stop()
    assert mirror.ready
    assert mirrored(double, final) == expected(final)


async def test_publish_with_appwrite_answering_slowly_returns_at_once(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    double.inject(Fault(path="/rows/", delay=2.0, times=None))
    slowest = 0.0
    for body in lifecycle(scenes=2):
        started = time.perf_counter()
        mirror.publish(body)
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.01)
    double.faults.clear()
    await mirror.stop(timeout=0.1)
    assert slowest < 0.5, f"publish took {slowest:.3f}s"  # vs 2 s per Appwrite call


async def test_transient_errors_are_retried_within_one_write(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    double.inject(Fault(path="/rows/", method="PUT", status=503, times=1))
    double.inject(Fault(path="/rows/", method="PUT", status=429, times=1))
    body = video_request()
    mirror.publish(body)
    await settle(mirror)
    await mirror.stop()
    assert [r.status for r in double.requests() if r.method == "PUT"] == [503, 429, 200]


async def test_a_refused_row_is_reported_and_not_retried_in_a_loop(
    double: AppwriteDoubleThread, config: AppwriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    double.inject(Fault(path="/rows/", method="PUT", status=400, times=1))
    mirror.publish(video_request())
    await asyncio.sleep(0.5)
    state = mirror.state_for(UID)
    await mirror.stop()
    assert state.synced is False
    assert "400" in state.message
    assert len([r for r in double.requests() if r.method == "PUT"]) == 1


async def test_forget_deletes_rows_and_files(
    double: AppwriteDoubleThread, config: AppwriteConfig, tmp_path
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    *_, final = lifecycle(scenes=2)
    final["spec"]["output"] = {"store": "Appwrite"}
    meta = final["metadata"]
    store = AppwriteStore(
        endpoint=config.endpoint,
        project=config.project,
        api_key=API_KEY,
        bucket="videos",
        prefix=f"{meta['namespace']}/{meta['name']}-{meta['uid'][:8]}",
    )
    local = tmp_path / "scene.mp4"
    local.write_bytes(b"mp4" * 100)
    for key in ("scene-00.mp4", "scene-01.mp4", "video.mp4"):
        await asyncio.to_thread(store.put, local, key)
    mirror.publish(final)
    await settle(mirror)
    assert await mirror.forget(final) is True
    assert double.rows("scenefarm", "videos") == {}
    assert double.rows("scenefarm", "scenes") == {}
    assert double.call(lambda: dict(double.double.storage.files)) == {}
    mirror.publish(final)  # a late event after deletion must not bring the rows back
    await asyncio.sleep(0.1)
    await mirror.stop()
    assert double.rows("scenefarm", "videos") == {}


async def test_forget_keeps_the_files_a_live_request_reuses_and_removes_the_rest(
    double: AppwriteDoubleThread, config: AppwriteConfig, tmp_path
) -> None:
    """The store clean-up's rule (scene_cache.cleanup_targets) holds for Appwrite Storage too:
    a file another live request reuses survives the deletion; the request's other files go, and
    so does a file it reused from a request that is gone."""
    mirror = AppwriteMirror(config)
    await mirror.start()
    *_, origin = lifecycle(scenes=2)
    origin["spec"]["output"] = {"store": "Appwrite"}
    own, gone = artifact_prefix("default", "newton", UID), artifact_prefix("default", "gone", "0badc0de")
    origin["status"]["scenes"][1] |= {  # scene 1 came from a request deleted earlier
        "cacheKey": "key-1",
        "sha256": "b" * 64,
        "reused": {"request": "default/gone", "scene": 0, "source": f"{gone}/scene-00.mp4"},
    }
    reuser = video_request(scenes=1, uid="9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")  # live, reuses scene 0
    reuser["metadata"]["name"] = "newton-again"
    hit = CacheHit("default/newton", 0, f"{own}/scene-00.mp4", "uri", "a" * 64, "key-0")
    reuser["status"] = {
        "phase": "Succeeded",
        "scenes": [{"index": 0, "name": "scene-0", **hit.scene_entry(1)}],
    }
    local = tmp_path / "scene.mp4"
    local.write_bytes(b"mp4" * 100)
    for prefix, key in ((own, "scene-00.mp4"), (own, "video.mp4"), (gone, "scene-00.mp4")):
        store = AppwriteStore(
            endpoint=config.endpoint, project=config.project, api_key=API_KEY, bucket="videos", prefix=prefix
        )
        await asyncio.to_thread(store.put, local, key)
    mirror.publish(origin)
    await settle(mirror)
    offers = [o for o in (scene_cache.offer(origin), scene_cache.offer(reuser)) if o is not None]
    assert await mirror.forget(origin, offers=offers) is True
    await mirror.stop()
    left = {file for _, file in double.call(lambda: list(double.double.storage.files))}
    assert left == {file_id(own, "scene-00.mp4")}
    assert double.rows("scenefarm", "videos") == {}


async def test_forget_with_retain_keeps_rows_and_marks_them(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, on_delete="Retain"))
    await mirror.start()
    body = video_request()
    body["status"] = {"phase": "Rendering", "progress": 40}
    mirror.publish(body)
    await settle(mirror)
    assert await mirror.forget(body) is True
    await mirror.stop()
    row = double.rows("scenefarm", "videos")[video_row_id(UID)]
    assert (row["status"], row["phase"]) == ("failed", "Cancelled")  # the original enum has no cancelled
    assert "deleted from Kubernetes" in row["error_message"]


async def test_forget_gives_up_in_bounded_time_when_appwrite_is_down(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    double.faults.outage(60)
    started = time.monotonic()
    assert await mirror.forget(video_request(), timeout=1.0) is False
    assert time.monotonic() - started < 3
    await mirror.stop(timeout=0.5)


async def test_the_api_key_never_shows_in_logs_or_states(
    double: AppwriteDoubleThread, config: AppwriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mirror = AppwriteMirror(config)
    await mirror.start()
    double.faults.outage(0.3, kind="reset")
    mirror.publish(video_request())
    await asyncio.sleep(0.2)
    states = [mirror.state_for(UID)]
    await settle(mirror)
    await mirror.stop()
    bad = AppwriteMirror(with_(config, api_key=API_KEY + "-wrong"))
    await bad.start(wait_seconds=1)
    bad.publish(video_request())
    await asyncio.sleep(0.3)
    states.append(bad.state_for(UID))
    assert await bad.forget(video_request(), timeout=1) is False
    await bad.stop(timeout=0.5)
    assert any("401" in r.getMessage() or "Invalid API key" in r.getMessage() for r in caplog.records)
    assert API_KEY not in caplog.text
    assert all(API_KEY not in s.message for s in states), states
    assert API_KEY not in repr(config)


async def test_publish_from_a_sync_handler_thread_wakes_the_flusher(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(config)
    await mirror.start()
    *_, final = lifecycle(scenes=2)
    await asyncio.to_thread(mirror.publish, final)
    await settle(mirror)
    await mirror.stop()
    assert mirrored(double, final) == expected(final)


async def test_the_live_eta_reaches_the_video_row_although_the_reconcile_never_publishes_it(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = AppwriteMirror(with_(config, coalesce_seconds=0.05))
    await mirror.start()
    body = video_request()
    body["status"] = {"phase": "Rendering", "progress": 10}
    mirror.publish(body)  # what the reconcile publishes: no ETA (another handler patches it)
    live = {**body, "status": {**body["status"], "estimatedCompletionTime": "2026-11-25T10:04:00Z"}}
    mirror.note_live(live)
    await settle(mirror)
    row = double.rows("scenefarm", "videos")[video_row_id(UID)]
    assert row["eta"] == "2026-11-25T10:04:00Z"
    body["status"] = {"phase": "Rendering", "progress": 50}
    mirror.publish(body)  # the next reconcile keeps the ETA it does not know about
    await settle(mirror)
    assert double.rows("scenefarm", "videos")[video_row_id(UID)]["eta"] == "2026-11-25T10:04:00Z"
    body["status"] = {"phase": "Succeeded", "progress": 100}
    mirror.publish(body)
    mirror.note_live({**body, "status": {**body["status"], "estimatedCompletionTime": "stale"}})
    await mirror.stop()
    assert double.rows("scenefarm", "videos")[video_row_id(UID)]["eta"] is None  # finished: no ETA


# ---- a user's request row is written and deleted only by the request the intake made from it ----

ALICE_ROW = "6750c0ffee12345"
ALICE_SCENES = ["s-aaaaaaaaaaaaaaaaaaaaaaaa-00", "s-aaaaaaaaaaaaaaaaaaaaaaaa-01"]
ALICE = ('read("user:alice")', 'update("user:alice")')
MALLORY_UID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"


def alices_rows(config: AppwriteConfig) -> None:
    """Alice's request row as the page made it and the intake accepted it, with her scene rows."""
    tables = TablesDB(make_client(config))
    tables.create_row(
        "scenefarm", "videos", ALICE_ROW, {"topic": "Alice's", "status": "planning"}, list(ALICE)
    )
    for index, row_id in enumerate(ALICE_SCENES):
        data = {"video_id": ALICE_ROW, "scene_number": index, "status": "rendered"}
        tables.create_row("scenefarm", "scenes", row_id, data, ['read("user:alice")'])


def intake_made(owner: str, uid: str = UID) -> dict:
    """The VideoRequest the intake makes from Alice's row for `owner`, Rendering, as stored."""
    body = intake_request({"$id": ALICE_ROW, "topic": "Newton's laws"}, owner, "scenefarm-web", Limits())
    body["metadata"] |= {"uid": uid, "creationTimestamp": "2026-11-25T10:00:00Z"}
    body["status"] = {"phase": "Rendering", "progress": 40, "scenes": [{"index": 0, "phase": "Running"}]}
    return body


def hijack(how: str) -> dict:
    """Mallory's VideoRequest naming Alice's row."""
    body = intake_made("mallory", MALLORY_UID)
    if how == "from another namespace":
        body["metadata"] |= {"namespace": "default", "name": "hijack"}
    elif how == "in the intake namespace, another name":
        body["metadata"]["name"] = "hijack"
    elif how == "in the intake namespace, no intake labels":
        body["metadata"]["labels"] = {}
    return body


async def published_beside_alices_rows(config: AppwriteConfig, body: dict) -> AppwriteMirror:
    mirror = AppwriteMirror(with_(config, intake_namespace="scenefarm-web"))
    await mirror.start()
    alices_rows(config)
    mirror.publish(body)
    await asyncio.sleep(0.5)  # several flushes
    return mirror


@pytest.mark.parametrize(
    "how",
    [
        "from another namespace",
        "in the intake namespace, another name",
        "in the intake namespace, no intake labels",
        "made by the intake for another user",  # owner mismatch: the row is Alice's, the request Mallory's
    ],
)
async def test_a_request_cannot_take_over_or_delete_another_users_row_by_naming_it(
    double: AppwriteDoubleThread, config: AppwriteConfig, how: str
) -> None:
    body = hijack(how)
    mirror = await published_beside_alices_rows(config, body)
    rows = double.rows("scenefarm", "videos")
    assert rows[ALICE_ROW]["$permissions"] == list(ALICE) and rows[ALICE_ROW]["topic"] == "Alice's"
    assert rows[ALICE_ROW]["status"] == "planning" and rows[ALICE_ROW]["k8s_uid"] is None
    if how == "made by the intake for another user":
        state = mirror.state_for(MALLORY_UID)
        assert not state.synced and "is another user's" in state.message
        assert set(rows) == {ALICE_ROW}  # refused its row: not mirrored at all
        assert mirror.idle  # nothing left waiting to be written
    else:  # no web request: mirrored like any request, into a row of its own
        await settle(mirror, MALLORY_UID)
        own = double.rows("scenefarm", "videos")[video_row_id(MALLORY_UID)]
        assert own["$permissions"] == ['read("user:mallory")'] and own["k8s_uid"] == MALLORY_UID
    assert await mirror.forget(body) is True
    await mirror.stop()
    assert ALICE_ROW in double.rows("scenefarm", "videos")
    assert sorted(double.rows("scenefarm", "scenes")) == ALICE_SCENES
    assert video_row_id(MALLORY_UID) not in double.rows("scenefarm", "videos")


async def test_the_request_the_intake_made_from_a_row_still_mirrors_into_it_and_deletes_it(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    body = intake_made("alice")
    mirror = await published_beside_alices_rows(config, body)
    await settle(mirror)
    row = double.rows("scenefarm", "videos")[ALICE_ROW]
    assert (row["status"], row["progress"], row["k8s_uid"]) == ("rendering", 40, UID)
    assert row["$permissions"] == list(ALICE)
    assert video_row_id(UID) not in double.rows("scenefarm", "videos")
    assert mirror.state_for(UID).row_id == ALICE_ROW
    assert await mirror.forget(body) is True
    await mirror.stop()
    assert double.rows("scenefarm", "videos") == {}
    assert sorted(double.rows("scenefarm", "scenes")) == ALICE_SCENES  # another request's scene ids stay


async def test_with_retain_a_request_naming_another_users_row_does_not_mark_it(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    mirror = await published_beside_alices_rows(
        with_(config, on_delete="Retain"), hijack("from another namespace")
    )
    assert await mirror.forget(hijack("from another namespace")) is True
    assert await mirror.forget(hijack("made by the intake for another user")) is True
    await mirror.stop()
    row = double.rows("scenefarm", "videos")[ALICE_ROW]
    assert (row["status"], row["error_message"], row["phase"]) == ("planning", None, None)
