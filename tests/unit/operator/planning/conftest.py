"""Fixtures for planning tests: a planner pointed at the Gemini double (`gemini`, tests/unit)."""

from __future__ import annotations

import pytest

from scenefarm_devkit.gemini_double import GeminiDouble
from scenefarm_operator.planning.gemini import GeminiOptions, GeminiPlanner

# Fast SDK retries: the backoff itself is the SDK's business, the tests check that it retries.
FAST = {"retry_initial_delay": 0.01, "retry_max_delay": 0.05, "retry_jitter": 0.0, "timeout_seconds": 30.0}


@pytest.fixture
def planner(gemini: GeminiDouble) -> GeminiPlanner:
    return GeminiPlanner(GeminiOptions(api_key="test-key", base_url=gemini.base_url, **FAST))
