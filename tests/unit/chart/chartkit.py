"""Helpers for the chart tests: render with helm, read manifests, run the Argo CD Lua check, kstatus."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import lupa.lua51  # Argo CD runs gopher-lua, a Lua 5.1 dialect
import yaml

from scenefarm_devkit.tools import ensure_tool

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "scenefarm"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "sf"
RELEASE_NAMESPACE = "scenefarm-system"

Manifest = dict[str, Any]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ensure_tool("helm"), *args], capture_output=True, text=True, check=False)


@cache
def _render(values_files: tuple[Path, ...], sets: tuple[str, ...], include_crds: bool) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE]
    for path in values_files:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set-json", item]
    if include_crds:
        args.append("--include-crds")
    done = helm(*args)
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return done.stdout


class RenderError(AssertionError):
    """helm template refused the values."""


def render(*values_files: Path, sets: Iterable[str] = (), include_crds: bool = False) -> list[Manifest]:
    """The chart's manifests for these values files and `--set-json key=value` items."""
    text = _render(tuple(values_files), tuple(sets), include_crds)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_values(values: Mapping[str, Any], include_crds: bool = False) -> list[Manifest]:
    """Render with values given as a dict (each top-level key passed with --set-json)."""
    sets = tuple(f"{key}={json.dumps(value)}" for key, value in values.items())
    return render(sets=sets, include_crds=include_crds)


def of_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: Iterable[Manifest], kind: str) -> Manifest:
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def load_yaml_docs(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- Argo CD health check ------------------------------------------------------------------------

HEALTH_LUA = CHART / "files" / "argocd-health.lua"


def argocd_health(resource: Mapping[str, Any]) -> dict[str, str]:
    """Run the health script the way Argo CD does: a global `obj`, the script's return value."""
    lua = lupa.lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(json.loads(json.dumps(resource)), recursive=True)
    script = HEALTH_LUA.read_text()
    result = lua.execute(script)
    return {"status": result["status"], "message": result["message"]}


# --- kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status), the rules for custom resources ---------


def kstatus(resource: Mapping[str, Any]) -> str:
    """A re-implementation of kstatus' Compute() for a custom resource with no type-specific rules.

    Terminating if a deletionTimestamp is set; InProgress if status.observedGeneration is set and
    differs from metadata.generation; InProgress if Reconciling=True; Failed if Stalled=True; else
    Current (kstatus ignores Ready for custom resources).
    """
    metadata = resource.get("metadata", {})
    status = resource.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return "Terminating"
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return "InProgress"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Reconciling" and condition.get("status") == "True":
            return "InProgress"
        if condition.get("type") == "Stalled" and condition.get("status") == "True":
            return "Failed"
    return "Current"
