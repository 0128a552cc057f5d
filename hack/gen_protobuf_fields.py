"""Regenerate the dev cluster's protobuf field table from Kubernetes' generated.proto files.

    python hack/gen_protobuf_fields.py <k8s.io/api checkout> <k8s.io/apimachinery checkout>

Writes devkit/scenefarm_devkit/apiserver/protobuf_fields.json: for every message reachable from
the built-in kinds of the listed API groups, field number -> [JSON name, type, label]. The
field names and numbers are the Kubernetes API's (Apache-2.0, The Kubernetes Authors).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "rbac/v1", "networking/v1", "policy/v1", "coordination/v1",
    "events/v1", "autoscaling/v1", "autoscaling/v2", "scheduling/v1", "storage/v1", "discovery/v1",
    "authorization/v1", "authentication/v1",
]  # fmt: skip
MACHINERY = ["pkg/api/resource", "pkg/apis/meta/v1", "pkg/runtime", "pkg/runtime/schema", "pkg/util/intstr"]
OUT = Path(__file__).resolve().parents[1] / "devkit/scenefarm_devkit/apiserver/protobuf_fields.json"
FIELD = re.compile(r"^\s*(optional|repeated)\s+([.\w]+)\s+(\w+)\s*=\s*(\d+)")
MAP = re.compile(r"^\s*map<\s*([.\w]+)\s*,\s*([.\w]+)\s*>\s+(\w+)\s*=\s*(\d+)")
SCALARS = {
    "string",
    "bytes",
    "bool",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "double",
    "float",
    "sint32",
    "sint64",
}


def parse(text: str) -> tuple[str, dict[str, dict[str, list[object]]]]:
    package, messages, current = "", {}, None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0]
        if m := re.match(r"^package\s+([\w.]+);", line):
            package = m.group(1)
        elif m := re.match(r"^message\s+(\w+)\s*\{", line):
            current = messages.setdefault(f"{package}.{m.group(1)}", {})
        elif current is not None and (m := FIELD.match(line)):
            label, kind, name, number = m.groups()
            current[number] = [name, qualify(kind, package), label]
        elif current is not None and (m := MAP.match(line)):
            key, value, name, number = m.groups()
            current[number] = [name, [qualify(key, package), qualify(value, package)], "map"]
    return package, messages


def qualify(kind: str, package: str) -> str:
    if kind in SCALARS:
        return kind
    return kind.lstrip(".") if kind.startswith(".") else f"{package}.{kind}"


def main(api: Path, machinery: Path) -> None:
    messages: dict[str, dict[str, list[object]]] = {}
    roots: list[str] = []
    for sub in API_PACKAGES:
        _, found = parse((api / sub / "generated.proto").read_text())
        messages.update(found)
        roots += [
            n
            for n, f in found.items()
            if f.get("1", [None, ""])[1] == "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        ]
    for sub in MACHINERY:
        messages.update(parse((machinery / sub / "generated.proto").read_text())[1])
    keep: set[str] = set()
    todo = [
        *roots,
        "k8s.io.apimachinery.pkg.runtime.Unknown",
        "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    ]
    while todo:
        name = todo.pop()
        if name in keep or name not in messages:
            continue
        keep.add(name)
        for _, kind, _ in messages[name].values():
            todo += [k for k in (kind if isinstance(kind, list) else [kind]) if k not in SCALARS]
    table = {name: messages[name] for name in sorted(keep)}
    OUT.write_text(json.dumps(table, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{len(table)} messages, {OUT.stat().st_size} bytes -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
