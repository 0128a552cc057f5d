"""`scenefarm dev up`: the dev cluster, its Job runner, the operator and (on request) the doubles.

Objects persist in the state directory: a restarted `dev up` on the same directory has them back.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console

from .data import chart_path, example_path
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


LOCK_FILE = "dev-up.lock"


@contextlib.contextmanager
def single_instance(state_dir: Path) -> Iterator[TextIO]:
    """One `dev up` per state directory (kind and minikube refuse a second cluster of one name).

    An advisory lock the kernel drops when the holder dies; the file names the holder's PID and
    kubeconfig, so a second `dev up` can say which one is running.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    with path.open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = dict(line.split("=", 1) for line in lock.read().splitlines() if "=" in line)
            raise SystemExit(
                f"another `scenefarm dev up` (PID {holder.get('pid', '?')}) is running on {state_dir}; "
                f"its kubeconfig: {holder.get('kubeconfig', state_dir / 'kubeconfig')}. Stop it (Ctrl-C "
                "or kill that PID) or give this one another --state-dir."
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid={os.getpid()}\nkubeconfig={state_dir.resolve() / 'kubeconfig'}\n")
        lock.flush()
        try:
            yield lock
        finally:
            lock.truncate(0)


def run(args: argparse.Namespace) -> int:
    console = Console()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.ExitStack() as stack:
        stack.enter_context(single_instance(Path(args.state_dir)))
        settings = doubles(args, stack, console)
        env = stack.enter_context(
            DevEnv(
                args.state_dir,
                instant=args.instant,
                port=args.port,
                operator_env=settings,
                persist=True,
                render_account=not args.no_operator,  # `helm install` makes it then
                gc_delay=getattr(args, "gc_delay", None),
                tls=not getattr(args, "plain_http", False),  # as real clusters: HTTPS, CA in the kubeconfig
                openshift=getattr(args, "openshift", False),  # restricted-v2 and per-namespace UID ranges
                prompt=not getattr(args, "normal_priority", False),  # answers as a dedicated control plane
            )
        )
        for namespace in dict.fromkeys(getattr(args, "namespace", None) or []):
            env.prepare_namespace(namespace)
        if not args.no_operator:
            env.start_operator()
        print(env.kubeconfig, flush=True)  # first, alone on its line: for scripts
        console.print(f"dev cluster ready. kubeconfig: {env.kubeconfig}", soft_wrap=True)
        if env.cluster.priority_refused is not None:
            console.print(
                f"  the API server runs at normal priority ({env.cluster.priority_refused}): "
                "under load its answers may wait for a core (docs/devcluster.md)",
                soft_wrap=True,
            )
        if getattr(args, "openshift", False):
            console.print(
                "  OpenShift mode: every namespace gets its openshift.io/sa.scc.* ranges, every Pod the "
                "restricted-v2 SCC (a runAsUser outside the range is refused: install with openshift=true)",
                soft_wrap=True,
            )
        console.print(
            f"  try: kubectl --kubeconfig {env.kubeconfig} apply -f {example_path()}", soft_wrap=True
        )
        console.print(f"       kubectl --kubeconfig {env.kubeconfig} get vr -w", soft_wrap=True)
        prepared = ", ".join(["default", *dict.fromkeys(getattr(args, "namespace", None) or [])])
        console.print(
            f"  namespaces ready for requests: {prepared} (more: dev up --namespace NS; docs/devcluster.md)",
            soft_wrap=True,
        )
        if args.no_operator:
            console.print(
                f"  the operator as deployed: helm install scenefarm {chart_path()}"
                f" --kubeconfig {env.kubeconfig} (its Deployment runs here; the PVC exists in default)",
                soft_wrap=True,
            )
        if not args.no_switch_context:  # as kind does: kubectl and `scenefarm submit` find it
            merged = stack.enter_context(current_context(env.kubeconfig))
            console.print(f"current context: scenefarm-dev (in {merged}) while up", soft_wrap=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
    return 0
