"""Fixtures: an in-process dev cluster with the VideoRequest test CRD, and a raw HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from scenefarm_devkit.apiserver import DevCluster

from .helpers import CRD_PATH, Client


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[DevCluster]:
    async with DevCluster(tmp_path / "state", crds=[CRD_PATH], bookmark_interval=0.2) as running:
        yield running


@pytest.fixture
async def client(cluster: DevCluster) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, cluster.url, cluster.token_for("admin"))
