"""Test helpers: the VideoRequest test CRD, a raw JSON client for the API server, manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

CRD_PATH = Path(__file__).parent / "videorequest_crd.yaml"
VR = "/apis/scenefarm.dev/v1alpha1/namespaces/default/videorequests"
CM = "/api/v1/namespaces/default/configmaps"


class Client:
    """A thin JSON client: returns (status, body) so tests can assert on both."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> tuple[int, Any]:
        data = json.dumps(body) if body is not None else None
        async with self.session.request(
            method,
            self.base + path,
            data=data,
            params=params or None,
            headers=self.headers | {"Content-Type": content_type} | (headers or {}),
        ) as response:
            text = await response.text()
            return response.status, json.loads(text) if text and text[0] in "{[" else text

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **params)

    async def post(self, path: str, body: Any, **params: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **params)

    async def put(self, path: str, body: Any, **params: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, body, **params)

    async def patch(self, path: str, body: Any, kind: str = "merge", **params: Any) -> tuple[int, Any]:
        return await self.request(
            "PATCH", path, body, content_type=f"application/{kind}-patch+json", **params
        )

    async def delete(self, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        return await self.request("DELETE", path, body, **params)

    async def watch(self, path: str, *, limit: int, **params: Any) -> list[dict[str, Any]]:
        """Events of a watch until `limit` arrived or the server ended the stream."""
        events: list[dict[str, Any]] = []
        params = {"watch": "true"} | {k: str(v) for k, v in params.items()}
        async with self.session.get(self.base + path, params=params, headers=self.headers) as response:
            async for line in response.content:
                if line.strip():
                    events.append(json.loads(line))
                if len(events) >= limit:
                    break
        return events


def vr(name: str, topic: str = "Newton's laws", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scenefarm.dev/v1alpha1",
        "kind": "VideoRequest",
        "metadata": {"name": name},
        "spec": {"topic": topic, **spec},
    }


def cm(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}, **meta},
        "data": {"k": "v"},
    }
