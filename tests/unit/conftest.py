"""Shared fixtures: the Appwrite double in its own thread (the SDK blocks its caller) with
configs for the real `appwrite` SDK pointed at it, and the Gemini double (`gemini`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from appwrite.client import Client

from scenefarm_devkit.appwrite_double import AppwriteDoubleThread
from scenefarm_devkit.doubles import gemini_double
from scenefarm_devkit.gemini_double import GeminiDouble
from scenefarm_operator.web import AppwriteConfig
from scenefarm_operator.web.calls import make_client

API_KEY = "sk-test-7f3a9b2c1d4e5f60718293a4b5c6d7e8"


@pytest.fixture
def double() -> Iterator[AppwriteDoubleThread]:
    with AppwriteDoubleThread(api_key=API_KEY, column_delay=0.05) as running:
        yield running


@pytest.fixture
def config(double: AppwriteDoubleThread) -> AppwriteConfig:
    return AppwriteConfig(
        endpoint=double.endpoint,
        project=double.double.project,
        api_key=API_KEY,
        coalesce_seconds=0.2,
        backoff_seconds=0.02,
        max_backoff_seconds=0.2,
        read_timeout=5.0,
        call_timeout=5.0,
    )


@pytest.fixture
def client(config: AppwriteConfig) -> Client:
    return make_client(config)


@pytest.fixture
async def gemini() -> AsyncIterator[GeminiDouble]:
    """The Gemini double with the dev kit's defaults (Template plans), on a free port."""
    async with gemini_double() as running:
        yield running
