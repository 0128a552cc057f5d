"""The `Appwrite` artifact store: scene and final videos as files in an Appwrite Storage bucket.

File ids are derived from the artifact prefix and key (`f-` + 32 hex of their sha256), so the
operator can find, and delete, what a render pod stored without asking it. The SDK (27.0.0)
uploads files over 5 MiB in 5 MiB chunks, all but the first in parallel, and does not notice a
chunk the server did not keep: we check `chunksUploaded == chunksTotal` on its answer and
otherwise delete the file and upload it again (bounded). The SDK has no timeouts; we give its
`requests` module a stand-in that adds them. Credentials come from the environment only (a
Secret reference on the pod) and never appear in messages.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import appwrite.client
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.permission import Permission
from appwrite.role import Role
from appwrite.services.storage import Storage

from scenefarm_contract.appwrite_sdk import TimeoutRequests, file_id, redact, retryable, status_of
from scenefarm_contract.backoff import Backoff
from scenefarm_renderer.errors import EnvironmentProblem, TransientProblem

logger = logging.getLogger(__name__)
T = TypeVar("T")
ENV_NAMES = ("APPWRITE_ENDPOINT", "APPWRITE_PROJECT_ID", "APPWRITE_API_KEY", "APPWRITE_BUCKET_ID")
OWNER_ENV = "SCENEFARM_OWNER_USER_ID"


class AppwriteStoreError(TransientProblem):
    """Storing or fetching an artifact failed, or it is missing: exit class 30, retry the Pod."""


class AppwriteSetupError(EnvironmentProblem):
    """The store is not configured, or Appwrite refuses its credentials: exit class 20."""


class AppwriteStore:
    """`put`/`get`/`exists` of artifacts under one prefix, the renderer's ArtifactStore protocol."""

    def __init__(
        self,
        *,
        endpoint: str,
        project: str,
        api_key: str,
        bucket: str,
        prefix: str,
        owner_user_id: str | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
    ) -> None:
        if not isinstance(appwrite.client.requests, TimeoutRequests):  # keep timeouts already set
            appwrite.client.requests = TimeoutRequests()  # type: ignore[assignment]
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self.bucket = bucket
        self.prefix = prefix
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._secret = api_key
        self.storage = Storage(Client().set_endpoint(self.endpoint).set_project(project).set_key(api_key))
        self.permissions = [Permission.read(Role.user(owner_user_id))] if owner_user_id else []

    def _pause(self, attempt: int) -> None:
        """After failed try `attempt`: backoff_seconds doubling, uncapped (`attempts` bounds the tries)."""
        time.sleep(Backoff(base=self.backoff_seconds, cap=math.inf).delay(attempt - 1))

    def __repr__(self) -> str:
        return f"AppwriteStore(endpoint={self.endpoint!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"

    @classmethod
    def from_env(cls, prefix: str, env: Mapping[str, str] | None = None) -> AppwriteStore:
        env = os.environ if env is None else env
        missing = [name for name in ENV_NAMES if not env.get(name)]
        if missing:
            raise AppwriteSetupError(f"the Appwrite store needs {', '.join(missing)} in the environment")
        return cls(
            endpoint=env["APPWRITE_ENDPOINT"],
            project=env["APPWRITE_PROJECT_ID"],
            api_key=env["APPWRITE_API_KEY"],
            bucket=env["APPWRITE_BUCKET_ID"],
            prefix=prefix,
            owner_user_id=env.get(OWNER_ENV) or None,
        )

    def file_id(self, key: str) -> str:
        return file_id(self.prefix, key)

    def view_url(self, key: str) -> str:
        files = f"{self.endpoint}/storage/buckets/{self.bucket}/files"
        return f"{files}/{self.file_id(key)}/view?project={self.project}"

    def put(self, local: Path, key: str) -> str:
        """Upload `local` as `key` (replacing what is there), verified complete; returns its view URL."""
        fid = self.file_id(key)
        for attempt in range(1, self.attempts + 1):
            self._delete(fid)  # an earlier render or a half-finished upload of this key
            try:
                # One try per upload: the SDK's own resume assumes chunks arrive in order, which its
                # parallel uploads do not keep, so a failed upload is started again from scratch.
                uploaded = self._call(self._upload(local, fid), attempts=1)
            except AppwriteStoreError as error:
                if attempt == self.attempts or not retryable(error.__cause__):
                    raise
                logger.warning(
                    "Upload of %s failed (attempt %d of %d): %s", key, attempt, self.attempts, error
                )
                self._pause(attempt)
                continue
            if uploaded.chunksuploaded == uploaded.chunkstotal:
                return self.view_url(key)
            logger.warning(
                "Upload of %s stored %d of %d chunks (attempt %d of %d); uploading it again",
                key,
                uploaded.chunksuploaded,
                uploaded.chunkstotal,
                attempt,
                self.attempts,
            )
        self._delete(fid)
        raise AppwriteStoreError(f"upload of {key} stayed incomplete after {self.attempts} attempts")

    def _upload(self, local: Path, fid: str) -> Callable[[], Any]:
        return lambda: self.storage.create_file(
            self.bucket, fid, InputFile.from_path(str(local)), self.permissions
        )

    def get(self, key: str, dest: Path) -> None:
        """Download `key` to `dest` (written whole or not at all)."""
        fid = self.file_id(key)
        meta = self._meta(fid)
        if meta is None or meta.chunksuploaded != meta.chunkstotal:
            raise AppwriteStoreError(f"artifact {key} is missing from bucket {self.bucket}")
        content: bytes = self._call(lambda: self.storage.get_file_download(self.bucket, fid))
        if len(content) != int(meta.sizeoriginal):
            raise AppwriteStoreError(
                f"download of {key} got {len(content)} of {int(meta.sizeoriginal)} bytes"
            )
        partial = dest.with_name(dest.name + ".part")
        partial.write_bytes(content)
        partial.replace(dest)

    def exists(self, key: str) -> bool:
        meta = self._meta(self.file_id(key))
        return meta is not None and meta.chunksuploaded == meta.chunkstotal

    def _meta(self, fid: str) -> Any:
        try:
            return self._call(lambda: self.storage.get_file(self.bucket, fid))
        except AppwriteStoreError as error:
            if status_of(error.__cause__) == 404:
                return None
            raise

    def delete(self, key: str) -> None:
        """Remove the file `key`; a missing file is fine."""
        self._delete(self.file_id(key))

    def _delete(self, fid: str) -> None:
        try:
            self._call(lambda: self.storage.delete_file(self.bucket, fid))
        except AppwriteStoreError as error:
            if status_of(error.__cause__) != 404:
                raise

    def _call(self, fn: Callable[[], T], attempts: int | None = None) -> T:
        """Retry 429, 5xx and connection errors with backoff; raise AppwriteStoreError, key redacted."""
        attempts = attempts or self.attempts
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except AppwriteException as error:
                if attempt < attempts and retryable(error):
                    self._pause(attempt)
                    continue
                code = status_of(error)
                message = redact(str(error.message), self._secret)
                text = f"Appwrite storage ({code or 'no answer'}): {message}"[:500]
                if code in (401, 403):
                    raise AppwriteSetupError(text) from error
                raise AppwriteStoreError(text) from error
        raise AssertionError("unreachable")
