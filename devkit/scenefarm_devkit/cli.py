"""The dev kit's commands, plugged into `scenefarm`: `demo` and `dev up`.

The product's command line finds them through the `scenefarm.commands` entry point and never
imports the dev kit; an install without the dev kit simply has no such commands.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from pathlib import Path

from rich.console import Console

DEFAULT_STATE = Path(".scenefarm")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` and `dev up` to the `scenefarm` parser."""
    demo = sub.add_parser("demo", help="run a VideoRequest on the embedded dev cluster and show progress")
    demo.add_argument(
        "manifest",
        type=Path,
        nargs="?",
        default=None,
        help="a VideoRequest YAML file (default: the shipped template-planner example)",
    )
    demo.add_argument("--state-dir", type=Path, default=DEFAULT_STATE / "demo")
    demo.add_argument("--timeout", type=float, default=900, help="seconds to wait for the video")
    demo.add_argument(
        "--appwrite", action="store_true", help="mirror to a local Appwrite double and show its row"
    )
    demo.set_defaults(run=_demo)

    dev = sub.add_parser("dev", help="the embedded dev cluster")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    up = dev_sub.add_parser("up", help="start the dev cluster (and the operator) until interrupted")
    up.add_argument("--state-dir", type=Path, default=DEFAULT_STATE / "dev")
    up.add_argument("--port", type=int, default=0)
    up.add_argument("--no-operator", action="store_true", help="start only the cluster")
    up.add_argument("--instant", action="store_true", help="Jobs succeed at once (no rendering)")
    up.add_argument(
        "--no-switch-context",
        action="store_true",
        help="leave ~/.kube/config ($KUBECONFIG) alone (default: context scenefarm-dev while up)",
    )
    up.set_defaults(run=_dev_up)


def _demo(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .data import example_path
    from .demo import run_demo

    manifest = args.manifest or example_path()
    if not manifest.is_file():
        parser.error(f"no such file: {manifest}")
    # soft_wrap: a path is never split over two lines (it could not be pasted)
    return run_demo(manifest, args.state_dir, args.timeout, Console(soft_wrap=True), appwrite=args.appwrite)


def _dev_up(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .data import example_path
    from .devenv import DevEnv
    from .kubeconfig_merge import current_context

    console = Console()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with DevEnv(args.state_dir, instant=args.instant, port=args.port) as env:
        if not args.no_operator:
            env.start_operator()
        console.print(f"dev cluster ready. kubeconfig: {env.kubeconfig}", soft_wrap=True)
        console.print(
            f"  try: kubectl --kubeconfig {env.kubeconfig} apply -f {example_path()}", soft_wrap=True
        )
        console.print(f"       kubectl --kubeconfig {env.kubeconfig} get vr -w", soft_wrap=True)
        print(env.kubeconfig, flush=True)
        with contextlib.ExitStack() as stack:
            if not args.no_switch_context:  # as kind does: kubectl and `scenefarm submit` find it
                merged = stack.enter_context(current_context(env.kubeconfig))
                console.print(f"current context: scenefarm-dev (in {merged}) while up", soft_wrap=True)
            with contextlib.suppress(KeyboardInterrupt):
                done.wait()
    return 0
