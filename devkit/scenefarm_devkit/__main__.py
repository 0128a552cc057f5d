"""`python -m scenefarm_devkit up`: run the dev cluster in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import functools
import signal
import sys
from pathlib import Path

from scenefarm_devkit.apiserver.lifecycle import DevCluster
from scenefarm_devkit.instant_renders import synthetic_end


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scenefarm_devkit")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="serve the Kubernetes API on 127.0.0.1")
    up.add_argument("--state-dir", type=Path, default=Path(".devcluster"))
    up.add_argument("--port", type=int, default=0)
    up.add_argument("--crd", type=Path, action="append", default=[], help="manifest(s) to create at start")
    up.add_argument("--request-log", type=Path, default=None, help="append every request as JSON lines")
    up.add_argument("--no-job-runner", action="store_true", help="serve the API only: Jobs never run")
    up.add_argument("--instant", action="store_true", help="Jobs succeed at once without running anything")
    return parser


async def _up(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from scenefarm_devkit.jobrunner import JobRunnerConfig, run_job_runner

    args.state_dir = args.state_dir.resolve()  # Pods run in their own directories: paths must be absolute
    runner = functools.partial(
        run_job_runner,
        config=JobRunnerConfig(state_dir=args.state_dir, instant=synthetic_end if args.instant else None),
    )
    tasks = [] if args.no_job_runner else [runner]
    cluster = DevCluster(
        args.state_dir,
        port=args.port,
        crds=args.crd,
        extra_tasks=tasks,
        request_log_path=args.request_log,
        persist=True,  # objects survive a restart on the same state directory
    )
    async with cluster:
        print(cluster.kubeconfig_path.resolve(), flush=True)
        print(
            f"serving {cluster.url}; export KUBECONFIG={cluster.kubeconfig_path.resolve()}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    asyncio.run(_up(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
