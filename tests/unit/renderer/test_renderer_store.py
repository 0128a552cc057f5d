"""The volume artifact store and the store factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenefarm_renderer.errors import TransientProblem
from scenefarm_renderer.store import VolumeStore, open_store


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
