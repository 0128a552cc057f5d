"""Where scene videos and the final video are kept: the artifact store interface.

`VolumeStore` is a directory shared by every renderer Pod (a ReadWriteMany PVC,
or a local directory in the dev cluster).  `AppwriteStore` (in
`appwrite_store`, configured from the environment) implements the same protocol
for Appwrite Storage.  Every store error is a `TransientProblem` (exit class 30):
retrying the same Pod is the right answer to a full or unmounted volume.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from .errors import TransientProblem


class ArtifactStore(Protocol):
    def put(self, local: Path, key: str) -> str:
        """Store the file `local` under `key`, atomically; return its URI."""
        ...

    def get(self, key: str, dest: Path) -> None:
        """Copy the artifact `key` to the local file `dest`."""
        ...

    def exists(self, key: str) -> bool: ...


class VolumeStore:
    """Artifacts as files under `<root>/<prefix>/<key>`.

    URIs are `volume:<prefix>/<key>`: relative to the store root, because each
    Pod (and the operator) may mount the shared volume at a different path.
    """

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix.strip("/")

    def path(self, key: str) -> Path:
        return self.root / self.prefix / key

    def uri(self, key: str) -> str:
        return f"volume:{self.prefix}/{key}"

    def put(self, local: Path, key: str) -> str:
        dest = self.path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # A temporary name in the destination directory, then os.replace: readers
            # see either no file or the whole file, never a partial copy.
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".part", dir=dest.parent)
            try:
                with os.fdopen(fd, "wb") as out, local.open("rb") as src:
                    shutil.copyfileobj(src, out, 1024 * 1024)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientProblem(f"cannot write {self.uri(key)} to the volume at {dest}: {exc}") from exc
        return self.uri(key)

    def get(self, key: str, dest: Path) -> None:
        src = self.path(key)
        try:
            shutil.copyfile(src, dest)
        except FileNotFoundError as exc:
            raise TransientProblem(f"input {key} is missing from the store ({src})") from exc
        except OSError as exc:
            raise TransientProblem(f"cannot read {key} from the volume at {src}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


def split_source(own_prefix: str, source: str) -> tuple[str, str]:
    """`(prefix, key)` of a combine input: a plain key is under `own_prefix`; `<prefix>/<key>`
    names another request's artifact in the same namespace (a scene reused from the cache).

    `ValueError` for anything that leaves the namespace or climbs (`..`).
    """
    if "/" not in source:
        return own_prefix, source
    prefix, _, key = source.strip("/").rpartition("/")
    namespace = own_prefix.strip("/").split("/")[0]
    parts = prefix.split("/")
    if parts[0] != namespace or any(p in ("", ".", "..") for p in [*parts, key]):
        raise ValueError(f"input {source!r} is not an artifact of namespace {namespace!r}")
    return prefix, key


def open_store(kind: str, root: str, prefix: str) -> ArtifactStore:
    """The store named on the command line (`--store volume|appwrite`)."""
    if kind == "volume":
        return VolumeStore(Path(root), prefix)
    if kind == "appwrite":
        from .appwrite_store import AppwriteStore  # type: ignore[import-not-found,unused-ignore]

        store: ArtifactStore = AppwriteStore.from_env(prefix)
        return store
    raise ValueError(f"unknown artifact store {kind!r} (expected volume or appwrite)")
