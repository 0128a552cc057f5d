"""The Storage part of the double: buckets and files, with Appwrite's chunked upload protocol.

The SDK sends files over 5 MiB as multipart requests of 5 MiB each, with `content-range:
bytes start-end/size`; every request after the first names the file in `x-appwrite-id`. The
server counts the chunks it stored in `chunksUploaded` and the file is readable only once
`chunksUploaded == chunksTotal`. A dropped chunk (fault injection) is answered 200 without being
stored — exactly the case the SDK does not notice.

A caller with a session reads a file only where the bucket or (file security) the file grants
its roles `read`; bucket management needs the API key. A file that becomes complete, and a
deleted file, go to `notify` (Realtime).
"""

from __future__ import annotations

import hashlib
import math
import mimetypes
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import AppwriteError, conflict, invalid, not_found
from .identity import Identity, check_own_roles, may, require_server, unauthorized
from .model import DROP_CHUNK, IDENTITY, check_id, check_permissions, no_content, now_iso, ok, params_of

# (action, bucket, file) -> Realtime
FileNotifier = Callable[[str, dict[str, Any], "StoredFile"], None]

CHUNK_SIZE = 5 * 1024 * 1024  # the server's chunk size; the SDK uses the same
RANGE_PATTERN = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def chunk_index_of(content_range: str | None) -> int | None:
    match = RANGE_PATTERN.match(content_range or "")
    return int(match.group(1)) // CHUNK_SIZE if match else None


class StoredFile:
    def __init__(self, bucket_id: str, file_id: str, name: str, size: int, permissions: list[str]) -> None:
        self.bucket_id = bucket_id
        self.id = file_id
        self.name = name
        self.size = size
        self.permissions = permissions
        self.chunks_total = max(1, math.ceil(size / CHUNK_SIZE))
        self.chunks: dict[int, bytes] = {}
        self.created = self.updated = now_iso()

    @property
    def complete(self) -> bool:
        return len(self.chunks) == self.chunks_total

    def content(self) -> bytes:
        return b"".join(self.chunks[i] for i in range(self.chunks_total))

    def to_json(self) -> dict[str, Any]:
        data = self.content() if self.complete else b""
        return {
            "$id": self.id,
            "bucketId": self.bucket_id,
            "$createdAt": self.created,
            "$updatedAt": self.updated,
            "$permissions": self.permissions,
            "name": self.name,
            "folder": "",
            "key": self.name,
            "signature": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "mimeType": mimetypes.guess_type(self.name)[0] or "application/octet-stream",
            "sizeOriginal": self.size,
            "sizeActual": self.size,
            "chunksTotal": self.chunks_total,
            "chunksUploaded": len(self.chunks),
            "encryption": False,
            "compression": "none",
        }


