"""The dev kit's commands, plugged into `scenefarm`: `demo` and `dev up`.

The product's command line finds them through the `scenefarm.commands` entry point and never
imports the dev kit; an install without the dev kit simply has no such commands.
"""

from __future__ import annotations

import argparse
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
    up.add_argument(
        "--gemini-double", action="store_true", help="run a local Gemini double and point the operator at it"
    )
    up.add_argument(
        "--gemini-script",
        type=Path,
        default=None,
        metavar="FILE",
        help="replies the Gemini double plays first (JSON, see docs/planning.md); implies --gemini-double",
    )
    up.add_argument(
        "--gemini-base-url",
        default="",
        metavar="URL",
        help="a real Gemini endpoint; the key comes from $SCENEFARM_GEMINI_API_KEY",
    )
    up.add_argument(
        "--appwrite-double", action="store_true", help="run a local Appwrite double and mirror requests to it"
    )
    up.add_argument(
        "--gc-delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help="garbage-collect dependents asynchronously, SECONDS after their owner is gone (as a real "
        "cluster's controller does); default: at once, with the owner's delete",
    )
    up.add_argument(
        "--openshift",
        action="store_true",
        help="play OpenShift's security: each new namespace gets its own UID range (openshift.io/sa.scc.* "
        "annotations) and every Pod is admitted by the restricted-v2 SCC (docs/devcluster.md)",
    )
    up.add_argument(
        "--plain-http",
        action="store_true",
        help="serve plain HTTP instead of HTTPS with a generated CA (kubectl then sends no token)",
    )
    up.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="also prepare NS for requests (repeatable): created if missing, with the render ServiceAccount "
        "and the artifact claim, as the chart's render.namespaces does (default alone is prepared otherwise)",
    )
    up.add_argument(
        "--normal-priority",
        action="store_true",
        help="leave the API server at normal scheduling priority (default, when allowed: real-time "
        "priority for its thread only, so it answers at once while renders fill the cores)",
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
    from .devup import run

    if args.gemini_script is not None and not args.gemini_script.is_file():
        parser.error(f"no such file: {args.gemini_script}")
    if args.gc_delay is not None and args.gc_delay < 0:
        parser.error("--gc-delay: seconds must not be negative")
    return run(args)
