"""A download that does not match the status never lands; one that does lands whole."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from scenefarm_operator.usercli import download
from scenefarm_operator.usercli.errors import IntegrityError
from scenefarm_operator.usercli.output import Output

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
