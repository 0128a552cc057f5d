"""The Appwrite schema with user requests on, for the intake tests."""

from __future__ import annotations

import pytest
from appwrite.client import Client

from scenefarm_operator.web.calls import AppwriteConfig
from scenefarm_operator.web.schema import ensure_schema


@pytest.fixture
def schema(client: Client, config: AppwriteConfig) -> None:
    ensure_schema(client, config.database, config.bucket, user_requests=True, poll_seconds=0.01)
