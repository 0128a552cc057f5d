"""From container spec to local command: paths rewritten, env resolved, python swapped in."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest

from scenefarm_devkit.jobrunner.podmanifest import memory_limit_bytes
from scenefarm_devkit.jobrunner.rewriting import (
    ConfigError,
    local_argv,
    local_env,
    resolve_env,
    rewrite_path,
)

MOUNTS = {
    "/work": Path("/tmp/p/work"),
    "/work/code": Path("/tmp/p/code"),
    "/dev/termination-log": Path("/tmp/p/tl"),
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/work", "/tmp/p/work"),
        ("/work/", "/tmp/p/work"),
        ("/work/out/a.mp4", "/tmp/p/work/out/a.mp4"),
        ("/work/code/scene.py", "/tmp/p/code/scene.py"),  # the nested mount wins
        ("/workshop/x", "/workshop/x"),  # a prefix that is not a path prefix
        ("/dev/termination-log", "/tmp/p/tl"),
        ("--store-root", "--store-root"),
        ("relative/work", "relative/work"),
    ],
)
def test_paths_under_a_mount_are_rewritten_to_its_local_directory(value: str, expected: str) -> None:
    assert rewrite_path(value, MOUNTS) == expected


POD = {"metadata": {"name": "p-abcde", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}}, "spec": {}}
SECRETS = {"creds": {"data": {"token": base64.b64encode(b"s3cret").decode()}}}
CONFIG_MAPS = {"settings": {"data": {"LEVEL": "debug", "MODE": "fast"}}}


def test_env_resolves_values_refs_fields_and_env_from_in_kubelet_order() -> None:
    container: dict[str, Any] = {
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
        "env": [
            {"name": "PLAIN", "value": "a"},
            {"name": "EXPANDED", "value": "$(PLAIN)-b-$$(PLAIN)-$(UNKNOWN)"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "LEVEL"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "CFG_MODE", "value": "slow"},  # env overrides envFrom
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}},
        ],
    }
    env = resolve_env(container, POD, CONFIG_MAPS, SECRETS)
    assert env == {
        "CFG_LEVEL": "debug", "CFG_MODE": "slow", "PLAIN": "a", "EXPANDED": "a-b-$(PLAIN)-$(UNKNOWN)",
        "TOKEN": "s3cret", "LEVEL": "debug", "POD": "p-abcde", "NS": "ns", "UID": "u-1", "APP": "x",
    }  # fmt: skip


@pytest.mark.parametrize(
    "env_var",
    [
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}},
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "missing"}}},
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "missing"}}},
    ],
)
def test_a_missing_required_reference_is_a_config_error(env_var: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        resolve_env({"env": [env_var]}, POD, CONFIG_MAPS, SECRETS)


def test_argv_runs_python_with_this_interpreter_and_rewritten_paths() -> None:
    container = {
        "command": ["python", "-m", "scenefarm_renderer"],
        "args": ["render", "--code", "/work/code/s.py", "--q", "$(Q)"],
    }
    argv = local_argv(container, {"Q": "low"}, MOUNTS)
    assert argv == [
        sys.executable,
        "-m",
        "scenefarm_renderer",
        "render",
        "--code",
        "/tmp/p/code/s.py",
        "--q",
        "low",
    ]


def test_argv_keeps_other_programs_as_they_are() -> None:
    assert local_argv({"command": ["/bin/sh", "-c", "true"]}, {}, MOUNTS)[0] == "/bin/sh"


def test_a_container_without_command_cannot_run_locally() -> None:
    with pytest.raises(ConfigError):
        local_argv({"image": "renderer:1"}, {}, MOUNTS)


def test_process_env_is_the_container_env_rewritten_plus_defaults_it_did_not_set() -> None:
    env = local_env({"SCENEFARM_TERMINATION_LOG": "/dev/termination-log", "PATH": "/opt/bin"}, MOUNTS,
                    {"PATH": "/usr/bin", "LANG": "C.UTF-8"})  # fmt: skip
    assert env == {"SCENEFARM_TERMINATION_LOG": "/tmp/p/tl", "PATH": "/opt/bin", "LANG": "C.UTF-8"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("500M", 500 * 10**6),
        ("1e3", 1000),
        ("64", 64),
    ],
)
def test_memory_limits_parse_like_the_api_server(text: str, value: int) -> None:
    assert memory_limit_bytes({"resources": {"limits": {"memory": text}}}) == value


def test_a_container_without_a_memory_limit_is_unlimited() -> None:
    assert memory_limit_bytes({"resources": {"requests": {"memory": "1Gi"}}}) is None
