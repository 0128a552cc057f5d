"""`scenefarm submit TOPIC` and `scenefarm apply -f FILE`: ask for a video, optionally wait for it.

`submit` writes the VideoRequest for you, named from the topic (`names.name_for_topic`), and
prints that name at once: it is the id for `watch`, `logs` and `download`. A name already taken
is refused with what is there, never silently renamed (docs/cli.md says why).

Every write is validated strictly by the API server (an unknown field is refused, as with
`kubectl apply`) and can be a server-side dry run. Each returns the `Written` request: its
name and the `metadata.generation` the write produced, which `--wait` waits for the operator
to observe, so an edit never reports the previous attempt's result.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import yaml
from lightkube.core.exceptions import ApiError

from scenefarm_cli.connection import Connection
from scenefarm_cli.errors import Refused, UsageError, bad_yaml
from scenefarm_cli.names import MAX_NAME, has_name_characters, is_valid_name, name_for_topic
from scenefarm_cli.output import Output
from scenefarm_cli.videorequests import create, find, merge_patch, what
from scenefarm_contract import phases
from scenefarm_contract.keys import API_VERSION, KIND


def manifest(
    topic: str,
    name: str,
    namespace: str,
    *,
    description: str | None = None,
    planner: str | None = None,
    quality: str | None = None,
    store: str | None = None,
    priority: int | None = None,
    labels: dict[str, str] | None = None,
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
    if priority is not None:
        spec["priority"] = priority
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


@dataclasses.dataclass(frozen=True)
class Written:
    """A request as a write left it: `--wait` waits until the operator observed `generation`."""

    name: str
    generation: int


def _written(obj: dict[str, Any]) -> Written:
    meta = obj["metadata"]
    return Written(str(meta["name"]), int(meta.get("generation") or 1))


def request_name(topic: str, explicit: str | None) -> str:
    name = explicit or name_for_topic(topic)
    if not name:
        raise UsageError(f"the topic {topic!r} has no letters or digits to name the request by; pass --name")
    if len(name) > MAX_NAME:
        also = "" if has_name_characters(name) else f" ({_NAME_CHARACTERS})"
        raise UsageError(
            f"the name {name[:20]}... is {len(name)} characters long: "
            f"a VideoRequest's name is at most {MAX_NAME} characters{also}"
        )
    if not is_valid_name(name):
        raise UsageError(f"{name!r} is not a valid name: {_NAME_CHARACTERS}")
    return name


_NAME_CHARACTERS = "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"


def collision(existing: dict[str, Any], program: str = "scenefarm") -> str:
    name = existing["metadata"]["name"]
    topic = (existing.get("spec") or {}).get("topic", "")
    phase = (existing.get("status") or {}).get("phase") or phases.PENDING
    return (
        f"videorequest/{name} already exists (topic {topic!r}, phase {phase}). "
        f"See it with `{program} get {name}`, or submit under another name with --name."
    )


def submit(
    conn: Connection, body: dict[str, Any], out: Output, fmt: str | None, dry_run: bool = False
) -> Written:
    """Create the request (never change an existing one)."""
    name = str(body["metadata"]["name"])
    existing = find(conn, name)
    if existing is not None:
        raise Refused(collision(existing, out.program))
    with conn.talking(what(conn, name)):
        try:
            created = create(conn, body, dry_run)
        except ApiError as error:
            if error.status.code == 409 and (existing := find(conn, name)) is not None:
                raise Refused(collision(existing, out.program)) from None  # created meanwhile
            raise
    _report(out, created, "created", fmt, dry_run)
    return _written(created)


def read_manifests(path: Path) -> list[dict[str, Any]]:
    """Every document of a YAML file (`-` for standard input), each a VideoRequest."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise bad_yaml(path, error, text) from None
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise UsageError(f"{path}: expected {KIND} ({API_VERSION}) documents, found {kind}")
        if not (doc.get("metadata") or {}).get("name"):
            raise UsageError(f"{path}: a {KIND} without metadata.name")
    if not docs:
        raise UsageError(f"{path} holds no {KIND}")
    return docs


def apply(
    conn: Connection, doc: dict[str, Any], out: Output, fmt: str | None, dry_run: bool = False
) -> Written:
    """Create the request, or bring an existing one's spec, labels and annotations to the file's.

    `conn` is already in the document's namespace (the command checks it against `-n`). The
    whole document goes to the server with strict field validation, also when nothing changes,
    so a misspelt field is refused rather than dropped; the server's answer tells `configured`
    from `unchanged` (`_changed`).
    """
    metadata = doc.setdefault("metadata", {})
    metadata["namespace"] = conn.namespace
    name = str(metadata["name"])
    existing = find(conn, name)
    with conn.talking(what(conn, name)):
        if existing is None:
            created = create(conn, doc, dry_run)
            _report(out, created, "created", fmt, dry_run)
            return _written(created)
        patch = {
            "metadata": {k: metadata[k] for k in ("labels", "annotations") if k in metadata},
            "spec": _replacing(existing.get("spec") or {}, doc.get("spec") or {}),
        }
        updated = merge_patch(conn, name, patch, dry_run)
    _report(out, updated, "configured" if _changed(existing, updated, patch) else "unchanged", fmt, dry_run)
    return _written(updated)


def _changed(before: dict[str, Any], after: dict[str, Any], patch: dict[str, Any]) -> bool:
    """Whether the write changed the request, as the server tells it: a new spec is a new
    `metadata.generation` (the server's defaults and a no-op leave it), and labels and
    annotations are compared where the file sets them (a null removes one)."""
    if _written(after).generation != _written(before).generation:
        return True
    meta_before, meta_after = before.get("metadata") or {}, after.get("metadata") or {}
    return any(
        (meta_before.get(field) or {}).get(key) != (meta_after.get(field) or {}).get(key)
        for field, wanted in patch["metadata"].items()
        for key in wanted or {}
    )


def _replacing(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that makes the spec's top-level fields the file's (nulls delete the rest)."""
    return {k: None for k in current if k not in wanted and k not in _DEFAULTED} | wanted


_DEFAULTED = ("suspend", "cancel", "priority")  # the schema fills these in; leaving them is no change


def _report(out: Output, obj: dict[str, Any], verb: str, fmt: str | None, dry_run: bool = False) -> None:
    if fmt in ("json", "yaml"):
        out.data(obj, fmt)
    elif fmt == "name":
        out.line(f"videorequest/{obj['metadata']['name']}")
    else:
        out.line(f"videorequest/{obj['metadata']['name']} {verb}" + (" (server dry run)" if dry_run else ""))
