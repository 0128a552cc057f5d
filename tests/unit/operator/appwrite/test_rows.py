"""The pure mapping from a VideoRequest body to the rows that mirror it."""

from __future__ import annotations

import re

import pytest

from scenefarm_devkit.appwrite_double.scripted import UID, lifecycle, video_request
from scenefarm_operator.web import intake
from scenefarm_operator.web.layout import SCENE_STATUSES, VIDEO_STATUSES
from scenefarm_operator.web.rows import desired_rows, scene_row_id, video_row_id

APPWRITE_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,35}$")


def test_row_ids_are_valid_appwrite_ids_derived_from_the_uid() -> None:
    assert video_row_id(UID) == "v-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b"
    assert scene_row_id(UID, 7) == "s-3f2a9c1e5b7d4e8f9a0b1c2d-07"
    assert scene_row_id(UID, 123) == "s-3f2a9c1e5b7d4e8f9a0b1c2d-123"
    for row_id in (video_row_id(UID), scene_row_id(UID, 0), scene_row_id(UID, 999)):
        assert APPWRITE_ID.match(row_id), row_id


def test_objects_with_different_uids_get_different_rows() -> None:
    other = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
    assert video_row_id(UID) != video_row_id(other)
    assert scene_row_id(UID, 1) != scene_row_id(other, 1)


def test_a_body_without_a_uid_is_refused() -> None:
    body = video_request()
    del body["metadata"]["uid"]
    with pytest.raises(ValueError, match="uid"):
        desired_rows(body)


def test_a_new_request_is_one_queued_video_row_readable_by_its_owner_only() -> None:
    [video] = desired_rows(video_request())
    assert video.table == "videos"
    assert video.data["status"] == "queued"
    assert video.data["topic"] == "Newton's laws"
    assert video.data["k8s_uid"] == UID
    assert video.data["created_at"] == "2026-11-25T10:00:00Z"
    assert video.permissions == ('read("user:user-42")',)


def test_without_an_owner_rows_carry_no_permissions() -> None:
    [video] = desired_rows(video_request(owner=None))
    assert video.permissions == ()


def test_every_state_of_a_lifecycle_maps_to_statuses_the_tables_accept() -> None:
    for body in lifecycle(scenes=3, heal=1):
        rows = desired_rows(body)
        assert rows[0].data["status"] in VIDEO_STATUSES
        for scene in rows[1:]:
            assert scene.data["status"] in SCENE_STATUSES
            assert scene.data["video_id"] == rows[0].row_id
            assert scene.permissions == rows[0].permissions


def test_the_final_state_has_urls_and_a_finish_time() -> None:
    *_, final = lifecycle(scenes=2)
    video, *scenes = desired_rows(final)
    assert video.data["status"] == "completed"
    assert video.data["progress"] == 100
    assert video.data["combined_video_url"] == f"f-{UID[:8]}-video"  # a file id for the Web SDK
    assert video.data["finished_at"] == "2026-11-25T10:05:00Z"
    assert [s.data["scene_number"] for s in scenes] == [0, 1]
    assert [s.data["video_url"] for s in scenes] == [f"f-{UID[:8]}-scene-00", f"f-{UID[:8]}-scene-01"]
    assert all(s.data["status"] == "rendered" and s.data["code_url"].startswith("f-") for s in scenes)


def test_a_healing_scene_shows_its_error_and_a_failed_request_its_message() -> None:
    healing = next(
        b
        for b in lifecycle(scenes=2, heal=0)
        if b.get("status", {}).get("scenes", [{}])[0].get("phase") == "Healing"
    )
    scene = desired_rows(healing)[1]
    assert scene.data["status"] == "coded"
    assert "NameError" in scene.data["error_message"]
    body = video_request()
    body["status"] = {
        "phase": "Failed",
        "message": "scene 2 failed 3 times",
        "finishedAt": "2026-11-25T10:09:00Z",
    }
    video = desired_rows(body)[0]
    assert (video.data["status"], video.data["error_message"]) == ("failed", "scene 2 failed 3 times")
    assert video.data["finished_at"] == "2026-11-25T10:09:00Z"


def test_values_longer_than_their_column_are_cut_to_fit() -> None:
    body = video_request()
    body["spec"]["topic"] = "x" * 2000
    video = desired_rows(body)[0]
    assert len(video.data["topic"]) == 512
    assert video.data["topic"].endswith("…")


