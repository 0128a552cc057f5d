"""Errors the API answers with, as lightkube raises them.

    httpx2.HTTPStatusError        any 4xx/5xx answer
     └── lightkube ApiError       ... when Content-Type is exactly `application/json`

lightkube only builds an ApiError for that exact Content-Type; anything else (for example
`application/json; charset=utf-8`) arrives as the bare HTTPStatusError, so we catch the base.
"""

from __future__ import annotations

from httpx2 import HTTPStatusError

ApiFailure = HTTPStatusError


def status_code(error: HTTPStatusError) -> int:
    return error.response.status_code
