"""`scenefarm logs NAME --scene 0 -f` while the scene renders for real: the renderer's progress
lines (animation i, frames, seconds) arrive while the scene is still Running, then where the
scene was stored, and the command ends with the Pod."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import codecs

from scenefarm_devkit.devenv import DevEnv

from .cli_helpers import BIN, SCENEFARM
from .conftest import status_of, video_request, wait_for, wait_terminal

pytestmark = pytest.mark.integration
# Many small shapes turning: a few seconds of cairo drawing at low quality.
SHAPES = "s = VGroup(*[Circle(radius=0.05 * i) for i in range(1, 60)])"
BODY = "; ".join([SHAPES, *["self.play(Rotate(s, PI / 2), run_time=2)"] * 5])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    with DevEnv(tmp_path_factory.mktemp("logs")) as running:
        running.start_operator()
        yield running


def test_logs_follow_prints_render_progress_while_the_scene_renders(env: DevEnv, tmp_path: Path) -> None:
    client = env.client()
    client.create(codecs.from_dict(video_request("progress", [("turns", BODY)])))
    wait_for(lambda: (status_of(client, "progress").get("scenes") or [{}])[0].get("job"), 120, "the Job")
    kubeconfig = env.cluster.kubeconfig_for("carol")
    environment = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    argv = [str(SCENEFARM), "logs", "progress", "--scene", "0", "-f"]
    while True:  # the Job exists; its Pod may not yet
        follow = subprocess.Popen(
            argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        first = follow.stdout.readline()  # type: ignore[union-attr]
        if first:
            break
        assert follow.wait(30) == 3, follow.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.2)
    lines, phases_seen = [first], []
    done = threading.Event()

    def read() -> None:
        for line in follow.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if ": animation " in line:
                phases_seen.append(status_of(client, "progress")["phase"])
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(300), lines
    assert follow.wait(30) == 0
    assert lines[0] == "scene 0 (S0): rendering at low quality (15 fps)\n", lines
    progress = [line for line in lines if ": animation " in line]
    assert progress[0].startswith("scene 0 (S0): animation 1, 30 frames, "), lines
    assert "Succeeded" not in phases_seen  # seen while the request was still rendering
    assert any(line.startswith("scene 0 (S0): done: 5 animations, 150 frames, ") for line in lines)
    assert lines[-1].startswith("scene 0 (S0): stored volume:")
    assert len(lines) < 20  # no flood
    assert wait_terminal(client, "progress")["phase"] == "Succeeded"
