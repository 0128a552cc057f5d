"""Reading a video from the Appwrite artifact store with the Appwrite SDK.

The status holds the file's view URL (`<endpoint>/storage/buckets/<bucket>/files/<id>/view?
project=<project>`). Credentials, first found wins: `--appwrite-key`, `$APPWRITE_API_KEY`, or
`apiKey` of the Secret named by `--appwrite-secret` (the operator's credentials Secret, if the
user may read it); `$APPWRITE_JWT` signs in as an Appwrite user instead (read permission is
the request's `spec.owner.appwriteUserId`). `--appwrite-endpoint` / `$APPWRITE_ENDPOINT`
replace an in-cluster endpoint that the user's machine cannot reach.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

from appwrite.client import Client

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import CliError, Forbidden, NotFound, UsageError

MARKER = "/storage/buckets/"


@dataclasses.dataclass(frozen=True)
class FileRef:
    endpoint: str
    project: str
    bucket: str
    file_id: str


def is_appwrite_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://")) and MARKER in uri


def parse(uri: str) -> FileRef:
    parts = urlsplit(uri)
    head, _, tail = parts.path.partition(MARKER)
    segments = tail.split("/")
    if len(segments) < 3 or segments[1] != "files":
        raise UsageError(f"not an Appwrite file URL: {uri}")
    project = (parse_qs(parts.query).get("project") or [""])[0]
    return FileRef(f"{parts.scheme}://{parts.netloc}{head}", project, segments[0], segments[2])


@dataclasses.dataclass(frozen=True)
class Credentials:
    key: str = dataclasses.field(default="", repr=False)
    jwt: str = dataclasses.field(default="", repr=False)
    endpoint: str = ""


def credentials(conn: Connection, key: str | None, secret: str | None, endpoint: str | None) -> Credentials:
    endpoint = endpoint or os.environ.get("APPWRITE_ENDPOINT", "")
    if key or os.environ.get("APPWRITE_API_KEY"):
        return Credentials(key=key or os.environ["APPWRITE_API_KEY"], endpoint=endpoint)
    if secret:
        return Credentials(key=_secret_key(conn, secret), endpoint=endpoint)
    if os.environ.get("APPWRITE_JWT"):
        return Credentials(jwt=os.environ["APPWRITE_JWT"], endpoint=endpoint)
    raise UsageError(
        "this video is in Appwrite Storage: give an API key (--appwrite-key or APPWRITE_API_KEY), "
        "the operator's credentials Secret (--appwrite-secret NAME) or a user's JWT (APPWRITE_JWT)"
    )


def _secret_key(conn: Connection, name: str) -> str:
    from lightkube.resources.core_v1 import Secret

    with conn.talking(f"secret/{name} in namespace {conn.namespace}"):
        secret = conn.client().get(Secret, name, namespace=conn.namespace)
    encoded = (secret.data or {}).get("apiKey")
    if not encoded:
        raise NotFound(f"secret/{name} has no apiKey")
    return base64.b64decode(encoded).decode()


def download(ref: FileRef, creds: Credentials) -> bytes:
    """The whole file, checked complete against its metadata."""
    import appwrite.client
    from appwrite.services.storage import Storage

    from scenefarm_contract.appwrite_sdk import TimeoutRequests

    if not isinstance(appwrite.client.requests, TimeoutRequests):  # the SDK has no timeouts of its own
        appwrite.client.requests = TimeoutRequests()  # type: ignore[assignment]
    client = Client().set_endpoint(creds.endpoint or ref.endpoint).set_project(ref.project)
    client = client.set_key(creds.key) if creds.key else client.set_jwt(creds.jwt)
    storage = Storage(client)
    meta = _call(lambda: storage.get_file(ref.bucket, ref.file_id), ref)
    if meta.chunksuploaded != meta.chunkstotal:
        raise CliError(f"file {ref.file_id} in bucket {ref.bucket} is incomplete in Appwrite")
    content: bytes = _call(lambda: storage.get_file_download(ref.bucket, ref.file_id), ref)
    if len(content) != int(meta.sizeoriginal):
        raise CliError(f"got {len(content)} of {int(meta.sizeoriginal)} bytes of file {ref.file_id}")
    return content


def _call(fn: Any, ref: FileRef) -> Any:
    from appwrite.exception import AppwriteException
    from requests import RequestException

    try:
        return fn()
    except AppwriteException as error:
        code = int(getattr(error, "code", 0) or 0)
        if code == 404:
            raise NotFound(f"file {ref.file_id} is not in Appwrite bucket {ref.bucket}") from None
        if code in (401, 403):
            raise Forbidden(f"Appwrite refused access to file {ref.file_id}: {error.message}") from None
        raise CliError(f"Appwrite answered {code}: {error.message}") from None
    except RequestException as error:
        raise CliError(f"cannot reach Appwrite at {ref.endpoint}: {error}") from None
