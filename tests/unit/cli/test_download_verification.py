"""A download that does not match the status never lands; one that does lands whole."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from scenefarm_cli.errors import IntegrityError
from scenefarm_cli.fetch import download
from scenefarm_cli.output import Output

CONTENT = b"\x00\x00\x00\x18ftypmp42 pretend video"


def fake_request(sha: str) -> dict:
    return {
        "metadata": {"name": "newtons-laws", "namespace": "default"},
        "status": {
            "phase": "Succeeded",
            "output": {"uri": "volume:default/newtons-laws-1/video.mp4", "sha256": sha},
        },
    }


@pytest.fixture
def serve(monkeypatch):
    def install(sha: str) -> None:
        monkeypatch.setattr(download, "get", lambda _conn, _name: fake_request(sha))
        monkeypatch.setattr(download, "_fetch", lambda _conn, _request, _uri, _options, sink: sink(CONTENT))

    return install


def test_a_matching_download_lands_and_says_it_was_verified(serve, tmp_path: Path) -> None:
    serve(hashlib.sha256(CONTENT).hexdigest())
    err = io.StringIO()
    target = tmp_path / "video.mp4"
    assert (
        download.run(
            None, "newtons-laws", download.Options(output=str(target)), Output.create(io.StringIO(), err)
        )
        == 0
    )  # type: ignore[arg-type]
    assert target.read_bytes() == CONTENT
    assert (
        err.getvalue()
        == f"the video of newtons-laws: {len(CONTENT)} bytes -> {target} (sha256 verified against the status)\n"
    )


def test_a_mismatch_is_exit_7_and_leaves_nothing(serve, tmp_path: Path) -> None:
    serve("0" * 64)
    target = tmp_path / "video.mp4"
    with pytest.raises(
        IntegrityError, match=r"sha256 .* but the status says 0{64}; nothing was written"
    ) as caught:
        download.run(
            None,
            "newtons-laws",
            download.Options(output=str(target)),
            Output.create(io.StringIO(), io.StringIO()),
        )  # type: ignore[arg-type]
    assert caught.value.exit_code == 7
    assert list(tmp_path.iterdir()) == []


def test_a_tampered_video_sends_not_one_byte_to_standard_output(serve, capfdbinary) -> None:
    serve("0" * 64)
    with pytest.raises(IntegrityError, match="nothing was written"):
        download.run(
            None, "newtons-laws", download.Options(output="-"), Output.create(io.StringIO(), io.StringIO())
        )  # type: ignore[arg-type]
    assert capfdbinary.readouterr().out == b""


def test_a_verified_video_reaches_standard_output_whole(serve, capfdbinary) -> None:
    serve(hashlib.sha256(CONTENT).hexdigest())
    assert (
        download.run(
            None, "newtons-laws", download.Options(output="-"), Output.create(io.StringIO(), io.StringIO())
        )
        == 0
    )  # type: ignore[arg-type]
    assert capfdbinary.readouterr().out == CONTENT


def scene_request(sha: str | None) -> dict:
    scene = {"index": 0, "name": "intro", "phase": "Succeeded", "artifact": "volume:default/x/scene-00.mp4"}
    return {
        "metadata": {"name": "newtons-laws", "namespace": "default"},
        "status": {"phase": "Succeeded", "scenes": [scene | ({"sha256": sha} if sha else {})]},
    }


@pytest.mark.parametrize("recorded", ["0" * 64, None])
def test_a_scene_whose_pod_is_gone_is_verified_against_the_status_or_refused(
    monkeypatch, tmp_path: Path, recorded
) -> None:
    monkeypatch.setattr(download, "get", lambda _conn, _name: scene_request(recorded))
    monkeypatch.setattr(download, "_fetch", lambda _conn, _request, _uri, _options, sink: sink(CONTENT))
    monkeypatch.setattr(download, "scene_sha256", lambda *_: None)  # the render Pod is gone
    target = tmp_path / "scene.mp4"
    with pytest.raises(IntegrityError, match="nothing was written"):
        download.run(
            None,
            "newtons-laws",
            download.Options(output=str(target), scene="0"),
            Output.create(io.StringIO(), io.StringIO()),
        )  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", [".", "..", "a/b", "UPPER", ""])
def test_a_name_that_is_no_videorequest_name_is_a_usage_error(name: str) -> None:
    from scenefarm_cli.errors import UsageError

    with pytest.raises(UsageError, match="is not a VideoRequest name"):
        download.run(None, name, download.Options(), Output.create(io.StringIO(), io.StringIO()))  # type: ignore[arg-type]
