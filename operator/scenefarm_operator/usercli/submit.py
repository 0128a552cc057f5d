"""`scenefarm submit TOPIC` and `scenefarm apply -f FILE`: ask for a video, optionally wait for it.

`submit` writes the VideoRequest for you, named from the topic (`names.name_for_topic`), and
prints that name at once: it is the id for `watch`, `logs` and `download`. A name already taken
is refused with what is there, never silently renamed (docs/cli.md says why).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from lightkube import codecs
from lightkube.core.exceptions import ApiError
from lightkube.types import PatchType

from ..kube import VideoRequest
from ..naming import GROUP, KIND, VERSION
from .connection import Connection
from .errors import Refused, UsageError
from .names import is_valid_name, name_for_topic
from .output import Output
from .videorequests import as_dict, find, what

API_VERSION = f"{GROUP}/{VERSION}"


def manifest(
    topic: str,
    name: str,
    namespace: str,
    *,
    description: str | None = None,
    planner: str | None = None,
    quality: str | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"topic": topic}
    if description:
        spec["description"] = description
    if planner:
        spec["planner"] = {"mode": planner}
    if quality:
        spec["render"] = {"quality": quality}
    if store:
        spec["output"] = {"store": store}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def request_name(topic: str, explicit: str | None) -> str:
    name = explicit or name_for_topic(topic)
    if not name:
        raise UsageError(f"the topic {topic!r} has no letters or digits to name the request by; pass --name")
    if not is_valid_name(name):
        raise UsageError(
            f"{name!r} is not a valid name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit"
        )
    return name


def collision(existing: dict[str, Any]) -> str:
    name = existing["metadata"]["name"]
    topic = (existing.get("spec") or {}).get("topic", "")
    phase = (existing.get("status") or {}).get("phase") or "Pending"
    return (
        f"videorequest/{name} already exists (topic {topic!r}, phase {phase}). "
        f"See it with `scenefarm get {name}`, or submit under another name with --name."
    )


def submit(conn: Connection, body: dict[str, Any], out: Output, fmt: str | None) -> str:
    """Create the request; returns its name."""
    name = str(body["metadata"]["name"])
    existing = find(conn, name)
    if existing is not None:
        raise Refused(collision(existing))
    with conn.talking(what(conn, name)):
        try:
            created = as_dict(conn.client().create(codecs.from_dict(body)))
        except ApiError as error:
            if error.status.code == 409 and (existing := find(conn, name)) is not None:
                raise Refused(collision(existing)) from None  # created meanwhile by someone else
            raise
    _report(out, created, "created", fmt)
    return name


def read_manifests(path: Path) -> list[dict[str, Any]]:
    """Every document of a YAML file (`-` for standard input), each a VideoRequest."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path} is not valid YAML: {error}") from None
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise UsageError(f"{path}: expected {KIND} ({API_VERSION}) documents, found {kind}")
        if not (doc.get("metadata") or {}).get("name"):
            raise UsageError(f"{path}: a {KIND} without metadata.name")
    if not docs:
        raise UsageError(f"{path} holds no {KIND}")
    return docs


def apply(conn: Connection, doc: dict[str, Any], out: Output, fmt: str | None) -> str:
    """Create the request, or bring an existing one's spec, labels and annotations to the file's.

    `conn` is already in the document's namespace (the command checks it against `-n`).
    """
    metadata = doc.setdefault("metadata", {})
    metadata["namespace"] = conn.namespace
    name = str(metadata["name"])
    existing = find(conn, name)
    with conn.talking(what(conn, name)):
        if existing is None:
            _report(out, as_dict(conn.client().create(codecs.from_dict(doc))), "created", fmt)
            return name
        if _same(existing, doc):
            _report(out, existing, "unchanged", fmt)
            return name
        patch = {
            "metadata": {k: metadata[k] for k in ("labels", "annotations") if k in metadata},
            "spec": _replacing(existing.get("spec") or {}, doc.get("spec") or {}),
        }
        updated = conn.client().patch(
            VideoRequest, name, patch, namespace=conn.namespace, patch_type=PatchType.MERGE
        )
    _report(out, as_dict(updated), "configured", fmt)
    return name


def _same(existing: dict[str, Any], doc: dict[str, Any]) -> bool:
    wanted = doc.get("spec") or {}
    current = existing.get("spec") or {}
    return all(current.get(k) == v for k, v in wanted.items())


def _replacing(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that makes the spec's top-level fields the file's (nulls delete the rest)."""
    return {k: None for k in current if k not in wanted and k not in _DEFAULTED} | wanted


_DEFAULTED = ("suspend", "cancel", "priority")  # the schema fills these in; leaving them is no change


def _report(out: Output, obj: dict[str, Any], verb: str, fmt: str | None) -> None:
    if fmt in ("json", "yaml"):
        out.data(obj, fmt)
    elif fmt == "name":
        out.line(obj["metadata"]["name"])
    else:
        out.line(f"videorequest/{obj['metadata']['name']} {verb}")
