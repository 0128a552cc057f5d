"""The volume artifact store and the store factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenefarm_renderer.errors import TransientProblem
from scenefarm_renderer.storage.store import VolumeStore, open_store


def test_put_stores_under_the_prefix_and_returns_a_root_relative_uri(tmp_path: Path) -> None:
    local = tmp_path / "local.mp4"
    local.write_bytes(b"video bytes")
    store = VolumeStore(tmp_path / "store", "default/intro-0123abcd")

    uri = store.put(local, "scene-03.mp4")

    assert uri == "volume:default/intro-0123abcd/scene-03.mp4"
    assert (tmp_path / "store/default/intro-0123abcd/scene-03.mp4").read_bytes() == b"video bytes"
    assert store.exists("scene-03.mp4") and not store.exists("scene-04.mp4")


def test_put_replaces_an_existing_artifact_without_leaving_temporary_files(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path, "ns/a-1")
    for content in (b"first", b"second attempt"):
        local = tmp_path / "local"
        local.write_bytes(content)
        store.put(local, "scene-00.mp4")

    assert sorted(p.name for p in (tmp_path / "ns/a-1").iterdir()) == ["scene-00.mp4"]
    assert (tmp_path / "ns/a-1/scene-00.mp4").read_bytes() == b"second attempt"


def test_get_copies_an_artifact_and_names_a_missing_one(tmp_path: Path) -> None:
    store = VolumeStore(tmp_path, "ns/a-1")
    (tmp_path / "ns/a-1").mkdir(parents=True)
    (tmp_path / "ns/a-1/scene-00.mp4").write_bytes(b"x")

    store.get("scene-00.mp4", tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"x"
    with pytest.raises(TransientProblem, match=r"scene-01\.mp4 is missing"):
        store.get("scene-01.mp4", tmp_path / "copy")


def test_open_store_builds_a_volume_store_and_refuses_unknown_kinds(tmp_path: Path) -> None:
    store = open_store("volume", str(tmp_path), "ns/a-1")

    assert isinstance(store, VolumeStore) and store.path("k") == tmp_path / "ns/a-1/k"
    with pytest.raises(ValueError, match="unknown artifact store 's3'"):
        open_store("s3", str(tmp_path), "ns/a-1")


def test_a_store_the_pod_cannot_write_is_an_environment_error_naming_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root-owned ReadWriteMany export refuses the render user's files (EACCES)."""
    import errno
    import os

    from scenefarm_renderer.errors import EnvironmentProblem
    from scenefarm_renderer.storage import store as store_mod

    def refused(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(store_mod.tempfile, "mkstemp", refused)
    with pytest.raises(EnvironmentProblem) as caught:
        VolumeStore(tmp_path, "default/intro").check_writable()
    text = caught.value.message
    assert "not writable" in text and "Permission denied" in text and "fsGroup" in text
    assert f"gid {os.getgid()}" in text and "EFS access point" in text


def test_the_renderer_checks_the_store_before_any_work(tmp_path: Path) -> None:
    """The store cannot take a directory (here its root is a file): exit class 20 at start,
    before any input is read."""
    from scenefarm_contract.renderer import combine_argv

    from .conftest import PREFIX, run_renderer

    root = tmp_path / "store"
    root.write_text("not a directory")
    run = run_renderer(
        combine_argv(scene_keys=["scene-00.mp4"], prefix=PREFIX, store="volume", store_root=str(root)),
        tmp_path,
    )
    assert run.returncode == 20, run.stderr
    tail = run.message.errorTail or ""
    assert "artifact store is not writable" in tail
    assert "missing" not in tail  # it failed before looking at any input


def test_clean_removes_the_prefix_but_what_others_reuse_and_the_orphaned_reuses(tmp_path: Path) -> None:
    from scenefarm_contract.renderer import clean_argv

    from .conftest import run_renderer

    root = tmp_path / "store"
    mine, gone, alive = (
        root / "default/intro-aaaaaaaa",
        root / "default/gone-cccccccc",
        root / "default/alive-dddd",
    )
    for directory in (mine / "chunks", gone, alive):
        directory.mkdir(parents=True)
    for path in (mine / "scene-00.mp4", mine / "scene-01.mp4", mine / "video.mp4", mine / "chunks/c0.mp4",
                 gone / "scene-00.mp4", alive / "scene-00.mp4"):  # fmt: skip
        path.write_bytes(b"x")
    argv = clean_argv(prefix="default/intro-aaaaaaaa", store="volume", store_root=str(root), keep=["scene-01.mp4"],
                      also=["default/gone-cccccccc/scene-00.mp4"], keys=[])  # fmt: skip
    run = run_renderer(argv, tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in mine.rglob("*")) == ["scene-01.mp4"]
    assert not (gone / "scene-00.mp4").exists() and (alive / "scene-00.mp4").exists()
    again = run_renderer(argv, tmp_path)  # a retried Pod finds less to do, and that is fine
    assert again.returncode == 0
