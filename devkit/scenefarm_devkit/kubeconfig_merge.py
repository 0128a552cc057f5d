"""`scenefarm dev up` as `kind create cluster` does it: the dev cluster becomes kubectl's context.

While the dev cluster runs, its cluster, user and context (all named `scenefarm-dev`) are merged
into the kubeconfig kubectl reads (the first file in `$KUBECONFIG`, else `~/.kube/config`) and
made current, so `kubectl` and `scenefarm submit` find it with no flags. On stop they are removed
and the previous current-context comes back (unless someone switched away meanwhile); a file
that did not exist before is removed again. Other entries of the file are left as they are.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

CONTEXT = "scenefarm-dev"
SECTIONS = ("clusters", "users", "contexts")


def target_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    first = next((p for p in (env.get("KUBECONFIG") or "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else Path("~/.kube/config").expanduser()


def merged(config: Mapping[str, Any], dev: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with the dev cluster's entries (renamed to `scenefarm-dev`) in it and current."""
    result = _without_dev(config)
    context = dict(dev["contexts"][0]["context"]) | {"cluster": CONTEXT, "user": CONTEXT}
    result["clusters"].append({"name": CONTEXT, "cluster": dev["clusters"][0]["cluster"]})
    result["users"].append({"name": CONTEXT, "user": dev["users"][0]["user"]})
    result["contexts"].append({"name": CONTEXT, "context": context})
    result["current-context"] = CONTEXT
    return result


def restored(config: Mapping[str, Any], previous: str | None) -> dict[str, Any]:
    """`config` without the dev cluster; `previous` current again if the dev one still was."""
    result = _without_dev(config)
    if config.get("current-context") == CONTEXT:
        if previous and previous != CONTEXT:
            result["current-context"] = previous
        else:
            result.pop("current-context", None)
    return result


def _without_dev(config: Mapping[str, Any]) -> dict[str, Any]:
    result = {"apiVersion": "v1", "kind": "Config"} | dict(config)
    for section in SECTIONS:
        result[section] = [e for e in (config.get(section) or []) if e.get("name") != CONTEXT]
    return result


@contextlib.contextmanager
def current_context(dev_kubeconfig: Path, target: Path | None = None) -> Iterator[Path]:
    """Merge while inside; yields the file that was changed."""
    target = target or target_path()
    existed = target.is_file()
    config = _read(target)
    previous = config.get("current-context")
    _write(target, merged(config, _read(dev_kubeconfig)))
    try:
        yield target
    finally:
        after = restored(_read(target), previous)
        if existed or any(after.get(section) for section in SECTIONS):
            _write(target, after)
        else:  # it made the file: leave none behind
            target.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(data) if isinstance(data, dict) else {}


def _write(path: Path, config: Mapping[str, Any]) -> None:
    """Atomically, readable by its owner only (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(dict(config), out, sort_keys=False)
    os.replace(tmp, path)
