"""From a container spec to a local command: env resolution and in-container path rewriting.

Pure: ConfigMaps and Secrets are looked up in mappings the caller fetched beforehand.  A value
that equals a mount path, or starts with `mountPath + "/"`, is rewritten to the local directory
that stands in for the mount (the longest mount path wins, as nested mounts shadow outer ones).
"""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PYTHON_NAMES = re.compile(r"^python(3(\.\d+)?)?$")
_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class ConfigError(Exception):
    """A reference the kubelet cannot resolve (CreateContainerConfigError)."""


def rewrite_path(value: str, mounts: Mapping[str, Path]) -> str:
    """`value` with its mount-path prefix replaced by the local directory, if it has one."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        root = mount_path.rstrip("/") or "/"
        if value == root:
            return str(mounts[mount_path])
        prefix = root if root.endswith("/") else root + "/"
        if value.startswith(prefix):
            return str(Path(mounts[mount_path]) / value[len(prefix) :])
    return value


def expand_references(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: known names are replaced, `$$` escapes, others stay."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _VAR_REF.sub(replace, value)


def _decoded(secret: Mapping[str, Any]) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


def _plain(config_map: Mapping[str, Any]) -> dict[str, str]:
    return dict(config_map.get("data") or {})


def _key_ref(
    ref: Mapping[str, Any], store: Mapping[str, Mapping[str, Any]], kind: str, decode: bool
) -> str | None:
    obj = store.get(ref.get("name", ""))
    values = (_decoded(obj) if decode else _plain(obj)) if obj is not None else None
    if values is None or ref["key"] not in values:
        if ref.get("optional"):
            return None
        raise ConfigError(f'{kind} "{ref.get("name")}" has no key "{ref["key"]}"' if values is not None
                          else f'{kind.lower()} "{ref.get("name")}" not found')  # fmt: skip
    return values[ref["key"]]


def _field_ref(path: str, pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    simple = {"metadata.name": "name", "metadata.namespace": "namespace", "metadata.uid": "uid"}
    if path in simple:
        return str(meta.get(simple[path], ""))
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path == "spec.nodeName":
        return str((pod.get("spec") or {}).get("nodeName", "localhost"))
    if path == "spec.serviceAccountName":
        return str((pod.get("spec") or {}).get("serviceAccountName", "default"))
    if path in ("status.podIP", "status.hostIP"):
        return "127.0.0.1"
    raise ConfigError(f"unsupported fieldRef {path!r}")


def resolve_env(
    container: Mapping[str, Any],
    pod: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in order."""
    env = _env_from(container, config_maps, secrets)
    for var in container.get("env") or []:
        source = var.get("valueFrom")
        value: str | None
        if source is None:
            value = expand_references(str(var.get("value", "")), env)
        elif "fieldRef" in source:
            value = _field_ref(source["fieldRef"]["fieldPath"], pod)
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], secrets, "Secret", decode=True)
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], config_maps, "ConfigMap", decode=False)
        else:
            raise ConfigError(f"unsupported valueFrom for {var['name']}: {sorted(source)}")
        if value is not None:
            env[var["name"]] = value
    return env


def _env_from(
    container: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref, store, decode, kind = source["configMapRef"], config_maps, False, "ConfigMap"
        else:
            ref, store, decode, kind = source["secretRef"], secrets, True, "Secret"
        obj = store.get(ref.get("name", ""))
        if obj is None:
            if ref.get("optional"):
                continue
            raise ConfigError(f'{kind.lower()} "{ref.get("name")}" not found')
        for key, value in (_decoded(obj) if decode else _plain(obj)).items():
            env[prefix + key] = value
    return env


def referenced_objects(
    pod_spec: Mapping[str, Any], container: Mapping[str, Any]
) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the container's env and the Pod's volumes use."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            config_maps.add(source["configMapRef"].get("name", ""))
        if "secretRef" in source:
            secrets.add(source["secretRef"].get("name", ""))
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            config_maps.add(source["configMapKeyRef"].get("name", ""))
        if "secretKeyRef" in source:
            secrets.add(source["secretKeyRef"].get("name", ""))
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            config_maps.add(volume["configMap"].get("name", ""))
        if "secret" in volume:
            secrets.add(volume["secret"].get("secretName", ""))
    return config_maps, secrets


def local_argv(container: Mapping[str, Any], env: Mapping[str, str], mounts: Mapping[str, Path]) -> list[str]:
    """command + args with `$(VAR)` expanded, paths rewritten and `python` -> this interpreter."""
    argv: Sequence[str] = [*(container.get("command") or []), *(container.get("args") or [])]
    if not argv:
        raise ConfigError("the container has no command: the image's entrypoint is not known here")
    local = [rewrite_path(expand_references(str(arg), env), mounts) for arg in argv]
    if PYTHON_NAMES.match(Path(local[0]).name):
        local[0] = sys.executable
    return local


def local_env(
    env: Mapping[str, str], mounts: Mapping[str, Path], defaults: Mapping[str, str]
) -> dict[str, str]:
    """The process environment: the container's env rewritten, plus defaults it did not set."""
    result = {name: rewrite_path(value, mounts) for name, value in env.items()}
    for name, value in defaults.items():
        result.setdefault(name, value)
    return result
