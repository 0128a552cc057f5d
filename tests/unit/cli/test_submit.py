from pathlib import Path

import pytest

from scenefarm_cli.errors import UsageError
from scenefarm_cli.submit import collision, manifest, read_manifests, request_name


def test_submit_writes_the_request_a_person_would_have_written() -> None:
    assert manifest(
        "Newton's laws", "newtons-laws", "videos", description="F = ma", quality="low", planner="Template"
    ) == {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": "newtons-laws", "namespace": "videos"},
        "spec": {
            "topic": "Newton's laws",
            "description": "F = ma",
            "planner": {"mode": "Template"},
            "render": {"quality": "low"},
        },
    }


def test_the_name_is_the_topics_unless_given() -> None:
    assert request_name("Newton's laws", None) == "newtons-laws"
    assert request_name("Newton's laws", "take-2") == "take-2"
    with pytest.raises(UsageError, match="pass --name"):
        request_name("???", None)
    with pytest.raises(UsageError, match="not a valid name"):
        request_name("x", "Take_2")
    assert request_name("x", "a" * 253) == "a" * 253
    with pytest.raises(
        UsageError, match=r"is 254 characters long: a VideoRequest's name is at most 253"
    ) as long:
        request_name("x", "a" * 254)
    assert "lower-case" not in str(long.value)  # its characters are fine: only the length is said
    with pytest.raises(UsageError, match=r"is 300 characters long: .* at most 253 characters \(lower-case"):
        request_name("x", "A" * 300)  # both wrong: both said


def test_a_taken_name_is_refused_with_what_is_there() -> None:
    existing = {
        "metadata": {"name": "newtons-laws"},
        "spec": {"topic": "Newton's laws"},
        "status": {"phase": "Succeeded"},
    }
    assert collision(existing) == (
        'videorequest/newtons-laws already exists (topic "Newton\'s laws", phase Succeeded). '
        "See it with `scenefarm get newtons-laws`, or submit under another name with --name."
    )


def test_apply_reads_every_videorequest_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    doc = "apiVersion: scenefarm.dev/v1alpha1\nkind: VideoRequest\nmetadata: {name: %s}\nspec: {topic: t}\n"
    path.write_text(doc % "a" + "---\n" + doc % "b")
    assert [d["metadata"]["name"] for d in read_manifests(path)] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\napiVersion: v1\n", "expected VideoRequest .* found ConfigMap"),
        ("apiVersion: scenefarm.dev/v1alpha1\nkind: VideoRequest\nspec: {}\n", "without metadata.name"),
        ("a: [", r"bad\.yaml: line 1, column 5: expected the node content, but found '<stream end>'"),
        ("", "holds no VideoRequest"),
    ],
)
def test_apply_refuses_files_it_cannot_use(tmp_path: Path, text, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_manifests(path)


def test_apply_names_a_missing_file() -> None:
    with pytest.raises(UsageError, match=r"cannot read /no/such\.yaml: No such file"):
        read_manifests(Path("/no/such.yaml"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'spec:\n  topic: "Newton\n',
            "line 2, column 10: found unexpected end of stream while scanning a quoted scalar",
        ),
        (
            "spec:\n  topic: x\n planner: y\n",
            "line 3, column 2: expected <block end>, but found '<block mapping start>' "
            "while parsing a block mapping started at line 1, column 1",
        ),
        ("spec: {topic: x}\n\x00\n", "line 2, column 1: unacceptable character #x0000: special characters"),
        ("spec: a: b\n", "line 1, column 8: mapping values are not allowed here"),
    ],
)
def test_bad_yaml_is_one_line_naming_the_file_and_the_place(tmp_path: Path, text, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as bad:
        read_manifests(path)
    assert str(bad.value).startswith(f"{path}: {message}")
    assert "\n" not in str(bad.value) and "<unicode string>" not in str(bad.value)
