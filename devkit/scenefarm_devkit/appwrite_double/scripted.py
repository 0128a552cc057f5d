"""A scripted VideoRequest lifecycle: the sequence of bodies the operator would publish, for
tests and benchmarks of the Appwrite mirror. Shapes follow the CRD's status."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

UID = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
CREATED = "2026-11-25T10:00:00Z"
FINISHED = "2026-11-25T10:05:00Z"
FILES = "https://appwrite.example/v1/storage/buckets/videos/files"  # the Appwrite artifact store's URLs


def file_url(file_id: str) -> str:
    return f"{FILES}/{file_id}/view?project=scenefarm"


def video_request(*, scenes: int = 3, uid: str = UID, owner: str | None = "user-42") -> dict[str, Any]:
    spec: dict[str, Any] = {"topic": "Newton's laws", "description": "All three laws, with a cart on a track"}
    if owner:
        spec["owner"] = {"appwriteUserId": owner}
    spec["planner"] = {"mode": "Template", "maxScenes": scenes}
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "newton", "namespace": "default", "uid": uid, "creationTimestamp": CREATED},
        "spec": spec,
    }


def lifecycle(
    *, scenes: int = 3, uid: str = UID, owner: str | None = "user-42", heal: int | None = None
) -> Iterator[dict[str, Any]]:
    """Bodies in the order the operator would publish them, scenes rendered one after another
    (parallelism 1); scene `heal` fails once, is rewritten and succeeds on attempt 2."""
    body = video_request(scenes=scenes, uid=uid, owner=owner)
    yield copy.deepcopy(body)
    status: dict[str, Any] = {"phase": "Pending", "progress": 0}
    body["status"] = status
    yield copy.deepcopy(body)
    status["phase"] = "Planning"
    yield copy.deepcopy(body)
    names = [f"scene-{i}" for i in range(scenes)]
    status |= {"phase": "Rendering", "scenesTotal": scenes, "scenesSucceeded": 0, "scenesFailed": 0}
    status["scenes"] = [
        {"index": i, "name": n, "phase": "Pending", "attempt": 0} for i, n in enumerate(names)
    ]
    yield copy.deepcopy(body)
    queue(status, 0)
    yield copy.deepcopy(body)
    for i, scene in enumerate(status["scenes"]):
        scene |= {"phase": "Running", "startedAt": CREATED}
        yield copy.deepcopy(body)
        if heal == i:
            scene |= {"phase": "Healing", "exitClass": 11, "message": "NameError: name 'Cart' is not defined"}
            yield copy.deepcopy(body)
            scene |= {"phase": "Running", "attempt": 2, "job": f"newton-scene-{i:02d}-2", "message": ""}
            yield copy.deepcopy(body)
        scene |= {"phase": "Succeeded", "finishedAt": FINISHED, "exitClass": 0}
        scene["artifact"] = file_url(f"f-{uid[:8]}-scene-{i:02d}")
        status["scenesSucceeded"] = i + 1
        status["progress"] = int(90 * (i + 1) / scenes)
        if i + 1 < scenes:
            queue(status, i + 1)  # the same reconcile that sees a scene finish starts the next one
        yield copy.deepcopy(body)
    status |= {"phase": "Combining", "combine": {"phase": "Running", "job": "newton-combine"}}
    status.pop("currentScene", None)
    yield copy.deepcopy(body)
    status |= {"phase": "Succeeded", "progress": 100, "finishedAt": FINISHED}
    status["combine"]["phase"] = "Succeeded"
    status["output"] = {"uri": file_url(f"f-{uid[:8]}-video"), "durationSeconds": 12.5, "sizeBytes": 1}
    yield copy.deepcopy(body)


def queue(status: dict[str, Any], index: int) -> None:
    scene = status["scenes"][index]
    status["currentScene"] = scene["name"]
    scene |= {"phase": "Queued", "attempt": 1, "job": f"newton-scene-{index:02d}-1"}
