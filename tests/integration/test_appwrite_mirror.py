"""The Appwrite mirror and the Appwrite artifact store on the dev cluster, with the real
`appwrite` SDK against the local double (TablesDB rows, Storage files, outages)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.resources.core_v1 import Event, Pod

from scenefarm_contract.appwrite_sdk import file_id
from scenefarm_contract.renderer import VIDEO_KEY, artifact_prefix
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.web.rows import scene_row_id, video_row_id

from .conftest import APPWRITE_KEY, create, is_deleted, status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration

ORDER = ["queued", "planning", "rendering", "completed"]  # the original schema's enum


@pytest.fixture(scope="module")
def aenv(tmp_path_factory: pytest.TempPathFactory, appwrite: AppwriteDoubleThread) -> Iterator[DevEnv]:
    settings = {
        "SCENEFARM_APPWRITE_ENDPOINT": appwrite.endpoint,
        "SCENEFARM_APPWRITE_PROJECT": appwrite.double.project,
        "SCENEFARM_APPWRITE_API_KEY": APPWRITE_KEY,
        "SCENEFARM_APPWRITE_CREDENTIALS_SECRET": "scenefarm-appwrite",
    }
    with DevEnv(tmp_path_factory.mktemp("appwrite"), operator_env=settings) as env:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "scenefarm-appwrite", "namespace": "default"},
            "stringData": {
                "endpoint": appwrite.endpoint,
                "project": appwrite.double.project,
                "apiKey": APPWRITE_KEY,
                "bucket": "videos",
            },
        }
        env.client().create(codecs.from_dict(secret))
        env.start_operator()
        yield env


@pytest.fixture(scope="module")
def aclient(aenv: DevEnv) -> Client:
    return aenv.client()


def video_history(appwrite: AppwriteDoubleThread, uid: str) -> list[dict[str, Any]]:
    return appwrite.row_history("scenefarm", "videos", video_row_id(uid))


def uid_of(client: Client, name: str) -> str:
    return str(client.get(VideoRequest, name, namespace="default").metadata.uid)


def synced_condition(status: dict[str, Any]) -> str | None:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == "AppwriteSynced"), None)


def test_rows_follow_the_request_through_its_lifecycle(aclient, appwrite):
    create(aclient, video_request("mirrored", [("a", "self.wait(0.3)"), ("b", "self.wait(0.3)")]))
    status = wait_terminal(aclient, "mirrored")
    assert status["phase"] == "Succeeded", status.get("message")
    uid = uid_of(aclient, "mirrored")

    def final_row() -> dict[str, Any] | None:
        rows = video_history(appwrite, uid)
        return rows[-1] if rows and rows[-1]["status"] == "completed" else None

    final = wait_for(final_row, 20, "the completed row")
    history = video_history(appwrite, uid)
    statuses = [r["status"] for r in history]
    seen = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    assert seen == sorted(seen, key=ORDER.index), seen
    progress = [r["progress"] for r in history]
    assert progress == sorted(progress) and progress[-1] == 100
    assert final["output_uri"] == status["output"]["uri"]  # Volume store: no Storage file id
    assert final["combined_video_url"] is None
    assert (final["k8s_name"], final["k8s_uid"], final["scene_count"]) == ("mirrored", uid, 2)
    scenes = appwrite.rows("scenefarm", "scenes")
    for index in (0, 1):
        row = scenes[scene_row_id(uid, index)]
        assert (row["status"], row["video_id"], row["scene_number"]) == ("rendered", video_row_id(uid), index)
        assert row["artifact_uri"] == status["scenes"][index]["artifact"]
    assert status["appwrite"] == {
        "rowId": video_row_id(uid),
        "synced": True,
        "message": status["appwrite"]["message"],
    }
    assert synced_condition(status) == "True"


def test_appwrite_outage_never_holds_the_video_back_and_rows_catch_up(aclient, appwrite):
    appwrite.faults.outage(6.0, kind="503")
    create(aclient, video_request("outage", [("a", "self.wait(0.3)")]))
    seen: set[str | None] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = status_of(aclient, "outage")
        seen.add(synced_condition(status))
        if status.get("phase") == "Succeeded" and synced_condition(status) == "True":
            break
        time.sleep(0.2)
    assert status["phase"] == "Succeeded"
    assert {"False", "True"} <= seen  # went unsynced during the outage, synced after it
    uid = uid_of(aclient, "outage")
    row = wait_for(lambda: (video_history(appwrite, uid) or [None])[-1], 20, "the row after the outage")
    wait_for(lambda: video_history(appwrite, uid)[-1]["status"] == "completed", 20, "the final row")
    assert video_history(appwrite, uid)[-1]["output_uri"] == status["output"]["uri"]
    assert row is not None


def test_appwrite_store_uploads_scene_and_final_videos_with_owner_permission(aclient, appwrite):
    body = video_request("stored", [("a", "self.wait(0.3)"), ("b", "self.wait(0.3)")])
    body["spec"] |= {"output": {"store": "Appwrite"}, "owner": {"appwriteUserId": "user-42"}}
    create(aclient, body)
    status = wait_terminal(aclient, "stored")
    assert status["phase"] == "Succeeded", status.get("message")

    prefix = artifact_prefix("default", "stored", uid_of(aclient, "stored"))
    fid = file_id(prefix, VIDEO_KEY)
    assert status["output"]["uri"].startswith(appwrite.endpoint) and fid in status["output"]["uri"]
    content = appwrite.call(lambda: appwrite.double.file_content("videos", fid))
    assert content is not None and hashlib.sha256(content).hexdigest() == status["output"]["sha256"]
    stored = appwrite.call(lambda: appwrite.double.storage.files[("videos", fid)])
    assert 'read("user:user-42")' in stored.permissions
    row = wait_for(
        lambda: (video_history(appwrite, uid_of(aclient, "stored")) or [{}])[-1].get("combined_video_url"),
        20,
        "the file id in the row",
    )
    assert row == fid  # what the Web SDK's getFileView/getFileDownload take


def test_no_credential_in_logs_status_events_or_render_pod_commands(aenv, aclient):
    log = (aenv.state_dir / "operator.log").read_text()
    assert APPWRITE_KEY not in log
    for vr in aclient.list(VideoRequest, namespace="default"):
        assert APPWRITE_KEY not in json.dumps(vr.to_dict() if hasattr(vr, "to_dict") else dict(vr))
    for ev in aclient.list(Event, namespace="default"):
        assert APPWRITE_KEY not in (ev.message or "")
    pods = list(aclient.list(Pod, namespace="default"))
    assert pods
    for pod in pods:
        for container in pod.spec.containers:
            assert APPWRITE_KEY not in " ".join([*(container.command or []), *(container.args or [])])
            for var in container.env or []:
                assert var.value is None or APPWRITE_KEY not in var.value


def test_deleting_a_request_removes_its_rows(aclient, appwrite):
    create(aclient, video_request("forgotten", [("a", "self.wait(0.2)")]))
    wait_terminal(aclient, "forgotten")
    uid = uid_of(aclient, "forgotten")
    wait_for(lambda: video_row_id(uid) in appwrite.rows("scenefarm", "videos"), 20, "the row")
    aclient.delete(VideoRequest, "forgotten", namespace="default")

    wait_for(lambda: is_deleted(aclient, "forgotten"), 30, "the request to be deleted")
    assert video_row_id(uid) not in appwrite.rows("scenefarm", "videos")
    assert scene_row_id(uid, 0) not in appwrite.rows("scenefarm", "scenes")
