"""`scenefarm demo`: apply a VideoRequest on the dev cluster and show it live until it finishes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from lightkube import codecs
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from .devenv import DevEnv
from .kube import VideoRequest

TERMINAL = ("Succeeded", "Failed", "Cancelled")
STYLE = {"Succeeded": "green", "Failed": "red", "Running": "yellow", "Healing": "magenta"}


def run_demo(manifest: Path, state_dir: Path, timeout: float, console: Console) -> int:
    """Returns the process exit code: 0 when the video was produced and verified."""
    body = yaml.safe_load(manifest.read_text())
    namespace = body["metadata"].setdefault("namespace", "default")
    name = body["metadata"]["name"]
    shutil.rmtree(state_dir, ignore_errors=True)
    with DevEnv(state_dir) as env:
        console.print(f"dev cluster up; kubeconfig: [bold]{env.kubeconfig}[/]")
        env.start_operator()
        client = env.client()
        client.create(codecs.from_dict(body))
        console.print(f"applied {manifest} -> videorequest/{name}")
        status = _follow(client, namespace, name, timeout, console)
        env.stop_operator()
    return _report(env, namespace, status, console)


def _follow(client: Any, namespace: str, name: str, timeout: float, console: Console) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout
    status: Mapping[str, Any] = {}
    with Live(console=console, refresh_per_second=4) as live:
        while time.monotonic() < deadline:
            vr = client.get(VideoRequest, name, namespace=namespace)
            status = vr.get("status") or {}
            live.update(_view(name, status))
            if status.get("phase") in TERMINAL:
                break
            time.sleep(0.25)
    console.print()
    return status


def _view(name: str, status: Mapping[str, Any]) -> Group:
    phase = status.get("phase", "Pending")
    head = Table.grid(padding=(0, 2))
    head.add_row(
        f"[bold]{name}[/]", f"[{STYLE.get(phase, 'cyan')}]{phase}[/]", f"{status.get('progress', 0)}%"
    )
    bar = ProgressBar(total=100, completed=status.get("progress", 0), width=60)
    scenes = Table("#", "scene", "phase", "attempt", "message", box=None)
    for s in status.get("scenes", []):
        ph = s.get("phase", "")
        msg = str(s.get("message", ""))[:70]
        scenes.add_row(
            str(s["index"]), s["name"], f"[{STYLE.get(ph, 'white')}]{ph}[/]", str(s["attempt"]), msg
        )
    combine = status.get("combine", {}).get("phase", "-")
    return Group(head, bar, scenes, f"combine: {combine}   {status.get('message', '')}")


def _report(env: DevEnv, namespace: str, status: Mapping[str, Any], console: Console) -> int:
    if status.get("phase") != "Succeeded":
        console.print(f"[red]not finished: {status.get('phase')}: {status.get('message', 'timed out')}[/]")
        console.print(f"operator log: {env.state_dir / 'operator.log'}")
        return 1
    output = status["output"]
    path = env.artifact_path(namespace, output["uri"])
    console.print(
        f"[green]video ready[/]: {path}\n"
        f"  {output.get('durationSeconds')} s, {output.get('frames')} frames, "
        f"{output.get('sizeBytes')} bytes, sha256 {str(output.get('sha256', ''))[:16]}…"
    )
    return 0 if path.is_file() else 1