def test_a_finished_three_scene_request_gives_one_video_row_and_a_row_per_scene() -> None:
    *_, final = lifecycle(scenes=3)
    rows = desired_rows(final)
    assert [(r.table, r.row_id, r.data["status"], r.data.get("scene_number")) for r in rows] == [
        ("videos", "v-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b", "completed", None),
        ("scenes", "s-3f2a9c1e5b7d4e8f9a0b1c2d-00", "rendered", 0),
        ("scenes", "s-3f2a9c1e5b7d4e8f9a0b1c2d-01", "rendered", 1),
        ("scenes", "s-3f2a9c1e5b7d4e8f9a0b1c2d-02", "rendered", 2),
    ]
    assert [r.data.get("video_url") for r in rows[1:]] == [f"f-3f2a9c1e-scene-0{i}" for i in range(3)]
    assert (rows[0].data["scene_count"], rows[0].data["current_scene"]) == (3, 2)


def test_the_original_enums_hold_and_the_operator_phase_goes_to_an_extra_column() -> None:
    seen = set()
    for body in lifecycle(scenes=2, heal=1):
        video = desired_rows(body)[0]
        seen.add((video.data["phase"], video.data["status"]))
        assert isinstance(video.data["current_scene"], int | None)
    assert ("Combining", "rendering") in seen
    body = video_request()
    body["status"] = {"phase": "Cancelled", "message": "spec.cancel was set"}
    video = desired_rows(body)[0]
    assert (video.data["status"], video.data["phase"]) == ("failed", "Cancelled")
    assert video.data["error_message"] == "Cancelled: spec.cancel was set"


def test_current_scene_is_the_scene_number_and_stays_true_after_a_failure() -> None:
    body = video_request()
    scenes = [
        {"index": 0, "name": "intro", "phase": "Succeeded", "revision": 1},
        {"index": 1, "name": "laws", "phase": "Running", "revision": 2},
        {"index": 2, "name": "outro", "phase": "Pending"},
    ]
    body["status"] = {"phase": "Rendering", "progress": 40, "currentScene": "laws", "scenes": scenes}
    video, _, laws, outro = desired_rows(body)
    assert video.data["current_scene"] == 1 and video.data["current_scene_name"] == "laws"
    assert laws.data["healed"] is True and laws.data["code_url"] and outro.data["code_url"] is None
    scenes[1] |= {"phase": "Failed", "message": "IndexError: list index out of range", "exitClass": 11}
    body["status"] = {"phase": "Failed", "progress": 40, "message": "scene laws failed", "scenes": scenes}
    video, _, laws, _ = desired_rows(body)
    assert (video.data["current_scene"], video.data["progress"]) == (1, 40)
    assert (laws.data["status"], laws.data["exit_class"]) == ("failed", 11)
    assert "IndexError" in laws.data["error_message"]


def web_request(owner: str = "user-42", namespace: str = "scenefarm-web") -> dict:
    """A VideoRequest exactly as the intake makes it from row 6750c0ffee12345, as stored."""
    row = {"$id": "6750c0ffee12345", "topic": "Newton's laws"}
    body = intake.video_request(row, owner, namespace, intake.Limits())
    body["metadata"] |= {"uid": UID, "creationTimestamp": "2026-11-25T10:00:00Z"}
    return body


def test_a_web_request_mirrors_into_the_row_its_user_created_and_may_update() -> None:
    video, *_ = desired_rows(web_request(), "scenefarm-web")
    assert video.data["status"] == "planning"  # accepted by the intake: not queued again
    assert video.row_id == "6750c0ffee12345"
    assert video.permissions == ('read("user:user-42")', 'update("user:user-42")')


def forged(change: str) -> dict:
    """A request annotated with someone's row that the intake did not make (`change` says how)."""
    body = web_request(owner="mallory")
    metadata = body["metadata"]
    if change == "another namespace":
        metadata["namespace"] = "default"
    elif change == "another name":
        metadata["name"] = "hijack"
    elif change == "no intake label":
        del metadata["labels"]["scenefarm.dev/intake"]
    elif change == "no user label":
        del metadata["labels"]["scenefarm.dev/appwrite-user"]
    elif change == "owner annotation not the spec's owner":
        body["spec"]["owner"] = {"appwriteUserId": "user-42"}
    elif change == "only the row annotation":
        metadata |= {"labels": {}, "annotations": {"scenefarm.dev/appwrite-row": "6750c0ffee12345"}}
    return body


