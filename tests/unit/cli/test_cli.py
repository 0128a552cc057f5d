"""The `scenefarm` parser: commands, help, completion, and errors as one line and an exit code."""

from __future__ import annotations

import dataclasses

import pytest

from scenefarm_cli import main as cli
from scenefarm_operator.support.settings import Settings
from scenefarm_operator.support.settings_doc import (
    DESCRIPTIONS,
    descriptions,
    settings_table,
    source_comments,
)

from .test_connection import write_kubeconfig

USER_COMMANDS = [
    "submit",
    "apply",
    "get",
    "list",
    "watch",
    "logs",
    "download",
    "retry",
    "cancel",
    "suspend",
    "resume",
]


def test_every_operator_setting_is_described() -> None:
    described = {name for name, text in descriptions().items() if text}
    assert {f.name for f in dataclasses.fields(Settings)} - described == set()


def test_a_settings_comment_describes_a_field_missing_from_the_table() -> None:
    comments = source_comments()
    assert comments["oom_memory_cap"] == "OOM-killed scenes retry with doubled memory up to this"
    assert comments["namespaces"] == "empty: all namespaces"
    assert "renderer_image" not in comments  # no comment there: the table describes it
    assert descriptions()["renderer_image"] == DESCRIPTIONS["renderer_image"]


def test_operator_help_lists_every_variable_with_its_default(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["operator", "--help"])
    text = capsys.readouterr().out
    for variable, default, meaning in settings_table():
        line = next(line for line in text.splitlines() if line.startswith(variable + " "))
        assert line.split()[1] == default.split()[0] and meaning in line
    assert "SCENEFARM_ARTIFACT_CLAIM" in text and "scenefarm-artifacts" in text


def test_the_help_shows_the_user_commands_and_the_quick_path(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert all(f"\n    {command} " in text for command in USER_COMMANDS)
    assert 'scenefarm submit "Newton\'s laws" --wait' in text


def test_as_a_kubectl_plugin_it_calls_itself_kubectl_scenefarm(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["kubectl-scenefarm", "watch", "--help"])
    with pytest.raises(SystemExit):
        cli.kubectl_plugin()
    assert capsys.readouterr().out.startswith("usage: kubectl scenefarm watch")


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_scripts_know_the_commands(capsys, shell) -> None:
    assert cli.main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert all(command in script for command in USER_COMMANDS)
    if shell != "tcsh":
        assert "_scenefarm_requests" in script  # request names come from the cluster


def test_no_cluster_is_one_line_and_exit_6(tmp_path, capsys) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config")
    assert cli.main(["get", "--kubeconfig", str(kubeconfig)]) == 6
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"error: cannot reach the cluster at http://127.0.0.1:1 (context dev, kubeconfig {kubeconfig}):"
    )
    assert len(captured.err.splitlines()) == 1


def test_a_missing_kubeconfig_is_exit_6_with_the_path(tmp_path, capsys) -> None:
    assert cli.main(["watch", "x", "--kubeconfig", str(tmp_path / "nope")]) == 6
    assert capsys.readouterr().err == f"error: no kubeconfig at {tmp_path / 'nope'}\n"


def test_a_topic_without_a_usable_name_is_a_usage_error(tmp_path, capsys) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "config")
    assert cli.main(["submit", "???", "--kubeconfig", str(kubeconfig)]) == 2
    assert "pass --name" in capsys.readouterr().err


def test_an_unforeseen_failure_is_one_line_unless_debugging(capsys, monkeypatch) -> None:
    def broken(_args, _parser):
        raise RuntimeError("the websocket closed")

    parser = cli.build_parser()
    args = parser.parse_args(["completion", "bash"])
    monkeypatch.setattr(cli, "build_parser", lambda prog="scenefarm": _Fixed(parser, args, broken))
    assert cli.main(["completion", "bash"]) == 1
    assert capsys.readouterr().err == (
        "error: unexpected RuntimeError: the websocket closed (SCENEFARM_DEBUG=1 shows the traceback)\n"
    )
    monkeypatch.setenv("SCENEFARM_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.main(["completion", "bash"])


class _Fixed:
    """A parser whose one command is `run`."""

    def __init__(self, parser, args, run) -> None:
        self.parser, self.args = parser, args
        self.args.run = run

    def parse_args(self, _argv):
        return self.args


def test_cluster_options_work_before_and_after_the_command_the_later_winning() -> None:
    from scenefarm_cli.commands import option

    parser = cli.build_parser()
    before = parser.parse_args(["-n", "videos", "--context", "dev", "get"])
    after = parser.parse_args(["get", "-n", "videos"])
    both = parser.parse_args(["-n", "videos", "watch", "x", "-n", "other"])
    assert (option(before, "namespace"), option(before, "context")) == ("videos", "dev")
    assert option(after, "namespace") == "videos"
    assert option(both, "namespace") == "other"


@pytest.mark.parametrize(
    ("namespaces", "scope"),
    [("", ["--all-namespaces"]), ("videos,renders", ["--namespace=videos", "--namespace=renders"])],
)
def test_the_operator_command_becomes_kopf_run_scoped_to_the_namespaces(
    monkeypatch, namespaces, scope
) -> None:
    """`scenefarm operator` comes from the operator's entry point and execs `kopf run`."""
    import sys

    from scenefarm_operator import command

    calls = []
    monkeypatch.setattr(command.os, "execv", lambda path, argv: calls.append((path, argv)))
    monkeypatch.setenv("SCENEFARM_NAMESPACES", namespaces)
    assert cli.main(["operator"]) == 0
    assert calls == [
        (sys.executable, [sys.executable, "-m", "kopf", "run", "-m", "scenefarm_operator.main", *scope])
    ]
