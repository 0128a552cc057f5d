"""Materialise a Pod's volumes as local directories under the Pod's own directory.

configMap and secret volumes are written out (all keys, or `items` with paths), emptyDir is an
empty directory, a persistentVolumeClaim is a directory shared by every Pod of that claim (like a
ReadWriteMany volume), hostPath is the path itself.  `readOnly` is best effort: the files are
made read-only, which does not stop a process running as root.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenefarm_devkit.jobrunner.config import JobRunnerConfig
from scenefarm_devkit.jobrunner.rewriting import ConfigError

DEFAULT_TERMINATION_PATH = "/dev/termination-log"
TERMINATION_FILE = "termination-log"


def _items(obj: Mapping[str, Any], decode: bool) -> dict[str, bytes]:
    files = {k: (base64.b64decode(v) if decode else v.encode()) for k, v in (obj.get("data") or {}).items()}
    files.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    if decode:
        files.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return files


def _write_keys(target: Path, source: Mapping[str, Any], obj: Mapping[str, Any] | None, decode: bool) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if obj is None:
        if source.get("optional"):
            return
        raise ConfigError(f"volume source {source.get('name') or source.get('secretName')!r} not found")
    files = _items(obj, decode)
    chosen = source.get("items")
    layout = {item["path"]: item["key"] for item in chosen} if chosen else {key: key for key in files}
    for path, key in layout.items():
        if key not in files:
            raise ConfigError(f"key {key!r} not found for volume file {path!r}")
        file = target / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(files[key])
        file.chmod(source.get("defaultMode", 0o644) & 0o777)


def _make_read_only(root: Path) -> None:
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def materialise_volumes(
    config: JobRunnerConfig,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
) -> dict[str, Path]:
    """Write the Pod's volumes out; mountPath (and the termination message path) -> local path."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    pod_dir = config.pod_dir(meta["namespace"], meta["name"])
    local: dict[str, Path] = {}
    for volume in spec.get("volumes") or []:
        name = volume["name"]
        target = pod_dir / "volumes" / name
        if "configMap" in volume:
            source = volume["configMap"]
            _write_keys(target, source, config_maps.get(source.get("name", "")), decode=False)
        elif "secret" in volume:
            source = volume["secret"]
            _write_keys(target, source, secrets.get(source.get("secretName", "")), decode=True)
        elif "persistentVolumeClaim" in volume:
            target = config.claim_path(meta["namespace"], volume["persistentVolumeClaim"]["claimName"])
            target.mkdir(parents=True, exist_ok=True)
        elif "hostPath" in volume:
            target = Path(volume["hostPath"]["path"])
        else:  # emptyDir, and anything else we can only offer as scratch space
            target.mkdir(parents=True, exist_ok=True)
        local[name] = target
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in local:
            raise ConfigError(f"volumeMount {mount['name']!r} has no volume")
        path = local[mount["name"]] / mount["subPath"] if mount.get("subPath") else local[mount["name"]]
        if mount.get("subPath") and not path.exists():
            path.mkdir(parents=True)
        if mount.get("readOnly") and path.is_relative_to(pod_dir):
            _make_read_only(path)  # never a shared claim: other Pods may be writing to it
        mounts[mount["mountPath"]] = path
    termination = pod_dir / TERMINATION_FILE
    termination.parent.mkdir(parents=True, exist_ok=True)
    termination.write_bytes(b"")
    mounts[container.get("terminationMessagePath") or DEFAULT_TERMINATION_PATH] = termination
    return mounts
