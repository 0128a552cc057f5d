"""The Appwrite artifact store with the real SDK against the double: chunked uploads verified."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from appwrite.services.storage import Storage

from scenefarm_contract.appwrite_sdk import file_id
from scenefarm_contract.renderer import ExitClass
from scenefarm_devkit.appwrite_double import AppwriteDoubleThread, Fault
from scenefarm_operator.web import AppwriteConfig
from scenefarm_operator.web.calls import make_client
from scenefarm_renderer.storage.appwrite_store import AppwriteSetupError, AppwriteStore, AppwriteStoreError

API_KEY = "sk-test-7f3a9b2c1d4e5f60718293a4b5c6d7e8"  # the double fixture's key (conftest)
MIB = 1024 * 1024
PREFIX = "default/newton-3f2a9c1e"


@pytest.fixture
def store(double: AppwriteDoubleThread, config: AppwriteConfig) -> AppwriteStore:
    Storage(make_client(config)).create_bucket(
        "videos", "videos", permissions=[], file_security=True, maximum_file_size=100 * MIB
    )
    env = {
        "APPWRITE_ENDPOINT": double.endpoint,
        "APPWRITE_PROJECT_ID": config.project,
        "APPWRITE_API_KEY": API_KEY,
        "APPWRITE_BUCKET_ID": "videos",
        "SCENEFARM_OWNER_USER_ID": "user-42",
    }
    built = AppwriteStore.from_env(PREFIX, env)
    built.backoff_seconds = 0.01
    return built


def stored(double: AppwriteDoubleThread, key: str) -> bytes | None:
    return double.call(lambda: double.double.file_content("videos", file_id(PREFIX, key)))


def test_file_ids_are_deterministic_valid_and_distinct() -> None:
    assert file_id(PREFIX, "scene-01.mp4") == file_id(PREFIX + "/", "scene-01.mp4")
    assert file_id(PREFIX, "scene-01.mp4") != file_id(PREFIX, "scene-02.mp4")
    assert file_id(PREFIX, "video.mp4") != file_id("default/newton-00000000", "video.mp4")
    assert len(file_id(PREFIX, "video.mp4")) <= 36


def test_a_small_file_is_stored_with_owner_read_and_a_view_url(
    store: AppwriteStore, double: AppwriteDoubleThread, tmp_path: Path
) -> None:
    local = tmp_path / "scene-00.mp4"
    local.write_bytes(b"small video")
    uri = store.put(local, "scene-00.mp4")
    fid = file_id(PREFIX, "scene-00.mp4")
    assert uri == f"{double.endpoint}/storage/buckets/videos/files/{fid}/view?project={store.project}"
    assert stored(double, "scene-00.mp4") == b"small video"
    permissions = double.call(lambda: double.double.storage.files[("videos", fid)].permissions)
    assert permissions == ['read("user:user-42")']
    assert store.exists("scene-00.mp4")
    assert not store.exists("scene-01.mp4")


def test_a_12_mib_upload_with_a_dropped_chunk_ends_complete_and_identical(
    store: AppwriteStore, double: AppwriteDoubleThread, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB)
    local = tmp_path / "video.mp4"
    local.write_bytes(data)
    double.inject(Fault(path="/files$", method="POST", drop_chunk=True, chunk_index=1))
    store.put(local, "video.mp4")
    uploads = [r for r in double.requests() if r.method == "POST" and r.path.endswith("/files")]
    assert len(uploads) == 6, "3 chunks, then all 3 again after the incomplete first upload"
    assert stored(double, "video.mp4") == data
    fetched = tmp_path / "fetched.mp4"
    store.get("video.mp4", fetched)
    assert fetched.read_bytes() == data


def test_a_chunk_answered_with_a_server_error_makes_the_upload_start_over(
    store: AppwriteStore, double: AppwriteDoubleThread, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB)
    local = tmp_path / "video.mp4"
    local.write_bytes(data)
    double.inject(Fault(path="/files$", method="POST", status=500, chunk_index=2))
    store.put(local, "video.mp4")
    assert stored(double, "video.mp4") == data


def test_an_upload_that_never_completes_fails_after_bounded_attempts(
    store: AppwriteStore, double: AppwriteDoubleThread, tmp_path: Path
) -> None:
    local = tmp_path / "video.mp4"
    local.write_bytes(os.urandom(6 * MIB))
    double.inject(Fault(path="/files$", method="POST", drop_chunk=True, chunk_index=1, times=None))
    with pytest.raises(AppwriteStoreError, match="incomplete after 3 attempts"):
        store.put(local, "video.mp4")
    assert not store.exists("video.mp4")


def test_putting_a_key_again_replaces_its_content(
    store: AppwriteStore, double: AppwriteDoubleThread, tmp_path: Path
) -> None:
    local = tmp_path / "scene.mp4"
    local.write_bytes(b"attempt 1")
    store.put(local, "scene-00.mp4")
    local.write_bytes(b"attempt 2, longer")
    store.put(local, "scene-00.mp4")
    assert stored(double, "scene-00.mp4") == b"attempt 2, longer"


def test_getting_a_missing_artifact_is_a_transient_store_problem(
    store: AppwriteStore, tmp_path: Path
) -> None:
    with pytest.raises(AppwriteStoreError, match="missing") as raised:
        store.get("scene-09.mp4", tmp_path / "x.mp4")
    assert raised.value.exit_class == ExitClass.TRANSIENT
    assert not (tmp_path / "x.mp4").exists()


def test_missing_settings_are_named_and_the_key_never_shows(
    tmp_path: Path, double: AppwriteDoubleThread
) -> None:
    with pytest.raises(AppwriteSetupError, match="APPWRITE_ENDPOINT, APPWRITE_BUCKET_ID"):
        AppwriteStore.from_env(PREFIX, {"APPWRITE_PROJECT_ID": "p", "APPWRITE_API_KEY": API_KEY})
    wrong = AppwriteStore(
        endpoint=double.endpoint,
        project="scenefarm-test",
        api_key=API_KEY + "x",
        bucket="videos",
        prefix=PREFIX,
    )
    local = tmp_path / "a.mp4"
    local.write_bytes(b"x")
    with pytest.raises(AppwriteSetupError) as raised:
        wrong.put(local, "a.mp4")
    assert "401" in str(raised.value)
    assert raised.value.exit_class == ExitClass.ENVIRONMENT
    assert API_KEY not in str(raised.value) and API_KEY not in repr(wrong)


def test_an_unreachable_server_is_a_storage_error(tmp_path: Path) -> None:
    store = AppwriteStore(
        endpoint="http://127.0.0.1:9/v1",
        project="p",
        api_key=API_KEY,
        bucket="videos",
        prefix=PREFIX,
        backoff_seconds=0.01,
    )
    with pytest.raises(AppwriteStoreError, match="no answer") as raised:
        store.exists("video.mp4")
    assert raised.value.exit_class == ExitClass.TRANSIENT
    assert API_KEY not in str(raised.value)
