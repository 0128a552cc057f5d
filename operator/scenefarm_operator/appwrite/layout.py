"""The layout of the `videos` and `scenes` tables: one place for column names, kinds and sizes."""

from __future__ import annotations

import dataclasses

VIDEO_STATUSES = ("queued", "planning", "rendering", "combining", "completed", "failed", "cancelled")
SCENE_STATUSES = ("planned", "coded", "rendering", "rendered", "failed")
TEXT_LIMIT = 16_383  # Appwrite's `text` column holds this many characters
URL_SIZE = 2048


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    key: str
    kind: str  # varchar | text | integer | enum | datetime
    size: int | None = None  # varchar only
    elements: tuple[str, ...] = ()  # enum only
    min: int | None = None
    max: int | None = None

    @property
    def limit(self) -> int | None:
        """How many characters a value may have, for string kinds."""
        return self.size if self.kind == "varchar" else TEXT_LIMIT if self.kind == "text" else None


@dataclasses.dataclass(frozen=True)
class IndexSpec:
    key: str
    columns: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    id: str
    columns: tuple[ColumnSpec, ...]
    indexes: tuple[IndexSpec, ...]

    def column(self, key: str) -> ColumnSpec:
        return next(c for c in self.columns if c.key == key)


VIDEOS = TableSpec(
    id="videos",
    columns=(
        ColumnSpec("topic", "varchar", size=512),
        ColumnSpec("description", "text"),
        ColumnSpec("status", "enum", elements=VIDEO_STATUSES),
        ColumnSpec("progress", "integer", min=0, max=100),
        ColumnSpec("current_scene", "varchar", size=63),
        ColumnSpec("scene_count", "integer", min=0),
        ColumnSpec("combined_video_url", "varchar", size=URL_SIZE),
        ColumnSpec("error_message", "text"),
        ColumnSpec("k8s_namespace", "varchar", size=63),
        ColumnSpec("k8s_name", "varchar", size=253),
        ColumnSpec("k8s_uid", "varchar", size=36),
        ColumnSpec("created_at", "datetime"),
        ColumnSpec("finished_at", "datetime"),
    ),
    indexes=(IndexSpec("status_idx", ("status",)), IndexSpec("k8s_uid_idx", ("k8s_uid",))),
)

SCENES = TableSpec(
    id="scenes",
    columns=(
        ColumnSpec("video_id", "varchar", size=36),
        ColumnSpec("scene_number", "integer", min=0),
        ColumnSpec("name", "varchar", size=63),
        ColumnSpec("status", "enum", elements=SCENE_STATUSES),
        ColumnSpec("attempt", "integer", min=0),
        ColumnSpec("video_url", "varchar", size=URL_SIZE),
        ColumnSpec("code_url", "varchar", size=URL_SIZE),
        ColumnSpec("error_message", "text"),
    ),
    indexes=(IndexSpec("video_id_idx", ("video_id",)), IndexSpec("status_idx", ("status",))),
)

TABLES = (VIDEOS, SCENES)
