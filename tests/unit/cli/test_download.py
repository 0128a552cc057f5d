"""`scenefarm download`: what it fetches, from the Appwrite double with the real SDK, and that a
file that does not match the status never lands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from appwrite.services.storage import Storage

from scenefarm_cli.errors import Forbidden, NotFound, UsageError
from scenefarm_cli.fetch import appwrite as appwrite_fetch
from scenefarm_cli.fetch.download import _destination, target
from scenefarm_cli.fetch.volume import Store, pod_manifest
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_operator.web import AppwriteConfig
from scenefarm_operator.web.calls import make_client

API_KEY = "sk-test-7f3a9b2c1d4e5f60718293a4b5c6d7e8"  # the double fixture's key (conftest)


def request(status):
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "newtons-laws", "namespace": "default", "uid": "1a2b3c4d-0000"},
        "status": status,
    }


def test_the_final_video_is_what_the_status_output_names() -> None:
    output = {"uri": "volume:default/newtons-laws-1a2b3c4d/video.mp4", "sha256": "ab" * 32}
    got = target(request({"phase": "Succeeded", "output": output}), None)
    assert (got.uri, got.sha256, got.default_file) == (output["uri"], output["sha256"], "newtons-laws.mp4")


def test_a_scene_video_is_chosen_by_index_or_name() -> None:
    scenes = [{"index": 1, "name": "cart", "phase": "Succeeded", "artifact": "volume:d/x/scene-01.mp4"}]
    for selector in ("1", "cart"):
        got = target(request({"phase": "Rendering", "scenes": scenes}), selector)
        assert (got.uri, got.default_file) == ("volume:d/x/scene-01.mp4", "newtons-laws-scene-01.mp4")


def test_the_subtitles_are_what_the_status_output_names_with_their_digest() -> None:
    output = {
        "uri": "volume:d/x/video.mp4",
        "subtitles": "volume:d/x/video.vtt",
        "subtitlesSha256": "cd" * 32,
    }
    got = target(request({"phase": "Succeeded", "output": output}), None, subtitles=True)
    assert (got.uri, got.sha256, got.default_file) == ("volume:d/x/video.vtt", "cd" * 32, "newtons-laws.vtt")
    with pytest.raises(NotFound, match="has no subtitles"):
        target(
            request({"phase": "Succeeded", "output": {"uri": "volume:d/x/video.mp4"}}), None, subtitles=True
        )


def test_no_video_yet_says_so_and_how_to_follow_it() -> None:
    with pytest.raises(NotFound, match=r"has no video \(phase Rendering\); follow it with: scenefarm watch"):
        target(request({"phase": "Rendering"}), None)
    with pytest.raises(NotFound, match=r"has no video \(phase Failed\): scene 1 failed"):
        target(request({"phase": "Failed", "message": "scene 1 failed"}), None)
    with pytest.raises(NotFound, match="has no scene '7'"):
        target(request({"phase": "Rendering", "scenes": []}), "7")


def test_the_helper_pod_is_restricted_read_only_and_owned_by_the_request() -> None:
    pod = pod_manifest(request({}), Store(claim="artifacts-rwx", image="renderer:1"))
    spec, container = pod["spec"], pod["spec"]["containers"][0]
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "1a2b3c4d-0000"
    assert spec["volumes"] == [
        {"name": "artifacts", "persistentVolumeClaim": {"claimName": "artifacts-rwx", "readOnly": True}}
    ]
    assert container["volumeMounts"][0]["readOnly"] is True
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert spec["activeDeadlineSeconds"] > 0


def test_a_file_is_only_put_in_place_when_committed(tmp_path: Path) -> None:
    dest = tmp_path / "video.mp4"
    with _destination(str(dest)) as (sink, _commit):
        sink.write(b"half")
    assert not dest.exists() and list(tmp_path.iterdir()) == []
    with _destination(str(dest)) as (sink, commit):
        sink.write(b"whole")
        commit()
    assert dest.read_bytes() == b"whole"
    with pytest.raises(UsageError, match="is a directory"), _destination(str(tmp_path)):
        pass


def test_an_appwrite_view_url_names_endpoint_project_bucket_and_file() -> None:
    uri = "http://127.0.0.1:5/v1/storage/buckets/videos/files/f-abc/view?project=scenefarm"
    assert appwrite_fetch.is_appwrite_uri(uri)
    assert not appwrite_fetch.is_appwrite_uri("volume:default/x/video.mp4")
    assert appwrite_fetch.parse(uri) == appwrite_fetch.FileRef(
        "http://127.0.0.1:5/v1", "scenefarm", "videos", "f-abc"
    )


def test_a_video_comes_out_of_appwrite_whole_with_the_sdk(
    double: AppwriteDoubleThread, config: AppwriteConfig
) -> None:
    storage = Storage(make_client(config))
    storage.create_bucket("videos", "videos", permissions=[], file_security=True)
    content = bytes(range(256)) * 4000  # ~1 MiB
    from appwrite.input_file import InputFile

    storage.create_file("videos", "f-video", InputFile.from_bytes(content, "video.mp4"), [])
    uri = f"{double.endpoint}/storage/buckets/videos/files/f-video/view?project={config.project}"
    got = appwrite_fetch.download(appwrite_fetch.parse(uri), appwrite_fetch.Credentials(key=API_KEY))
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()

    missing = appwrite_fetch.parse(uri.replace("f-video", "f-none"))
    with pytest.raises(NotFound, match="f-none is not in Appwrite bucket videos"):
        appwrite_fetch.download(missing, appwrite_fetch.Credentials(key=API_KEY))
    with pytest.raises(Forbidden, match="Appwrite refused access"):
        appwrite_fetch.download(appwrite_fetch.parse(uri), appwrite_fetch.Credentials(key="sk-wrong"))
