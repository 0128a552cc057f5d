"""HMAC-SHA256 signatures of webhook bodies.

Header `Scenefarm-Signature: t=<unix seconds>,v1=<hex>` where the hex digest is
HMAC-SHA256(key, "<t>." + body). The timestamp is signed too, so a receiver can refuse replays
older than a few minutes; `verify` is what a receiver in Python would run.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Scenefarm-Signature"
TOLERANCE_SECONDS = 300


def sign(key: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(key: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `key` and its timestamp is within `tolerance` of `now`."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(key, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
