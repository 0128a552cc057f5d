"""README's quick path, run as written, each line in a new shell that knows nothing of the venv:
`make install` (linking into the home's ~/.local/bin, as for a user who is not root), then
`scenefarm dev up`, `scenefarm submit "Newton's laws" --wait`, `scenefarm download newtons-laws
-o video.mp4`, from an empty home directory (no kubeconfig) to a verified MP4."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from .cli_helpers import BIN, scenefarm

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


REPO = README.parent


def quick_path() -> list[str]:
    """The block's lines, as a person would paste them (comments and all)."""
    block = re.search(r"<!-- quick-path.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its quick-path block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def fresh_shell(line: str, home: Path) -> list[str]:
    """`bash -c LINE` without profile or rc files: PATH as a login shell on Debian gives a user
    whose ~/.local/bin exists, and nothing from the venv. /usr/local/bin is left out: a root
    `make install` on this machine (CI runs one first) links there, and this walk is the non-root
    user's, whose commands come only from ~/.local/bin."""
    return ["env", "-i", f"HOME={home}", f"PATH={home}/.local/bin:/usr/bin:/bin",
            "COLUMNS=80", "LANG=C.UTF-8", "bash", "--noprofile", "--norc", "-c", line]  # fmt: skip


def frames_of(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_the_readme_commands_go_from_nothing_to_a_verified_mp4(tmp_path: Path) -> None:
    install, up_line, submit_line, download_line = quick_path()
    assert shlex.split(install, comments=True) == ["make", "install"]
    assert shlex.split(up_line, comments=True) == ["scenefarm", "dev", "up"]
    assert shlex.split(submit_line, comments=True) == ["scenefarm", "submit", "Newton's laws", "--wait"]
    assert shlex.split(download_line, comments=True) == [
        "scenefarm", "download", "newtons-laws", "-o", "video.mp4"
    ]  # fmt: skip
    home = tmp_path
    # Before the set-up, a new shell has no `scenefarm` (what a new user met: exit 127).
    missing = subprocess.run(fresh_shell("scenefarm --help", home), capture_output=True, check=False)
    assert missing.returncode == 127
    # As a user who is not root: BIN_DIR is what `make install` picks for one (~/.local/bin).
    linked = subprocess.run(
        ["make", "-s", install.split("#")[0].split()[1], f"BIN_DIR={home}/.local/bin"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert linked.returncode == 0, linked.stdout + linked.stderr
    assert f"linked scenefarm and kubectl-scenefarm into {home}/.local/bin" in linked.stdout
    assert (home / ".local" / "bin" / "scenefarm").resolve() == (BIN / "scenefarm").resolve()
    up = subprocess.Popen(fresh_shell(up_line, home), cwd=home, stdout=subprocess.PIPE, text=True)
    try:
        ready = threading.Event()
        lines: list[str] = []

        def read() -> None:
            for line in up.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if line.startswith("current context: scenefarm-dev"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        assert ready.wait(120), f"dev up did not get ready: {lines}"
        assert yaml.safe_load((home / ".kube" / "config").read_text())["current-context"] == "scenefarm-dev"

        def run(line: str):
            return subprocess.run(
                fresh_shell(line, home), cwd=home, capture_output=True, text=True, timeout=600, check=False
            )

        submitted = run(submit_line)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert submitted.stdout.splitlines()[0] == "videorequest/newtons-laws created"
        assert "newtons-laws: Succeeded" in submitted.stdout
        downloaded = run(download_line)
        assert downloaded.returncode == 0, downloaded.stderr
        status = json.loads(scenefarm("get", "newtons-laws", "-o", "json", kubeconfig=None, home=home).out)[
            "status"
        ]
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=60)
    video = home / "video.mp4"
    assert hashlib.sha256(video.read_bytes()).hexdigest() == status["output"]["sha256"]
    assert frames_of(video) == status["output"]["frames"] > 0
    assert code == 0
    assert not (home / ".kube" / "config").exists()  # dev up made it, and left no trace
