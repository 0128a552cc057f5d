"""`scenefarm submit --from FILE`: one request per topic, labelled as one batch.

FILE holds one topic per line (blank lines and `#` comments skipped), or YAML: a list whose items
are topics or mappings `{topic, description, name, priority}`, or a mapping with such a list
under `topics`. Every request carries the label `scenefarm.dev/batch: B` (`--batch B`, default
made from the file's name), so `scenefarm get --batch B` lists and summarises them and
`kubectl get vr -l scenefarm.dev/batch=B` finds them. Names are checked before anything is
created: two topics giving one name, or a name already taken, create nothing.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import yaml

from scenefarm_cli.errors import UsageError, bad_yaml
from scenefarm_cli.names import name_for_topic

YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclasses.dataclass(frozen=True)
class Topic:
    topic: str
    description: str | None = None
    name: str | None = None
    priority: int | None = None


def read_topics(path: Path) -> list[Topic]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    if path.suffix in YAML_SUFFIXES:
        topics = _from_yaml(path, text)
    else:
        topics = [Topic(line.strip()) for line in text.splitlines() if line.strip() and not _comment(line)]
    if not topics:
        raise UsageError(f"{path} holds no topic (one per line, or a YAML list)")
    return topics


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _from_yaml(path: Path, text: str) -> list[Topic]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise bad_yaml(path, error, text) from None
    if isinstance(data, dict):
        data = data.get("topics")
    if not isinstance(data, list):
        raise UsageError(f"{path}: expected a list of topics, or `topics:` with one")
    return [_topic(path, i, item) for i, item in enumerate(data)]


def _topic(path: Path, index: int, item: Any) -> Topic:
    if isinstance(item, str) and item.strip():
        return Topic(item.strip())
    if isinstance(item, dict) and isinstance(item.get("topic"), str) and item["topic"].strip():
        unknown = set(item) - {"topic", "description", "name", "priority"}
        if unknown:
            raise UsageError(f"{path}: item {index} has unknown keys: {', '.join(sorted(unknown))}")
        priority = item.get("priority")
        if priority is not None and not isinstance(priority, int):
            raise UsageError(f"{path}: item {index}: priority must be a whole number")
        return Topic(item["topic"].strip(), item.get("description"), item.get("name"), priority)
    raise UsageError(f"{path}: item {index} is neither a topic nor a mapping with `topic:`")


def batch_name(path: Path, explicit: str | None) -> str:
    """The label value: `--batch`, else the file's name (`topics.txt` -> `topics`)."""
    name = explicit or name_for_topic(path.stem if str(path) != "-" else "")
    if not name:
        raise UsageError("name the batch with --batch NAME")
    if len(name) > 63 or name_for_topic(name, 63) != name:
        raise UsageError(f"{name!r} cannot be a batch name: lower-case letters, digits and '-', at most 63")
    return name


def check_names(topics: list[Topic], names: list[str]) -> None:
    seen: dict[str, str] = {}
    for topic, name in zip(topics, names, strict=True):
        if name in seen:
            raise UsageError(
                f"the topics {seen[name]!r} and {topic.topic!r} both make the name {name}; "
                "give one of them a `name:` (YAML)"
            )
        seen[name] = topic.topic
