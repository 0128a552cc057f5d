"""`scenefarm download NAME [-o FILE] [--scene S]`: the video, from whichever store holds it.

Nothing is written anywhere before the bytes are verified: the file is written next to FILE
under a temporary name and renamed only once its sha256 matches the status
(`status.output.sha256`; for a scene `status.scenes[].sha256`, which outlives its Pod, else its
render Pod's termination message), so FILE is never a partial or wrong video. `-o -` buffers to a
private temporary file, verifies, and only then copies to standard output. A video with no
sha256 recorded anywhere is refused: there is nothing to verify it against.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from lightkube.resources.core_v1 import Pod

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import IntegrityError, NotFound, UsageError
from scenefarm_cli.fetch import appwrite as appwrite_fetch
from scenefarm_cli.fetch import volume as volume_fetch
from scenefarm_cli.output import Output
from scenefarm_cli.videorequests import get, scene
from scenefarm_contract import phases
from scenefarm_contract.renderer import TerminationMessage

# A VideoRequest name: a DNS subdomain (`.`, `..` and paths would address something else).
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclasses.dataclass(frozen=True)
class Target:
    uri: str
    sha256: str | None
    default_file: str
    label: str


@dataclasses.dataclass(frozen=True)
class Options:
    output: str | None = None
    scene: str | None = None
    claim: str | None = None
    image: str | None = None
    pod_timeout: float = 120.0
    appwrite_key: str | None = None
    appwrite_secret: str | None = None
    appwrite_endpoint: str | None = None
    subtitles: bool = False  # the narration's WebVTT file instead of the video


def target(request: Mapping[str, Any], scene_selector: str | None, subtitles: bool = False) -> Target:
    name, status = request["metadata"]["name"], request.get("status") or {}
    phase = status.get("phase") or phases.PENDING
    if subtitles:
        output = status.get("output") or {}
        if phase != phases.SUCCEEDED or not output.get("subtitles"):
            raise NotFound(
                f"videorequest/{name} has no subtitles (phase {phase}; narration Off or no narration)"
            )
        return Target(
            str(output["subtitles"]), output.get("subtitlesSha256"), f"{name}.vtt", f"the subtitles of {name}"
        )
    if scene_selector is None:
        output = status.get("output") or {}
        if phase != phases.SUCCEEDED or not output.get("uri"):
            why = (
                f": {status['message']}"
                if phase in (phases.FAILED, phases.CANCELLED) and status.get("message")
                else ""
            )
            hint = "" if why else f"; follow it with: scenefarm watch {name}"
            raise NotFound(f"videorequest/{name} has no video (phase {phase}){why}{hint}")
        return Target(str(output["uri"]), output.get("sha256"), f"{name}.mp4", f"the video of {name}")
    entry = scene(request, scene_selector)
    if not entry.get("artifact"):
        raise NotFound(
            f"scene {entry.get('index')} ({entry.get('name')}) of videorequest/{name} has no video "
            f"(phase {entry.get('phase') or phases.PENDING})"
        )
    index = int(entry["index"])
    recorded = entry.get("sha256") if isinstance(entry.get("sha256"), str) else None
    return Target(
        str(entry["artifact"]), recorded, f"{name}-scene-{index:02d}.mp4", f"scene {index} of {name}"
    )


def scene_sha256(conn: Connection, request: Mapping[str, Any], selector: str) -> str | None:
    """A scene's sha256 from its render Pod's termination message (None once the Pod is gone)."""
    job = scene(request, selector).get("job")
    if not job:
        return None
    with conn.talking(f"pods of job/{job}"):
        pods = list(conn.client().list(Pod, namespace=conn.namespace, labels={"job-name": str(job)}))
    for pod in pods:
        for cs in (pod.status.containerStatuses or []) if pod.status else []:
            terminated = cs.state.terminated if cs.state else None
            message = TerminationMessage.from_json(terminated.message if terminated else None)
            if message and message.exitClass == 0 and message.sha256:
                return message.sha256
    return None


def run(conn: Connection, name: str, options: Options, out: Output) -> int:
    if not NAME.match(name) or len(name) > 253:
        raise UsageError(f"{name!r} is not a VideoRequest name (lower-case letters, digits, '-' and '.')")
    request = get(conn, name)
    wanted = target(request, options.scene, options.subtitles)
    expected = wanted.sha256
    if options.scene is not None and not expected:
        expected = scene_sha256(conn, request, options.scene)
    if not expected:
        raise IntegrityError(
            f"{wanted.label}: no sha256 is recorded for it, so it cannot be verified; nothing was written"
        )
    dest = options.output or wanted.default_file
    digest, size = hashlib.sha256(), 0
    with _destination(dest) as (sink_file, commit):

        def sink(chunk: bytes) -> None:
            nonlocal size
            digest.update(chunk)
            size += len(chunk)
            sink_file.write(chunk)

        _fetch(conn, request, wanted.uri, options, sink)
        got = digest.hexdigest()
        if expected and got != expected:
            raise IntegrityError(
                f"{wanted.label}: downloaded {size} bytes with sha256 {got}, but the status says {expected}; "
                "nothing was written"
            )
        commit()
    check = "sha256 verified against the status"
    where = "standard output" if dest == "-" else dest
    out.err.print(f"{wanted.label}: {size} bytes -> {where} ({check})", markup=False, soft_wrap=True)
    return 0


def _fetch(conn: Connection, request: Mapping[str, Any], uri: str, options: Options, sink: Any) -> None:
    if uri.startswith("volume:"):
        relative = uri.removeprefix("volume:").strip("/")
        if ".." in relative.split("/"):
            raise UsageError(f"refusing a store path that leaves the store: {uri}")
        store = volume_fetch.store_of(conn, request, options.claim, options.image)
        with volume_fetch.helper_pod(conn, request, store, options.pod_timeout) as pod:
            volume_fetch.stream_file(conn, pod, f"{volume_fetch.MOUNT}/{relative}", sink)
    elif appwrite_fetch.is_appwrite_uri(uri):
        creds = appwrite_fetch.credentials(
            conn, options.appwrite_key, options.appwrite_secret, options.appwrite_endpoint
        )
        sink(appwrite_fetch.download(appwrite_fetch.parse(uri), creds))
    else:
        raise UsageError(f"no store this command knows holds {uri}")


@contextlib.contextmanager
def _destination(dest: str) -> Iterator[tuple[IO[bytes], Any]]:
    """A file to write to and a `commit` that puts it in place; without commit, nothing remains.
    For `-`, a private temporary file whose bytes `commit` copies to standard output."""
    if dest == "-":
        with tempfile.TemporaryFile(prefix="scenefarm-download-") as buffered:

            def to_stdout() -> None:
                buffered.seek(0)
                shutil.copyfileobj(buffered, sys.stdout.buffer)
                sys.stdout.buffer.flush()

            yield buffered, to_stdout
        return
    path = Path(dest)
    if path.is_dir():
        raise UsageError(f"{dest} is a directory; give a file name with -o")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or Path())
    except OSError as error:
        raise UsageError(f"cannot write to {path.parent}: {error.strerror}") from None
    committed = False

    def commit() -> None:
        nonlocal committed
        handle.flush()
        os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the video is an ordinary file
        os.replace(tmp, path)
        committed = True

    with os.fdopen(fd, "wb") as handle:
        try:
            yield handle, commit
        finally:
            if not committed:
                Path(tmp).unlink(missing_ok=True)
