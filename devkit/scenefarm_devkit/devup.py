"""`scenefarm dev up`: the dev cluster, its Job runner, the operator and (on request) the doubles.

Objects persist in the state directory: a restarted `dev up` on the same directory has them back.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading

from rich.console import Console

from .data import example_path
from .dev_doubles import appwrite_double, gemini_double
from .devenv import DevEnv
from .kubeconfig_merge import current_context


def doubles(args: argparse.Namespace, stack: contextlib.ExitStack, console: Console) -> dict[str, str]:
    """Start the requested doubles; the operator settings that wire them (or a real Gemini)."""
    settings: dict[str, str] = {}
    if args.gemini_base_url:
        if not os.environ.get("SCENEFARM_GEMINI_API_KEY"):
            raise SystemExit(
                "--gemini-base-url needs the key in SCENEFARM_GEMINI_API_KEY (never on the command line)"
            )
        settings["SCENEFARM_GEMINI_BASE_URL"] = args.gemini_base_url
        console.print(f"Gemini: {args.gemini_base_url} (key from SCENEFARM_GEMINI_API_KEY)", soft_wrap=True)
    elif args.gemini_double or args.gemini_script:
        try:
            double, wired = stack.enter_context(gemini_double(args.gemini_script))
        except ValueError as exc:
            raise SystemExit(str(exc)) from exc
        settings |= wired
        scripted = f", script {args.gemini_script}" if args.gemini_script else ""
        console.print(f"Gemini double: {double.base_url}{scripted}", soft_wrap=True)
    if args.appwrite_double:
        appwrite, wired = stack.enter_context(appwrite_double())
        settings |= wired
        console.print(
            f"Appwrite double: {appwrite.endpoint} (project {appwrite.double.project}, "
            f"key {wired['SCENEFARM_APPWRITE_API_KEY']})",
            soft_wrap=True,
        )
    return settings


def run(args: argparse.Namespace) -> int:
    console = Console()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.ExitStack() as stack:
        settings = doubles(args, stack, console)
        env = stack.enter_context(
            DevEnv(args.state_dir, instant=args.instant, port=args.port, operator_env=settings, persist=True)
        )
        if not args.no_operator:
            env.start_operator()
        print(env.kubeconfig, flush=True)  # first, alone on its line: for scripts
        console.print(f"dev cluster ready. kubeconfig: {env.kubeconfig}", soft_wrap=True)
        console.print(
            f"  try: kubectl --kubeconfig {env.kubeconfig} apply -f {example_path()}", soft_wrap=True
        )
        console.print(f"       kubectl --kubeconfig {env.kubeconfig} get vr -w", soft_wrap=True)
        if not args.no_switch_context:  # as kind does: kubectl and `scenefarm submit` find it
            merged = stack.enter_context(current_context(env.kubeconfig))
            console.print(f"current context: scenefarm-dev (in {merged}) while up", soft_wrap=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0
