"""The `scenefarm` command line: `demo`, `dev up`, `operator`."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console

DEFAULT_STATE = Path(".scenefarm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scenefarm", description="Manim videos as Kubernetes Jobs.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run a VideoRequest on the embedded dev cluster and show progress")
    demo.add_argument(
        "manifest", type=Path, help="a VideoRequest YAML file (e.g. examples/template-planner.yaml)"
    )
    demo.add_argument("--state-dir", type=Path, default=DEFAULT_STATE / "demo")
    demo.add_argument("--timeout", type=float, default=900, help="seconds to wait for the video")
    demo.add_argument(
        "--appwrite", action="store_true", help="mirror to a local Appwrite double and show its row"
    )

    dev = sub.add_parser("dev", help="the embedded dev cluster")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    up = dev_sub.add_parser("up", help="start the dev cluster (and the operator) until interrupted")
    up.add_argument("--state-dir", type=Path, default=DEFAULT_STATE / "dev")
    up.add_argument("--port", type=int, default=0)
    up.add_argument("--no-operator", action="store_true", help="start only the cluster")
    up.add_argument("--instant", action="store_true", help="Jobs succeed at once (no rendering)")

    sub.add_parser("operator", help="run the operator (kopf run) against the current kubeconfig")

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

    args = parser.parse_args(argv)
    console = Console()
    if args.command == "demo":
        if not args.manifest.is_file():
            parser.error(f"no such file: {args.manifest}")
        from .demo import run_demo

        return run_demo(args.manifest, args.state_dir, args.timeout, console, appwrite=args.appwrite)
    if args.command == "dev":
        return _dev_up(args, console)
    if args.command in ("retry", "cancel", "suspend", "resume"):
        from .actions import act

        return act(args.command, args.name, args.namespace, args.kubeconfig, console)
    return _operator()


def _dev_up(args: argparse.Namespace, console: Console) -> int:
    from .devenv import DevEnv

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with DevEnv(args.state_dir, instant=args.instant, port=args.port) as env:
        if not args.no_operator:
            env.start_operator()
        console.print(f"dev cluster ready. kubeconfig: {env.kubeconfig}")
        console.print(f"  try: kubectl --kubeconfig {env.kubeconfig} apply -f examples/template-planner.yaml")
        console.print(f"       kubectl --kubeconfig {env.kubeconfig} get vr -w")
        print(env.kubeconfig, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0


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