class StorageState:
    """All buckets and files of the double, with the HTTP handlers that serve them."""

    def __init__(self, notify: FileNotifier | None = None) -> None:
        self.notify = notify
        self.buckets: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str], StoredFile] = {}

    def routes(self, prefix: str = "/v1/storage/buckets") -> list[web.RouteDef]:
        f = prefix + "/{bucket}/files/{file}"
        console = [
            web.get(prefix, self.list_buckets),
            web.post(prefix, self.create_bucket),
            web.get(prefix + "/{bucket}", self.get_bucket),
            web.put(prefix + "/{bucket}", self.update_bucket),
            web.delete(prefix + "/{bucket}", self.delete_bucket),
        ]
        return [
            *[web.route(r.method, r.path, server_only(r.handler)) for r in console],  # type: ignore[attr-defined]
            web.get(prefix + "/{bucket}/files", self.list_files),
            web.post(prefix + "/{bucket}/files", self.create_file),
            web.get(f, self.get_file),
            web.delete(f, self.delete_file),
            web.get(f + "/view", self.file_content),
            web.get(f + "/download", self.file_content),  # the same bytes, as an attachment
        ]

    def bucket(self, request: web.Request) -> dict[str, Any]:
        bucket = self.buckets.get(request.match_info["bucket"])
        if bucket is None:
            raise not_found("storage_bucket_not_found", "Storage bucket")
        return bucket

    def file(self, request: web.Request) -> StoredFile:
        bucket = self.bucket(request)
        stored = self.files.get((bucket["$id"], request.match_info["file"]))
        if stored is None or not readable(bucket, stored, request[IDENTITY]):
            raise not_found("storage_file_not_found", "The requested file")
        return stored

    async def list_buckets(self, request: web.Request) -> web.Response:
        return ok({"total": len(self.buckets), "buckets": list(self.buckets.values())})

    async def create_bucket(self, request: web.Request) -> web.Response:
        params = await params_of(request)
        bucket_id = check_id(params.get("bucketId"), "bucketId")
        if bucket_id in self.buckets:
            raise conflict("storage_bucket_already_exists", "Bucket")
        stamp = now_iso()
        self.buckets[bucket_id] = {
            "$id": bucket_id,
            "$createdAt": stamp,
            "$updatedAt": stamp,
            "$permissions": check_permissions(params.get("permissions")),
            "fileSecurity": bool(params.get("fileSecurity", False)),
            "name": str(params.get("name", bucket_id)),
            "description": "",
            "enabled": bool(params.get("enabled", True)),
            "maximumFileSize": int(params.get("maximumFileSize", 30_000_000)),
            "allowedFileExtensions": list(params.get("allowedFileExtensions") or []),
            "compression": str(params.get("compression", "none")),
            "encryption": bool(params.get("encryption", True)),
            "antivirus": bool(params.get("antivirus", True)),
            "transformations": bool(params.get("transformations", True)),
            "stripMetadata": False,
            "totalSize": 0,
        }
        return ok(self.buckets[bucket_id], 201)

    async def get_bucket(self, request: web.Request) -> web.Response:
        return ok(self.bucket(request))

    async def update_bucket(self, request: web.Request) -> web.Response:
        bucket = self.bucket(request)
        params = await params_of(request)
        for key in ("name", "fileSecurity", "enabled", "maximumFileSize", "allowedFileExtensions"):
            if key in params:
                bucket[key] = params[key]
        if "permissions" in params:
            bucket["$permissions"] = check_permissions(params["permissions"])
        bucket["$updatedAt"] = now_iso()
        return ok(bucket)

    async def delete_bucket(self, request: web.Request) -> web.Response:
        bucket_id = self.bucket(request)["$id"]
        del self.buckets[bucket_id]
        self.files = {k: v for k, v in self.files.items() if k[0] != bucket_id}
        return no_content()

    async def list_files(self, request: web.Request) -> web.Response:
        bucket = self.bucket(request)
        identity = request[IDENTITY]
        files = [
            f.to_json()
            for (b, _), f in self.files.items()
            if b == bucket["$id"] and readable(bucket, f, identity)
        ]
        return ok({"total": len(files), "files": files})

    async def get_file(self, request: web.Request) -> web.Response:
        return ok(self.file(request).to_json())

    async def delete_file(self, request: web.Request) -> web.Response:
        stored = self.file(request)
        bucket = self.bucket(request)
        item = stored.permissions if bucket["fileSecurity"] else None
        if not may(request[IDENTITY], "delete", bucket["$permissions"], item):
            raise unauthorized()
        del self.files[(stored.bucket_id, stored.id)]
        if self.notify is not None and stored.complete:
            self.notify("delete", bucket, stored)
        return no_content()

    async def file_content(self, request: web.Request) -> web.Response:
        stored = self.file(request)
        if not stored.complete:
            raise not_found("storage_file_not_found", "The requested file")
        content_type = stored.to_json()["mimeType"]
        # As Appwrite: `view` shows the file in the browser, `download` saves it.
        disposition = "attachment" if request.path.endswith("/download") else "inline"
        headers = {"Content-Disposition": f'{disposition}; filename="{stored.name}"'}
        return web.Response(body=stored.content(), content_type=content_type, headers=headers)

    async def create_file(self, request: web.Request) -> web.Response:
        bucket = self.bucket(request)
        identity: Identity = request[IDENTITY]
        if not may(identity, "create", bucket["$permissions"], None):
            raise unauthorized()
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise invalid("Invalid `file` param: No file sent")
        data = upload.file.read()
        file_id = check_id(request.headers.get("x-appwrite-id") or form.get("fileId"), "fileId")
        permissions = [str(v) for k, v in form.items() if k.startswith("permissions[")]
        check_own_roles(identity, permissions)
        start, size = 0, len(data)
        match = RANGE_PATTERN.match(request.headers.get("content-range", ""))
        if match:
            start, end, size = (int(g) for g in match.groups())
            if end - start + 1 != len(data):
                raise invalid("Invalid content-range header: chunk size does not match the range")
        if size > int(bucket["maximumFileSize"]):
            raise AppwriteError(400, "storage_invalid_file_size", "File size not allowed")
        stored = self.files.get((bucket["$id"], file_id))
        if stored is not None and stored.complete:
            raise conflict("storage_file_already_exists", "A storage file")
        if stored is None:
            stored = StoredFile(bucket["$id"], file_id, upload.filename, size, check_permissions(permissions))
            self.files[(bucket["$id"], file_id)] = stored
        was_complete = stored.complete
        if not request.get(DROP_CHUNK):
            stored.chunks[start // CHUNK_SIZE] = data
        stored.updated = now_iso()
        if self.notify is not None and stored.complete and not was_complete:
            self.notify("create", bucket, stored)
        return ok(stored.to_json(), 201 if stored.complete else 200)


def server_only(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    async def guarded(request: web.Request) -> web.StreamResponse:
        require_server(request[IDENTITY], "buckets.write" if request.method != "GET" else "buckets.read")
        return await handler(request)  # type: ignore[no-any-return]

    return guarded


def readable(bucket: dict[str, Any], stored: StoredFile, identity: Identity) -> bool:
    item = stored.permissions if bucket["fileSecurity"] else None
    return may(identity, "read", bucket["$permissions"], item)
