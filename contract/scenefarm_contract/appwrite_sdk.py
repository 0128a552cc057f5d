"""Helpers for the Appwrite SDK that the operator and the renderer share.

File ids (so the operator finds what a render Pod stored without asking it), redaction of the
API key from messages, the HTTP status of a failed call, what is worth retrying, and a stand-in
for the SDK's `requests` module that adds the timeouts the SDK (27.0.0) lacks.
"""

from __future__ import annotations

import hashlib
from typing import Any

import requests
from appwrite.exception import AppwriteException

TIMEOUT = (3.05, 60.0)  # (connect, read) seconds for every SDK request


def file_id(prefix: str, key: str) -> str:
    """A valid Appwrite id (≤ 36 of [a-zA-Z0-9._-]) that is the same wherever it is computed."""
    digest = hashlib.sha256(f"{prefix.strip('/')}/{key}".encode()).hexdigest()
    return "f-" + digest[:32]


class TimeoutRequests:
    """Stands in for the `requests` module inside `appwrite.client`: same API, default timeouts.

    The SDK (27.0.0) has no timeout setting; the operator's mirror uses this too (`calls.py`).
    """

    def __init__(self, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.timeout = timeout

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return requests.request(method, url, **kwargs)  # noqa: S113 (the timeout is in kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def status_of(error: BaseException | None) -> int:
    """The HTTP status of a failed call; 0 when no answer came (refused, reset, timed out)."""
    code = getattr(error, "code", 0)
    return code if isinstance(code, int) else 0


def retryable(error: BaseException | None) -> bool:
    """429, 5xx and no answer at all (refused, reset, timed out) are worth another try."""
    code = status_of(error)
    return isinstance(error, AppwriteException) and (code in (0, 429) or code >= 500)
