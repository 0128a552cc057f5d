"""Fixtures for planning tests: a Gemini double on a free port and a planner pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from scenefarm_devcluster.gemini_double import GeminiDouble
from scenefarm_operator.planning.gemini import GeminiOptions, GeminiPlanner

# Fast SDK retries: the backoff itself is the SDK's business, the tests check that it retries.
FAST = {"retry_initial_delay": 0.01, "retry_max_delay": 0.05, "retry_jitter": 0.0, "timeout_seconds": 30.0}


@pytest.fixture
async def double() -> AsyncIterator[GeminiDouble]:
    async with GeminiDouble() as running:
        yield running


@pytest.fixture
def planner(double: GeminiDouble) -> GeminiPlanner:
    return GeminiPlanner(GeminiOptions(api_key="test-key", base_url=double.base_url, **FAST))
