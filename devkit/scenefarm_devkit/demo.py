"""`scenefarm demo`: apply a VideoRequest on the dev cluster and show it live until it finishes.

The file goes through `scenefarm apply`'s checks, messages and exit codes (the CLI's own code):
the file's (one line, exit 2) before anything starts, then the API server's strict validation
(`fieldValidation=Strict`: a misspelt field or a bad value is refused, exit 4) before the
operator starts.
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import UsageError
from scenefarm_cli.submit import read_manifests
from scenefarm_cli.videorequests import create, what
from scenefarm_contract.phases import TERMINAL
from scenefarm_operator.runtime.kube import VideoRequest
from scenefarm_operator.web.rows import video_row_id

from .devenv import DevEnv

DEMO_APPWRITE_KEY = "demo-only-key"  # the local double's key; never a real credential
STYLE = {"Succeeded": "green", "Failed": "red", "Running": "yellow", "Healing": "magenta"}


def run_demo(
    manifest: Path, state_dir: Path, timeout: float, console: Console, appwrite: bool = False
) -> int:
    """Returns the process exit code: 0 when the video was produced and verified.

    A file the demo cannot use raises the CLI's errors (`scenefarm_cli.errors.CliError`), which
    `scenefarm` prints as one line with their exit code."""
    body = read_request(manifest)  # before anything starts or the last demo's state goes
    namespace = body["metadata"].setdefault("namespace", "default")
    name = body["metadata"]["name"]
    shutil.rmtree(state_dir, ignore_errors=True)
    with contextlib.ExitStack() as stack:
        double = stack.enter_context(_appwrite_double()) if appwrite else None
        settings = _appwrite_settings(double) if double is not None else {}
        env = stack.enter_context(DevEnv(state_dir, operator_env=settings))
        console.print(f"dev cluster up; kubeconfig: [bold]{env.kubeconfig}[/]")
        if double is not None:
            console.print(f"Appwrite double: {double.endpoint} (project {double.double.project})")
        conn = Connection.resolve(env.kubeconfig, None, namespace)
        with conn.talking(what(conn, name)):
            create(conn, body)  # strictly validated, before the operator starts
        console.print(f"applied {manifest} -> videorequest/{name}")
        env.start_operator()
        client = env.client()
        rows = (lambda uid: double.row_history("scenefarm", "videos", video_row_id(uid))) if double else None
        status = _follow(client, namespace, name, timeout, console, rows=rows)
        env.stop_operator()
    return _report(env, namespace, status, console)


def read_request(manifest: Path) -> dict[str, Any]:
    """The one VideoRequest of the file, checked as `scenefarm apply -f` checks it."""
    docs = read_manifests(manifest)
    if len(docs) > 1:
        raise UsageError(
            f"{manifest} holds {len(docs)} VideoRequests; the demo runs one "
            "(`scenefarm apply -f` takes several on a cluster of your own)"
        )
    return docs[0]


@contextlib.contextmanager
def _appwrite_double() -> Iterator[Any]:
    from scenefarm_devkit.appwrite_double import AppwriteDoubleThread

    double = AppwriteDoubleThread(api_key=DEMO_APPWRITE_KEY, column_delay=0.05).start()
    try:
        yield double
    finally:
        double.stop()


def _appwrite_settings(double: Any) -> dict[str, str]:
    return {
        "SCENEFARM_APPWRITE_ENDPOINT": double.endpoint,
        "SCENEFARM_APPWRITE_PROJECT": double.double.project,
        "SCENEFARM_APPWRITE_API_KEY": DEMO_APPWRITE_KEY,
    }


def _follow(
    client: Any,
    namespace: str,
    name: str,
    timeout: float,
    console: Console,
    *,
    rows: Callable[[str], list[dict[str, Any]]] | None = None,
) -> Mapping[str, Any]:
    deadline = time.monotonic() + timeout
    status: Mapping[str, Any] = {}
    with Live(console=console, refresh_per_second=4) as live:
        while time.monotonic() < deadline:
            vr = client.get(VideoRequest, name, namespace=namespace)
            status = vr.get("status") or {}
            view = _view(name, status)
            if rows is not None:
                history = rows(str(vr.metadata.uid))
                last = history[-1] if history else {}
                view.renderables.append(
                    f"appwrite row: status={last.get('status', '-')} progress={last.get('progress', '-')} "
                    f"({len(history)} writes)"
                )
            live.update(view)
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
    bar = Table.grid()
    bar.add_row(ProgressBar(total=100, completed=status.get("progress", 0), width=60))
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
    scenes = [env.artifact_path(namespace, s["artifact"]) for s in status.get("scenes", [])]
    video, parts = _seconds(path), sum(_seconds(p) for p in scenes)
    console.print(
        f"[green]video ready[/]: {path}\n"
        f"  {video:.3f} s (scenes add up to {parts:.3f} s), {output.get('frames')} frames, "
        f"{output.get('sizeBytes')} bytes, sha256 {str(output.get('sha256', ''))[:16]}…"
    )
    tolerance = len(scenes) / 15 + 1e-6  # one frame per scene at the lowest frame rate
    if not output.get("subtitles"):
        return 0 if abs(video - parts) <= tolerance else 1
    # Narrated: scenes are held on their last frame while their voice runs on, so the video may
    # be longer than its scenes, never shorter.
    problems = [] if video >= parts - tolerance else ["the video is shorter than its scenes"]
    problems += _narration_report(path, env.artifact_path(namespace, output["subtitles"]), console)
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    return 1 if problems else 0


def _narration_report(video: Path, vtt: Path, console: Console) -> list[str]:
    """ffprobe-style stream details of the narrated video, and the checks the demo promises:
    audio as long as the video (within one frame), a subtitle track, WebVTT cues in order."""
    import av

    from scenefarm_renderer.voice.subtitles import parse_webvtt

    problems, lengths = [], {}
    with av.open(str(video)) as container:
        for stream in container.streams:
            ctx: Any = stream.codec_context
            seconds = float((stream.duration or 0) * (stream.time_base or 0))
            lengths[stream.type] = seconds
            if stream.type == "video":
                rate = stream.base_rate or stream.average_rate
                detail = f"{ctx.name} {ctx.width}x{ctx.height} {ctx.pix_fmt}, {float(rate or 0):g} fps"
            elif stream.type == "audio":
                detail = f"{ctx.name} {ctx.sample_rate} Hz {ctx.layout.name}"
            else:
                detail = f"{ctx.name}, {stream.frames} samples, language {stream.language or 'und'}"
            console.print(f"  Stream #0:{stream.index} {stream.type}: {detail}, {seconds:.3f} s")
        fps = float(container.streams.video[0].base_rate or 15)
    cues = parse_webvtt(vtt.read_text(encoding="utf-8"))
    console.print(f"  subtitles: {vtt} ({len(cues)} cues)")
    for cue in cues[:3]:
        console.print(f"    {cue.start:7.3f} --> {cue.end:7.3f}  {cue.text}")
    if "audio" not in lengths:
        problems.append("no audio stream")
    elif abs(lengths["audio"] - lengths["video"]) > 1 / fps + 1e-6:
        problems.append(f"audio {lengths['audio']:.3f} s against video {lengths['video']:.3f} s")
    if "subtitle" not in lengths:
        problems.append("no subtitle track in the MP4")
    if not cues or any(b.start < a.end for a, b in itertools.pairwise(cues)):
        problems.append("the WebVTT cues are missing or out of order")
    return problems


def _seconds(path: Path) -> float:
    """The playable length of an MP4, decoded with PyAV (raises if it is not a valid video)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return float(frames / stream.average_rate) if stream.average_rate else 0.0
