"""Where scene videos and the final video are kept: the artifact store interface.

`VolumeStore` is a directory shared by every renderer Pod (a ReadWriteMany PVC,
or a local directory in the dev cluster).  `AppwriteStore` (in
`appwrite_store`, configured from the environment) implements the same protocol
for Appwrite Storage.  Every store error is a `TransientProblem` (exit class 30):
retrying the same Pod is the right answer to a full or unmounted volume.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from scenefarm_contract.narration import NARRATION_INDEX
from scenefarm_contract.renderer import TerminationMessage
from scenefarm_renderer.errors import EnvironmentProblem, TransientProblem


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

    def check_writable(self) -> None:
        """At start, before any work: can this Pod write its request's directory? A volume the
        kubelet did not give to the Pod's group (ReadWriteMany storage such as NFS, EFS or Azure
        Files: the kubelet applies fsGroup there only when the CSI driver asks for it) fails every
        scene after its retries otherwise; say what to set instead (exit class 20)."""
        directory = self.root / self.prefix
        existing = directory  # probed where it already exists: a rejected scene leaves nothing behind
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        try:
            if not existing.is_dir():
                raise NotADirectoryError(20, "not a directory", str(existing))
            fd, probe = tempfile.mkstemp(prefix=".writable.", dir=existing)
            os.close(fd)
            Path(probe).unlink()
        except OSError as exc:
            raise EnvironmentProblem(not_writable(directory, exc)) from exc

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


def not_writable(directory: Path, exc: OSError) -> str:
    uid, gid = os.getuid(), os.getgid()
    return (
        f"the artifact store is not writable: {directory} ({exc.strerror or exc}) for uid {uid}, gid {gid}. "
        f"The volume's storage class did not give its files to the render Pods' group: on ReadWriteMany "
        f"storage (NFS, EFS, Azure Files) the kubelet applies fsGroup only when the CSI driver's "
        f"fsGroupPolicy is File. Set the storage class (or the export) to hand the volume to gid {gid}: "
        f"an NFS export owned by {uid}:{gid}, an EFS access point with posixUser {uid}:{gid}, Azure Files "
        f"mountOptions uid={uid},gid={gid}; or choose a storage class whose driver applies fsGroup "
        f"(docs/renderer.md, 'Storage')"
    )


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
        from scenefarm_renderer.storage.appwrite_store import AppwriteStore  # type: ignore[import-not-found,unused-ignore]

        store: ArtifactStore = AppwriteStore.from_env(prefix)
        return store
    raise ValueError(f"unknown artifact store {kind!r} (expected volume or appwrite)")


def _listed_in(store: ArtifactStore, index: str) -> list[str]:
    """The keys an index file names, one a line (none when it is absent)."""
    if not store.exists(index):
        return []
    with tempfile.TemporaryDirectory(prefix="scenefarm-clean-") as tmp:
        local = Path(tmp) / "index"
        store.get(index, local)
        return local.read_text(encoding="utf-8").split()


def clean(
    kind: str, root: str, prefix: str, *, keep: Sequence[str], also: Sequence[str], keys: Sequence[str] = ()
) -> TerminationMessage:
    """A deleted request's files go: everything under its prefix but `keep`, and each `also`
    (`<prefix>/<key>` of another request, in the same namespace). Missing files are fine."""
    removed = 0
    if kind == "appwrite":
        from scenefarm_renderer.storage.appwrite_store import AppwriteStore  # type: ignore[import-not-found,unused-ignore]

        remote = AppwriteStore.from_env(prefix)
        keys = [*keys, *_listed_in(remote, NARRATION_INDEX)] if NARRATION_INDEX in keys else list(keys)
        for key in [k for k in keys if k not in keep]:
            remote.delete(key)
            removed += 1
        for source in also:
            other, key = split_source(prefix, source)
            AppwriteStore.from_env(other).delete(key)
            removed += 1
        print(f"clean: {removed} files removed from Appwrite Storage, {len(keep)} kept", file=sys.stderr)
        return TerminationMessage(exitClass=0)
    directory = Path(root) / prefix.strip("/")
    if directory.is_dir():
        for path in sorted(directory.rglob("*"), reverse=True):  # files first, then their folders
            relative = path.relative_to(directory).as_posix()
            if relative in keep or any(k.startswith(relative + "/") for k in keep):
                continue
            with contextlib.suppress(FileNotFoundError, OSError):
                path.rmdir() if path.is_dir() else path.unlink()
                removed += 1
        with contextlib.suppress(OSError):
            directory.rmdir()  # only when nothing was kept
    for source in also:
        other, key = split_source(prefix, source)
        with contextlib.suppress(FileNotFoundError):
            (Path(root) / other / key).unlink()
            removed += 1
    print(f"clean: {removed} entries removed under {prefix}, {len(keep)} kept", file=sys.stderr)
    return TerminationMessage(exitClass=0)
