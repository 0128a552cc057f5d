"""`scenefarm dev up` plus the real kubectl (from the PyPI wheel): what a person types."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenefarm_devkit.tools import ensure_tool

from .conftest import EXAMPLES

pytestmark = pytest.mark.integration


def kubectl(kubeconfig: Path, *args: str) -> str:
    done = subprocess.run(
        [str(ensure_tool("kubectl")), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_dev_up_serves_kubectl_apply_get_watch_describe_and_stops_cleanly(tmp_path: Path):
    cli = Path(sys.executable).with_name("scenefarm")
    up = subprocess.Popen(
        # a namespace of the user's own, prepared by dev up (render ServiceAccount, artifact claim)
        [str(cli), "dev", "up", "--state-dir", str(tmp_path), "--namespace", "videos"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        kubeconfig = Path(next(line for line in up.stdout if line.strip().endswith("kubeconfig")).strip())  # type: ignore[union-attr]
        example = str(EXAMPLES / "explicit-scenes.yaml")
        assert "created" in kubectl(kubeconfig, "-n", "videos", "apply", "-f", example)
        watch = subprocess.Popen(
            [
                str(ensure_tool("kubectl")),
                "--kubeconfig",
                str(kubeconfig),
                "-n",
                "videos",
                "get",
                "vr",
                "shapes",
                "-w",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 180
        phase = ""
        while time.monotonic() < deadline and phase != "Succeeded":
            phase = kubectl(
                kubeconfig, "-n", "videos", "get", "vr", "shapes", "-o", "jsonpath={.status.phase}"
            )
            time.sleep(0.5)
        table = kubectl(kubeconfig, "-n", "videos", "get", "vr")
        described = kubectl(kubeconfig, "-n", "videos", "describe", "vr", "shapes")
        time.sleep(1)
        watch.terminate()
        watched, _ = watch.communicate(timeout=10)
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()

    assert phase == "Succeeded"
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "DONE", "TOTAL", "ETA", "AGE"]
    assert row.split()[:5] == ["shapes", "Succeeded", "100", "2", "2"]
    assert "Events:" in described and "Succeeded" in described and "video ready" in described
    assert len(watched.splitlines()) >= 3 and "Succeeded" in watched.splitlines()[-1]  # saw it change
    assert code == 0


def test_demo_renders_an_example_and_prints_a_verified_video(tmp_path: Path):
    cli = Path(sys.executable).with_name("scenefarm")
    done = subprocess.run(
        # a relative state directory, as `make demo` uses (.scenefarm/demo)
        [str(cli), "demo", str(EXAMPLES / "explicit-scenes.yaml"), "--state-dir", "relative/demo"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )

    assert done.returncode == 0, done.stdout[-2000:]
    assert "video ready" in done.stdout
    video = next(Path(w) for w in done.stdout.split() if w.endswith("video.mp4"))
    assert video.is_file() and video.stat().st_size > 0
    assert "scenes add up to" in done.stdout
