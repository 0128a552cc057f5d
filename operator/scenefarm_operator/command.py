"""`scenefarm operator`: run the operator (kopf run) against the current kubeconfig.

The `scenefarm` command line (scenefarm_cli) finds this through the `scenefarm.commands` entry
point group and calls `register(subparsers)`; the operator never imports the CLI, nor the CLI
the operator. The help lists every setting (support/settings_doc.py) with its default.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from scenefarm_operator.support.settings import Settings
from scenefarm_operator.support.settings_doc import settings_table

ENTRY_MODULE = "scenefarm_operator.main"  # the one kopf entry module


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `operator` to the `scenefarm` parser."""
    operator = sub.add_parser(
        "operator",
        help="run the operator (kopf run) against the current kubeconfig",
        description="Run the operator (kopf run) against the current kubeconfig. "
        "It reads these environment variables once at start:",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    operator.set_defaults(run=lambda _args, _parser: run())


def settings_help() -> str:
    return _table(("VARIABLE", "DEFAULT", "MEANING"), settings_table()) + "\n"


def run() -> int:
    """Become `kopf run -m scenefarm_operator.main`, scoped to SCENEFARM_NAMESPACES (or all)."""
    settings = Settings.from_env()
    scope = (
        ["--all-namespaces"] if not settings.namespaces else [f"--namespace={n}" for n in settings.namespaces]
    )
    cmd = [sys.executable, "-m", "kopf", "run", "-m", ENTRY_MODULE, *scope]
    os.execv(sys.executable, cmd)  # noqa: S606 - becomes the operator process, no shell involved
    return 0  # pragma: no cover - execv does not return


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain table as the CLI prints them: columns padded by three spaces, no wrapping."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = (
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) for row in [headers, *rows]
    )
    return "\n".join(line.rstrip() for line in lines)
