"""docs/planning.md's Gemini walkthrough, run exactly as written (a scripted scene fails and is healed).

The commands are read from the document's walkthrough block; a `# ...` line after a command is
the output the document promises for it. They run in a scratch directory holding the repository's
`examples/`, with `scenefarm` and the real `kubectl` first on PATH, as a reader's shell would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scenefarm_devkit.tools import ensure_tool

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- walkthrough:start.*?-->\s*```sh\n(.*?)```\s*<!-- walkthrough:end -->", re.S)


def walkthrough() -> list[tuple[str, str | None]]:
    """(command, promised output or None) in document order."""
    text = (REPO / "docs" / "planning.md").read_text(encoding="utf-8")
    match = BLOCK.search(text)
    assert match, "docs/planning.md has no walkthrough block"
    steps: list[tuple[str, str | None]] = []
    for line in match.group(1).splitlines():
        if line.startswith("# ") and steps:
            steps[-1] = (steps[-1][0], line[2:])
        elif line.strip():
            steps.append((line, None))
    return steps


def test_the_documented_gemini_walkthrough_heals_the_failing_scene(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "SCENEFARM_"))}
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), str(ensure_tool("kubectl").parent), env["PATH"]]
    )
    server: subprocess.Popen[str] | None = None
    outputs: list[str] = []
    try:
        for command, promised in walkthrough():
            if command.endswith("&"):  # the dev cluster, in the background until the test ends
                server = subprocess.Popen(
                    shlex.split(command[:-1]), cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
                )
                assert server.stdout is not None
                next(line for line in server.stdout if line.strip().endswith("/kubeconfig"))
                continue
            if command.startswith("export "):
                name, _, value = command.removeprefix("export ").partition("=")
                env[name] = str(tmp_path / value) if not value.startswith("/") else value
                continue
            done = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=660,
                check=False,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
            outputs.append(done.stdout)
            if promised is not None:
                assert done.stdout.strip() == promised, command
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    events = outputs[-1]
    assert events.splitlines()[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    for reason in ("Healing", "Fixed", "Succeeded"):
        assert reason in events
