from pathlib import Path

import pytest
from lightkube import operators

from scenefarm_cli.batch import Topic, batch_name, check_names, read_topics
from scenefarm_cli.errors import UsageError
from scenefarm_cli.show.listing import batch_summary, rows, selector
from scenefarm_cli.show.watch import _finished, shown


def test_a_topics_file_is_one_topic_per_line_without_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text("# physics week\nNewton's laws\n\n  Ohm's law  \n")
    assert read_topics(path) == [Topic("Newton's laws"), Topic("Ohm's law")]
    assert batch_name(path, None) == "topics"
    assert batch_name(path, "week-1") == "week-1"


def test_a_yaml_topics_file_carries_descriptions_names_and_priorities(tmp_path: Path) -> None:
    path = tmp_path / "week.yaml"
    path.write_text(
        "topics:\n- Newton's laws\n- {topic: Ohm's law, name: ohm, priority: 5, description: V=IR}\n"
    )
    assert read_topics(path) == [Topic("Newton's laws"), Topic("Ohm's law", "V=IR", "ohm", 5)]
    path.write_text("- {topic: x, colour: red}\n")
    with pytest.raises(UsageError, match="item 0 has unknown keys: colour"):
        read_topics(path)
    path.write_text("topics:\n- Newton's laws\n- {topic: Ohm's law\n")
    with pytest.raises(UsageError) as bad:
        read_topics(path)
    assert str(bad.value) == (  # the end of the file is no place: where the unclosed `{` starts is
        f"{path}: line 3, column 3: expected ',' or '}}', but got '<stream end>' while parsing a flow mapping"
    )


def test_an_empty_file_and_two_topics_with_one_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("# nothing\n")
    with pytest.raises(UsageError, match="holds no topic"):
        read_topics(path)
    with pytest.raises(UsageError, match="both make the name newtons-laws"):
        check_names([Topic("Newton's laws"), Topic("newtons laws")], ["newtons-laws", "newtons-laws"])
    with pytest.raises(UsageError, match="cannot be a batch name"):
        batch_name(path, "Week 1")


def test_a_label_selector_reads_kubectls_equality_forms() -> None:
    got = selector("a=b,c!=d,e,!f,g==h")
    assert got is not None
    assert got["a"] == "b" and got["g"] == "h"
    assert isinstance(got["c"], operators.BinaryOperator) and got["c"].encode("c") == "c!=d"
    assert got["e"].encode("e") == "e" and got["f"].encode("f") == "!f"
    with pytest.raises(UsageError, match="cannot read the selector"):
        selector("env in (a,b)")


def request(name, status, labels=None, spec=None):
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": spec or {},
        "status": status,
    }


def test_a_batch_summary_counts_phases_and_scenes() -> None:
    requests = [
        request("a", {"phase": "Succeeded", "scenesSucceeded": 3, "scenesTotal": 3}),
        request("b", {"phase": "Rendering", "scenesSucceeded": 1, "scenesTotal": 4}),
        request("c", {}),
    ]
    assert batch_summary("week", requests) == (
        "batch week: 3 requests: 1 Pending, 1 Rendering, 1 Succeeded; 4/7 scenes done"
    )


def test_wide_adds_priority_batch_current_scene_video_and_poster() -> None:
    status = {
        "phase": "Succeeded",
        "output": {"uri": "volume:default/a-1/video.mp4", "poster": "volume:default/a-1/poster.png"},
    }
    headers, body = rows([request("a", status, {"scenefarm.dev/batch": "week"}, {"priority": 5})], wide=True)
    assert headers[-5:] == ["PRIORITY", "BATCH", "CURRENT", "VIDEO", "POSTER"]
    assert body[0][-5:] == ["5", "week", "-", "volume:default/a-1/video.mp4", "volume:default/a-1/poster.png"]


def test_after_a_write_the_previous_result_is_not_the_end() -> None:
    """`apply --wait` after an edit: the old Failed at generation 1 is shown as Pending and does
    not end the wait until the operator observed generation 2."""
    old = request("a", {"phase": "Failed", "observedGeneration": 1, "message": "scene 0 failed"})
    assert not _finished(old, {"a": 2})
    assert shown(old, {"a": 2})["status"]["phase"] == "Pending"
    assert "generation 2" in shown(old, {"a": 2})["status"]["message"]
    assert _finished(old, {}) and _finished(old, {"a": 1})
    new = request("a", {"phase": "Succeeded", "observedGeneration": 2})
    assert _finished(new, {"a": 2}) and shown(new, {"a": 2}) is new
    rendering = request("a", {"phase": "Rendering", "observedGeneration": 2})
    assert not _finished(rendering, {"a": 2})


def test_wide_for_a_named_request_lists_each_scenes_video_and_poster() -> None:
    from scenefarm_cli.show.listing import scene_files

    status = {
        "scenes": [
            {
                "index": 0,
                "name": "intro",
                "artifact": "volume:d/a-1/scene-00.mp4",
                "poster": "volume:d/a-1/scene-00.png",
            },
            {"index": 1, "name": "law", "artifact": "volume:d/a-1/scene-01.mp4"},
            {"index": 2, "name": "end", "phase": "Running"},
        ]
    }
    assert scene_files(request("a", status)) == [
        "a: scene 0 intro: video volume:d/a-1/scene-00.mp4, poster volume:d/a-1/scene-00.png",
        "a: scene 1 law: video volume:d/a-1/scene-01.mp4",
    ]
