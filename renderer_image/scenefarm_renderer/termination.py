"""Writing the termination message the operator reads from Pod status."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from .contract import DEFAULT_TERMINATION_LOG, TERMINATION_LOG_ENV, TerminationMessage


def write_termination_message(message: TerminationMessage, environ: Mapping[str, str] = os.environ) -> None:
    """Write `message` to the termination log; on failure print it to stderr and carry on.

    Outside Kubernetes `/dev/termination-log` usually does not exist; the exit
    code still tells the class, so a failed write must not change the outcome.
    """
    text = message.to_json()
    path = environ.get(TERMINATION_LOG_ENV, DEFAULT_TERMINATION_LOG)
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        print(f"scenefarm: cannot write termination message to {path}: {exc}", file=sys.stderr)
        print(text, file=sys.stderr)
