"""The operator (a `kopf run` subprocess) against the dev cluster with its local Job runner."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.resources.batch_v1 import Job

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.devenv import DevEnv
from scenefarm_devkit.doubles import gemini_double_thread
from scenefarm_devkit.gemini_double import GeminiDouble
from scenefarm_operator.runtime.kube import VideoRequest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TERMINAL = ("Succeeded", "Failed", "Cancelled")
T = TypeVar("T")


def tiny_scene(class_name: str, body: str = "self.add(Circle()); self.wait(0.5)") -> str:
    return f"from manim import *\n\nclass {class_name}(Scene):\n    def construct(self):\n        {body}\n"


def video_request(name: str, scenes: list[tuple[str, str]], **spec: Any) -> dict[str, Any]:
    """An Explicit VideoRequest; `scenes` are (name, construct body) pairs.

    The scene cache is off unless `render` turns it on: the tests of a module share a namespace
    and tiny look-alike scenes, and a test about Jobs must not be served by another test's.
    """
    render = {"quality": "low", "cache": False} | spec.pop("render", {})
    items = []
    for i, (scene, body) in enumerate(scenes):
        cls = f"S{i}"
        items.append({"name": scene, "className": cls, "code": tiny_scene(cls, body)})
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"topic": name, "scenes": items, "render": render} | spec,
    }


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    body["metadata"]["namespace"] = "default"
    return body


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def status_of(client: Client, name: str, namespace: str = "default") -> dict[str, Any]:
    return dict(client.get(VideoRequest, name, namespace=namespace).get("status") or {})


def wait_terminal(client: Client, name: str, timeout: float = 240) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        status = status_of(client, name)
        return status if status.get("phase") in TERMINAL else None

    return wait_for(terminal, timeout, f"videorequest/{name} to finish")


def jobs_of(client: Client, name: str) -> list[Any]:
    return list(client.list(Job, namespace="default", labels={"scenefarm.dev/request": name}))


def is_deleted(client: Client, name: str, namespace: str = "default") -> bool:
    try:
        client.get(VideoRequest, name, namespace=namespace)
    except ApiError as e:
        return e.status.code == 404
    return False


def create(client: Client, body: dict[str, Any]) -> None:
    client.create(codecs.from_dict(body))


APPWRITE_KEY = "sk-integration-5b7c9d1e3f2a4b6c8d0e1f2a3b4c5d6e"  # the doubles' key, not a real one


@pytest.fixture(scope="module")
def appwrite() -> Iterator[AppwriteDoubleThread]:
    """The Appwrite double (real `appwrite` SDK speaks to it), one per test module."""
    double = AppwriteDoubleThread(api_key=APPWRITE_KEY, column_delay=0.05).start()
    yield double
    double.stop()


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiDouble]:
    """The Gemini double (google-genai speaks to it), one per test module."""
    with gemini_double_thread() as double:
        yield double


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEnv]:
    # The chart's RBAC is enforced on the operator: a verb missing from the chart fails these tests.
    with DevEnv(tmp_path_factory.mktemp("devenv"), rbac_from_chart=True) as running:
        running.start_operator()
        yield running


@pytest.fixture(scope="module")
def client(env: DevEnv) -> Client:
    return env.client()
