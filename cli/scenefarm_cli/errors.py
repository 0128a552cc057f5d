"""Every way a command can fail, as a message for people and an exit code for scripts.

CliError                  exit 1: the request ended Failed or Cancelled (watch, --wait)
├── UsageError            exit 2: a bad flag, file or value (argparse uses 2 as well)
├── NotFound              exit 3: no such request, scene, attempt, Pod or video (yet)
├── Refused               exit 4: the name is taken, the API rejected the object, Cancelled is final
├── Forbidden             exit 5: the cluster or the store said no (401/403)
├── Unreachable           exit 6: no kubeconfig, no such context, the cluster does not answer
├── IntegrityError        exit 7: a download does not match the sha256 in the status
├── WatchEnded            exit 1: the cluster ended a watch with no error (show/events.py)
└── TimedOut              exit 8: --timeout passed before the requests ended (show/watch.py)

CliError is the CLI's one error root; no class shares a name with an operator error
(tests/unit/test_vocabulary.py checks the tree).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from lightkube.core.exceptions import ApiError


class CliError(Exception):
    """A failure the user should read: `str(error)` is the whole message, no traceback."""

    exit_code = 1


class UsageError(CliError):
    exit_code = 2


class NotFound(CliError):
    exit_code = 3


class Refused(CliError):
    exit_code = 4


class Forbidden(CliError):
    exit_code = 5


class Unreachable(CliError):
    exit_code = 6


class IntegrityError(CliError):
    exit_code = 7


def from_api(error: ApiError, what: str) -> CliError:
    """The API server's answer about `what` (e.g. "videorequest/x in namespace default")."""
    code = error.status.code or 0
    message = error.status.message or error.status.reason or f"HTTP {code}"
    if code == 404:
        namespace = missing_namespace(error)
        return NotFound(f"namespace {namespace} not found" if namespace else f"{what} not found")
    if code in (401, 403):
        return Forbidden(f"not allowed: {message}")
    if code in (400, 409, 422):
        return Refused(f"{what}: {message}")
    return CliError(f"{what}: the API server answered {code}: {message}")


_NAMESPACE_NOT_FOUND = re.compile(r'namespaces "([^"]+)" not found')


def missing_namespace(error: ApiError) -> str | None:
    """The namespace a 404 is about, when the namespace itself is missing (not the object in it).

    The API server answers a write into a namespace that does not exist with a 404 whose details
    name the namespace (`kind: namespaces`, message `namespaces "x" not found`)."""
    status = error.status
    details = status.details
    if details is not None and details.kind == "namespaces" and details.name:
        return str(details.name)
    found = _NAMESPACE_NOT_FOUND.fullmatch(status.message or "")
    return found.group(1) if found else None


def bad_yaml(path: Path | str, error: yaml.YAMLError, text: str) -> UsageError:
    """PyYAML's report of `text` (several lines, about "<unicode string>") as one line naming the
    file and the place: `FILE: line L, column C: found unexpected end of stream while scanning a
    quoted scalar`. The place is the problem's, except at the end of the file (an unclosed quote
    or bracket): then it is where the unfinished part starts."""
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML does not allow
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        char: Any = error.character  # a code point (int) for text, as PyYAML's own message shows it
        code = ord(char) if isinstance(char, str) else int(char)
        return UsageError(
            f"{path}: line {line}, column {column}: unacceptable character #x{code:04x}: {error.reason}"
        )
    problem: Any = getattr(error, "problem", None)
    if problem is None:
        return UsageError(f"{path} is not valid YAML: {_one_line(str(error))}")
    context: Any = getattr(error, "context", None)
    mark: Any = getattr(error, "problem_mark", None)
    start: Any = getattr(error, "context_mark", None)
    if start is not None and (mark is None or mark.index >= len(text.rstrip())):
        mark = start
    elif context and start is not None and mark is not None and start.line != mark.line:
        context = f"{context} started at line {start.line + 1}, column {start.column + 1}"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return UsageError(f"{path}: {where}{_one_line(f'{problem} {context}' if context else str(problem))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
