"""`scenefarm watch` and `get` on a request that stalls: the reason shows while it lasts."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterator
from typing import Any

from scenefarm_cli.output import Output
from scenefarm_cli.show import listing, watch

WHY = "no progress: no scene is running and the estimated completion (2026-01-01T12:00:00Z) has passed"


def state(phase: str, done: int, *, stalled: bool = False, scene: str = "Queued") -> dict[str, Any]:
    status: dict[str, Any] = {
        "observedGeneration": 1,
        "phase": phase,
        "progress": 100 if phase == "Succeeded" else 40,
        "scenesTotal": 2,
        "scenesSucceeded": done,
        "estimatedCompletionTime": "2026-01-01T12:00:00Z",
        "scenes": [
            {"index": 0, "name": "intro", "phase": "Succeeded", "attempt": 1},
            {"index": 1, "name": "cart", "phase": scene, "attempt": 1},
        ],
        "conditions": [
            {"type": "Stalled", "status": str(stalled), "reason": "NoProgress" if stalled else "Rendering",
             "message": WHY if stalled else "not stalled"},
        ],
    }  # fmt: skip
    if phase == "Succeeded":
        status["output"] = {"uri": "volume:default/vid-1/video.mp4"}
    return {"metadata": {"name": "vid", "namespace": "default", "generation": 1}, "status": status}


class FakeClient:
    """What the commands use of lightkube's Client: the first state on get, every state on watch."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states

    def get(self, *_: Any, **__: Any) -> dict[str, Any]:
        return copy.deepcopy(self.states[0])

    def watch(self, *_: Any, **__: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        for s in self.states:
            yield "MODIFIED", copy.deepcopy(s)


class FakeConnection:
    namespace = "default"

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self._client = FakeClient(states)

    def client(self) -> FakeClient:
        return self._client

    @contextlib.contextmanager
    def talking(self, what: str) -> Iterator[None]:
        yield


def test_watch_shows_the_stall_and_its_reason_while_it_happens() -> None:
    states = [
        state("Rendering", 1),
        state("Rendering", 1, stalled=True),
        state("Rendering", 1, scene="Running"),  # it moves again
        state("Succeeded", 2, scene="Succeeded"),
    ]
    stdout = io.StringIO()
    code = watch.follow(FakeConnection(states), ["vid"], Output.create(stdout, io.StringIO()))  # type: ignore[arg-type]
    lines = stdout.getvalue().splitlines()
    assert code == 0
    stalled = f"vid: stalled: NoProgress: {WHY}"
    assert lines.count(stalled) == 1
    assert (
        lines.index(stalled)
        < lines.index("vid: scene 1 cart: Running")
        < lines.index("vid: Succeeded (2/2 scenes done)")
    )
    assert not any("0s" in line for line in lines)


def test_the_stalled_headline_says_the_eta_is_unknown_not_zero() -> None:
    stdout = io.StringIO()
    watch._print_new(Output.create(stdout, io.StringIO()), [state("Rendering", 1, stalled=True)], set(), {})
    assert stdout.getvalue().splitlines()[:2] == [
        "vid: Rendering 40% (1/2 scenes done), ETA unknown",
        f"vid: stalled: NoProgress: {WHY}",
    ]


def test_get_says_why_a_request_is_stalled_under_the_table() -> None:
    stdout = io.StringIO()
    conn = FakeConnection([state("Rendering", 1, stalled=True)])
    assert listing.show(conn, ["vid"], Output.create(stdout, io.StringIO()), None, False) == 0  # type: ignore[arg-type]
    headers, row, reason = stdout.getvalue().splitlines()
    assert headers.split()[:5] == ["NAME", "PHASE", "PROGRESS", "SCENES", "ETA"]
    assert row.split()[:5] == ["vid", "Rendering", "40%", "1/2", "unknown"]
    assert reason == f"vid: stalled: NoProgress: {WHY}"
