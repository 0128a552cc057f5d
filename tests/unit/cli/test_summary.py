from scenefarm_cli.show import summary


def request(status, name="newtons-laws"):
    return {"metadata": {"name": name}, "status": status}


RENDERING = {
    "phase": "Rendering",
    "progress": 40,
    "scenesTotal": 3,
    "scenesSucceeded": 1,
    "scenesFailed": 0,
    "scenes": [
        {"index": 0, "name": "intro", "phase": "Succeeded", "attempt": 1},
        {
            "index": 1,
            "name": "cart",
            "phase": "Healing",
            "attempt": 1,
            "message": "NameError: x\n  at line 3",
        },
        {"index": 2, "name": "outro", "phase": "Pending", "attempt": 0},
    ],
}


def test_a_running_request_reads_as_plain_lines() -> None:
    assert summary.lines(request(RENDERING)) == [
        "newtons-laws: Rendering 40% (1/3 scenes done)",
        "newtons-laws: scene 0 intro: Succeeded",
        "newtons-laws: scene 1 cart: Healing: NameError: x at line 3",
        "newtons-laws: scene 2 outro: Pending",
    ]


def test_a_finished_request_says_where_its_video_is_and_how_to_get_it() -> None:
    status = {
        "phase": "Succeeded",
        "progress": 100,
        "scenesTotal": 1,
        "scenesSucceeded": 1,
        "scenes": [{"index": 0, "name": "intro", "phase": "Succeeded", "attempt": 2}],
        "combine": {"phase": "Succeeded"},
        "output": {
            "uri": "volume:default/newtons-laws-1a2b3c4d/video.mp4",
            "durationSeconds": 4.0,
            "sizeBytes": 9,
        },
    }
    assert summary.lines(request(status)) == [
        "newtons-laws: Succeeded (1/1 scenes done)",
        "newtons-laws: scene 0 intro: Succeeded (attempt 2)",
        "newtons-laws: combine: Succeeded",
        "newtons-laws: video volume:default/newtons-laws-1a2b3c4d/video.mp4 (4.0 s, 9 bytes)",
        "newtons-laws: download it with: scenefarm download newtons-laws -o newtons-laws.mp4",
    ]


def test_a_failed_request_ends_with_its_reason() -> None:
    status = {
        "phase": "Failed",
        "message": "scene 1 (cart) failed: exit class 20",
        "scenesFailed": 1,
        "scenesTotal": 2,
    }
    assert summary.ending(request(status)) == ["newtons-laws: Failed: scene 1 (cart) failed: exit class 20"]
    assert summary.headline(request(status)) == "newtons-laws: Failed (0/2 scenes done, 1 failed)"


def test_a_cancelled_request_without_a_message_falls_back_to_its_conditions() -> None:
    status = {
        "phase": "Cancelled",
        "conditions": [{"type": "Ready", "status": "False", "message": "cancelled by spec.cancel"}],
    }
    assert summary.ending(request(status)) == ["newtons-laws: Cancelled: cancelled by spec.cancel"]


def test_the_estimated_completion_time_is_shown_when_the_status_has_one() -> None:
    status = dict(RENDERING, estimatedCompletionTime="2999-01-01T00:00:00Z")
    assert "left" in summary.headline(request(status))
    assert "left" not in summary.headline(request(RENDERING))
