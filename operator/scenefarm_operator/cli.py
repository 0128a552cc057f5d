"""The `scenefarm` command line: `operator` and the user actions; installed plugins add more.

The dev kit (`scenefarm demo`, `scenefarm dev up`) plugs in through the `scenefarm.commands`
entry point group: each entry point is a `register(subparsers)` function whose parsers set a
`run(args, parser) -> int` default. This package never imports the dev kit.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from rich.console import Console

PLUGIN_GROUP = "scenefarm.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scenefarm", description="Manim videos as Kubernetes Jobs.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "operator", help="run the operator (kopf run) against the current kubeconfig"
    ).set_defaults(run=lambda _args, _parser: _operator())
    for verb, text in (
        ("retry", "re-render only the failed scenes of a VideoRequest, then combine again"),
        ("cancel", "stop every Job of a VideoRequest for good (phase Cancelled)"),
        ("suspend", "stop launching scene Jobs and suspend the running ones"),
        ("resume", "undo suspend"),
    ):
        action = sub.add_parser(verb, help=text)
        action.add_argument("name", help="the VideoRequest's name")
        action.add_argument("-n", "--namespace", default=None, help="default: the kubeconfig's namespace")
        action.add_argument("--kubeconfig", type=Path, default=None)
        action.set_defaults(run=_act)
    for plugin in entry_points(group=PLUGIN_GROUP):
        try:
            register = plugin.load()
        except ImportError as error:  # a plugin whose dependencies are not installed
            print(f"scenefarm: commands from {plugin.value} are unavailable: {error}", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args, parser))


def _act(args: argparse.Namespace, _parser: argparse.ArgumentParser) -> int:
    from .actions import act

    return act(args.command, args.name, args.namespace, args.kubeconfig, Console())


def _operator() -> int:
    from .settings import Settings

    settings = Settings.from_env()
    scope = (
        ["--all-namespaces"] if not settings.namespaces else [f"--namespace={n}" for n in settings.namespaces]
    )
    cmd = [sys.executable, "-m", "kopf", "run", "-m", "scenefarm_operator.handlers", *scope]
    os.execv(sys.executable, cmd)  # noqa: S606 - becomes the operator process, no shell involved
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