@pytest.mark.parametrize(
    "change",
    [
        "another namespace",
        "another name",
        "no intake label",
        "no user label",
        "owner annotation not the spec's owner",
        "only the row annotation",
    ],
)
def test_a_request_the_intake_did_not_make_keeps_to_its_own_row_whatever_it_is_annotated(change) -> None:
    body = forged(change)
    video, *scenes = desired_rows(
        body | {"status": {"phase": "Rendering", "scenes": [{"index": 0}]}}, "scenefarm-web"
    )
    assert video.row_id == video_row_id(UID) != "6750c0ffee12345"
    assert all(scene.data["video_id"] == video_row_id(UID) for scene in scenes) and scenes
    assert all("update(" not in p for p in video.permissions)  # no cancel flag on a row of its own
    assert desired_rows(body, "scenefarm-web")[0].data["status"] == "queued"  # not taken by the intake


def test_without_an_intake_no_request_is_a_web_request() -> None:
    assert desired_rows(web_request(), "")[0].row_id == video_row_id(UID)
    assert desired_rows(web_request(), "elsewhere")[0].row_id == video_row_id(UID)


def test_volume_uris_are_kept_aside_and_give_no_file_id() -> None:
    body = video_request()
    body["status"] = {"phase": "Succeeded", "output": {"uri": "volume:default/newton-3f2a9c1e/video.mp4"}}
    video = desired_rows(body)[0]
    assert video.data["combined_video_url"] is None
    assert video.data["output_uri"] == "volume:default/newton-3f2a9c1e/video.mp4"


def test_posters_and_the_queue_position_reach_the_rows() -> None:
    from scenefarm_devkit.appwrite_double.scripted import file_url

    *_, final = lifecycle(scenes=2)
    final["status"]["output"]["poster"] = file_url(f"f-{UID[:8]}-poster")
    final["status"]["scenes"][0]["poster"] = file_url(f"f-{UID[:8]}-scene-00-poster")
    video, first, second = desired_rows(final)
    assert video.data["poster_url"] == f"f-{UID[:8]}-poster"
    assert (first.data["poster_url"], second.data["poster_url"]) == (f"f-{UID[:8]}-scene-00-poster", None)
    waiting = video_request(scenes=2)
    waiting["status"] = {"phase": "Rendering", "queuePosition": 3}
    assert desired_rows(waiting)[0].data["queue_position"] == 3
    assert video.data["queue_position"] is None  # finished: no place in a queue


def test_a_finished_scenes_log_tail_reaches_its_row_and_a_running_scene_has_none() -> None:
    *_, final = lifecycle(scenes=2)
    final["status"]["scenes"][0]["logTail"] = "scene 0 (Intro): done: 3 animations, 45 frames, 2.1 s"
    _, first, second = desired_rows(final)
    assert first.data["log_tail"] == "scene 0 (Intro): done: 3 animations, 45 frames, 2.1 s"
    assert second.data["log_tail"] is None


def test_a_stalled_request_carries_its_reason_in_the_row_while_it_lasts() -> None:
    body = video_request(scenes=2)
    why = 'Job newton-s01-a1 cannot start its Pod (Unschedulable): persistentvolumeclaim "x" not found'
    stalled = {"type": "Stalled", "status": "True", "reason": "PodNotStarting", "message": why}
    body["status"] = {
        "phase": "Rendering",
        "estimatedCompletionTime": "2026-11-25T10:01:00Z",
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodNotStarting"}, stalled],
    }
    [video] = desired_rows(body)
    assert video.data["stalled"] == f"PodNotStarting: {why}"
    assert video.data["phase"] == "Rendering"  # still in progress: stalled, not failed
    body["status"]["conditions"][1] = stalled | {"status": "False", "message": "not stalled"}
    assert desired_rows(body)[0].data["stalled"] is None  # moving again: the row says so
    body["status"] |= {"phase": "Failed", "message": "scene 1 failed"}
    body["status"]["conditions"][1] = stalled | {"reason": "SceneFailed", "message": "failed: see Ready"}
    assert desired_rows(body)[0].data["stalled"] is None  # finished: error_message says why
