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
        return NotFound(f"{what} not found")
    if code in (401, 403):
        return Forbidden(f"not allowed: {message}")
    if code in (400, 409, 422):
        return Refused(f"{what}: {message}")
    return CliError(f"{what}: the API server answered {code}: {message}")
