"""README's quick path, run as written: `scenefarm dev up`, `scenefarm submit "Newton's laws"
--wait`, `scenefarm download newtons-laws -o video.mp4`, from an empty home directory (no
kubeconfig) to a verified MP4."""

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


def quick_path() -> list[list[str]]:
    block = re.search(r"<!-- quick-path.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert block, "README.md lost its quick-path block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line.strip()]


def frames_of(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_the_readme_commands_go_from_nothing_to_a_verified_mp4(tmp_path: Path) -> None:
    up_cmd, submit_cmd, download_cmd = quick_path()
    assert up_cmd == ["scenefarm", "dev", "up"]
    assert submit_cmd == ["scenefarm", "submit", "Newton's laws", "--wait"]
    assert download_cmd == ["scenefarm", "download", "newtons-laws", "-o", "video.mp4"]
    home = tmp_path
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "COLUMNS": "80"}
    up = subprocess.Popen(
        [str(BIN / up_cmd[0]), *up_cmd[1:]], cwd=home, env=env, stdout=subprocess.PIPE, text=True
    )
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

        def run(cmd: list[str]):
            argv = [str(BIN / cmd[0]), *cmd[1:]]
            return subprocess.run(
                argv, cwd=home, env=env, capture_output=True, text=True, timeout=600, check=False
            )

        submitted = run(submit_cmd)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert submitted.stdout.splitlines()[0] == "videorequest/newtons-laws created"
        assert "newtons-laws: Succeeded" in submitted.stdout
        downloaded = run(download_cmd)
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
