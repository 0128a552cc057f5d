"""The live view on a terminal: one bar per scene, marks for healing, the ending."""

from __future__ import annotations

import io

from rich.console import Console

from scenefarm_cli.show.view import request_view


def render(request: dict, width: int = 120) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system="standard")
    console.print(request_view(request))
    return console.file.getvalue()  # type: ignore[attr-defined]


def plain(request: dict) -> str:
    console = Console(file=io.StringIO(), width=140, record=True)
    console.print(request_view(request, program="kubectl scenefarm"))
    return console.export_text()


REQUEST = {
    "metadata": {"name": "newtons-laws"},
    "status": {
        "phase": "Rendering",
        "progress": 40,
        "scenes": [
            {"index": 0, "name": "intro", "phase": "Succeeded", "attempt": 2, "history": [{"attempt": 1}]},
            {"index": 1, "name": "cart", "phase": "Healing", "attempt": 1},
            {"index": 2, "name": "outro", "phase": "Pending", "attempt": 0},
        ],
    },
}


def test_each_scene_has_a_row_with_its_phase_attempt_and_marks() -> None:
    text = plain(REQUEST)
    rows = text.splitlines()
    assert rows[0].startswith("newtons-laws ") and " 40% Rendering" in rows[0]
    assert (
        "intro" in rows[1]
        and "Succeeded" in rows[1]
        and "attempt 2" in rows[1]
        and "after 1 earlier attempt" in rows[1]
    )
    assert "cart" in rows[2] and "Healing" in rows[2] and "⚕ healing" in rows[2]
    assert "outro" in rows[3] and "Pending" in rows[3]


def test_a_finished_request_ends_with_where_its_video_is() -> None:
    done = {
        "metadata": {"name": "newtons-laws"},
        "status": {"phase": "Succeeded", "progress": 100, "output": {"uri": "volume:default/n-1/video.mp4"}},
    }
    text = plain(done)
    assert "newtons-laws: video volume:default/n-1/video.mp4" in text
    assert "kubectl scenefarm download newtons-laws -o newtons-laws.mp4" in text


def test_on_a_terminal_the_phases_are_coloured() -> None:
    out = render(REQUEST)
    assert "\x1b[" in out


def test_the_live_view_counts_scenes_done_of_the_total_and_shows_a_stall_while_it_lasts() -> None:
    stalled = {
        "type": "Stalled",
        "status": "True",
        "reason": "PodNotStarting",
        "message": 'Job v-s01-a1 cannot start its Pod: persistentvolumeclaim "scenefarm-artifacts" not found',
    }
    status = REQUEST["status"] | {"scenesTotal": 3, "scenesSucceeded": 1, "conditions": [stalled]}
    status["estimatedCompletionTime"] = "2026-01-01T12:00:00Z"
    rows = plain({"metadata": {"name": "newtons-laws"}, "status": status}).splitlines()
    assert "1 of 3 scenes done" in rows[0] and "ETA unknown" in rows[0]
    assert rows[1].strip() == f"stalled: PodNotStarting: {stalled['message']}"
    moving = plain(REQUEST | {"status": status | {"conditions": [stalled | {"status": "False"}]}})
    assert "stalled" not in moving
    done = plain(REQUEST | {"status": status | {"phase": "Failed", "conditions": [stalled]}})
    assert "stalled:" not in done  # a finished request's ending says why instead
