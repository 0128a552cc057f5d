"""Calling the synchronous Appwrite SDK from the operator's event loop: bounded and quiet.

The SDK (27.0.0) calls `requests.request` with no timeout and never retries. We give its module a
stand-in for `requests` that adds a (connect, read) timeout to every request, run each call in a
small thread pool under `asyncio.wait_for`, and retry 429, 5xx and connection errors with
backoff. Exception texts pass through `redact` so the API key can never reach a log or a status.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import math
import random
from collections.abc import Callable
from typing import Any, TypeVar

import appwrite.client
from appwrite.client import Client
from appwrite.exception import AppwriteException

from scenefarm_contract.appwrite_sdk import TimeoutRequests, redact, status_of
from scenefarm_contract.backoff import Backoff

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class AppwriteConfig:
    endpoint: str
    project: str
    api_key: str = dataclasses.field(repr=False)
    database: str = "scenefarm"
    bucket: str = "videos"
    on_delete: str = "Delete"  # Delete: rows and files go with the VideoRequest; Retain: kept, marked
    user_requests: bool = False  # the web intake is on: signed-in users may create `videos` rows
    intake_namespace: str = ""  # the web intake's: only its requests mirror into request rows
    coalesce_seconds: float = 0.5  # at most one write per row per this interval
    connect_timeout: float = 3.05
    read_timeout: float = 15.0
    call_timeout: float = 20.0  # whole SDK call, in case a server trickles bytes
    attempts: int = 3  # per call, for 429, 5xx and connection errors
    backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0  # between probes while Appwrite is down
    workers: int = 4

    @property
    def call_backoff(self) -> Backoff:
        """Between the tries of one call: backoff_seconds doubling (before jitter), uncapped."""
        return Backoff(base=self.backoff_seconds, cap=math.inf)  # `attempts` bounds the tries

    @property
    def outage_backoff(self) -> Backoff:
        """Between the mirror's probes while Appwrite is down: 0.25 s doubling to max_backoff_seconds."""
        return Backoff(base=0.25, cap=self.max_backoff_seconds)

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> AppwriteConfig:
        """From the operator's frozen settings (`appwrite_*` fields)."""
        return cls(
            endpoint=settings.appwrite_endpoint,
            project=settings.appwrite_project,
            api_key=settings.appwrite_api_key,
            database=settings.appwrite_database,
            bucket=settings.appwrite_bucket,
            on_delete=getattr(settings, "appwrite_on_delete", "Delete"),
            user_requests=bool(getattr(settings, "intake_namespace", "")),
            intake_namespace=str(getattr(settings, "intake_namespace", "") or ""),
            **overrides,
        )


def install_timeouts(connect: float, read: float) -> None:
    """Make every SDK request time out; the SDK offers no setting for it (27.0.0)."""
    appwrite.client.requests = TimeoutRequests((connect, read))  # type: ignore[assignment]


def make_client(config: AppwriteConfig) -> Client:
    install_timeouts(config.connect_timeout, config.read_timeout)
    return Client().set_endpoint(config.endpoint).set_project(config.project).set_key(config.api_key)


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, TimeoutError):
        return True
    status = status_of(error)
    return status in (0, 429) or status >= 500


def describe(error: BaseException, secret: str) -> str:
    """A one-line account of a failure for logs and status, without the key."""
    if isinstance(error, TimeoutError):
        return "Appwrite did not answer in time"
    status = status_of(error)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    prefix = f"Appwrite answered {status}" if status else "Appwrite unreachable"
    return redact(f"{prefix}: {message}", secret)[:500]


class Caller:
    """Runs SDK calls in a few worker threads, each with a timeout and bounded retries."""

    def __init__(self, config: AppwriteConfig) -> None:
        self.config = config
        self._pool = concurrent.futures.ThreadPoolExecutor(config.workers, thread_name_prefix="appwrite")

    async def once(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        loop = asyncio.get_running_loop()
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the call completes (gh-86296), and a stopped loop then runs on for ever.
        async with asyncio.timeout(timeout or self.config.call_timeout):
            return await loop.run_in_executor(self._pool, fn)

    async def call(
        self, fn: Callable[[], T], *, attempts: int | None = None, timeout: float | None = None
    ) -> T:
        attempts = attempts or self.config.attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self.once(fn, timeout)
            except (AppwriteException, TimeoutError) as error:
                if attempt == attempts or not is_retryable(error):
                    raise
                delay = self.config.call_backoff.delay(attempt - 1) * (0.5 + random.random())
                logger.debug(
                    "Retrying an Appwrite call in %.2fs: %s", delay, describe(error, self.config.api_key)
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def close(self) -> None:
        # Do not wait: a call stuck on a dead server ends by its own socket timeout.
        self._pool.shutdown(wait=False, cancel_futures=True)
