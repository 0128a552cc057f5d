"""Deleting a Job the way the TTL-after-finished controller does: only the Job it looked at.

The real controller sends DeleteOptions with `preconditions.uid`: a Job deleted and re-created
under the same name between the check and the delete is left alone (409 Conflict). lightkube's
`delete` sends no body, so this builds the request on lightkube's own request machinery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.batch_v1 import Job


async def delete_job_if_same(client: AsyncClient, job: Mapping[str, Any]) -> None:
    """Delete `job` (background propagation) unless another object now has its name (409)."""
    meta = job["metadata"]
    generic = client._client  # lightkube's request builder: its `delete` sends no body
    request = generic.prepare_request("delete", res=Job, name=meta["name"], namespace=meta["namespace"])
    request.data = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Background",
        "preconditions": {"uid": meta["uid"]},
    }
    response = await generic.send(generic.build_adapter_request(request))  # type: ignore[no-untyped-call]
    generic.handle_response("delete", response, request)
