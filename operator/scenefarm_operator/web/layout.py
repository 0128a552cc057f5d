"""The layout of the `videos` and `scenes` tables: one place for column names, kinds and sizes.

The first columns of each table are the original system's schema, with its enums and meanings,
so a frontend written for it works unchanged. The richer vocabulary of the operator (phase,
attempt details, ETA, the web request's choices) lives in extra columns that old clients ignore.
"""

from __future__ import annotations

import dataclasses

# The original enums of a row's `status`: web vocabulary, not scenefarm's phases (the `phase`
# column holds those); every module names a row status through these constants.
ROW_QUEUED, ROW_PLANNING, ROW_RENDERING, ROW_COMPLETED = "queued", "planning", "rendering", "completed"
ROW_PLANNED, ROW_CODED, ROW_RENDERED = "planned", "coded", "rendered"
ROW_FAILED = "failed"  # both tables
VIDEO_STATUSES = (ROW_QUEUED, ROW_PLANNING, ROW_RENDERING, ROW_COMPLETED, ROW_FAILED)  # the original enum
SCENE_STATUSES = (ROW_PLANNED, ROW_CODED, ROW_RENDERED, ROW_FAILED)  # the original enum
TEXT_LIMIT = 16_383  # Appwrite's `text` column holds this many characters
URL_SIZE = 2048


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    key: str
    kind: str  # varchar | text | integer | boolean | enum | datetime
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
        ColumnSpec("current_scene", "integer", min=0),  # the scene's number (scene_number)
        ColumnSpec("scene_count", "integer", min=0),
        ColumnSpec("combined_video_url", "varchar", size=URL_SIZE),  # a Storage file id
        ColumnSpec("error_message", "text"),
        ColumnSpec("k8s_namespace", "varchar", size=63),
        ColumnSpec("k8s_name", "varchar", size=253),
        ColumnSpec("k8s_uid", "varchar", size=36),
        ColumnSpec("created_at", "datetime"),
        ColumnSpec("finished_at", "datetime"),
        # Extra columns: the operator's own vocabulary.
        ColumnSpec("phase", "varchar", size=16),  # Pending ... Suspended, Cancelled
        ColumnSpec("current_scene_name", "varchar", size=63),
        ColumnSpec("scenes_succeeded", "integer", min=0),
        ColumnSpec("scenes_failed", "integer", min=0),
        ColumnSpec("eta", "datetime"),  # status.estimatedCompletionTime, while it has one
        ColumnSpec("queue_position", "integer", min=0),  # status.queuePosition: waiting for a render slot
        # Why a request in progress cannot go on by itself (Stalled=True: "Reason: message"), while
        # it lasts; `text`, kept out of the row's 64 KB of varchars.
        ColumnSpec("stalled", "text"),
        ColumnSpec("output_uri", "varchar", size=URL_SIZE),  # the artifact store's own URI
        ColumnSpec("poster_url", "varchar", size=URL_SIZE),  # a Storage file id: a still of the video
        ColumnSpec("subtitles_url", "varchar", size=URL_SIZE),  # a Storage file id: the WebVTT narration
        # Written by the web page when it submits a request (the intake reads them).
        ColumnSpec("planner_mode", "varchar", size=16),
        ColumnSpec("quality", "varchar", size=16),
        ColumnSpec("cancel_requested", "boolean"),
        ColumnSpec("batch", "varchar", size=63),  # topics submitted together (the label scenefarm.dev/batch)
        ColumnSpec("retry_requested", "integer", min=0),  # the page's retries: spec.retryGeneration
        ColumnSpec("delete_requested", "boolean"),  # the page's delete: the VideoRequest, then the rows
    ),
    indexes=(
        IndexSpec("status_idx", ("status",)),
        IndexSpec("k8s_uid_idx", ("k8s_uid",)),
        IndexSpec("cancel_idx", ("cancel_requested",)),
        IndexSpec("retry_idx", ("retry_requested",)),
        IndexSpec("delete_idx", ("delete_requested",)),
    ),
)

SCENES = TableSpec(
    id="scenes",
    columns=(
        ColumnSpec("video_id", "varchar", size=36),
        ColumnSpec("scene_number", "integer", min=0),
        ColumnSpec("name", "varchar", size=63),
        ColumnSpec("status", "enum", elements=SCENE_STATUSES),
        ColumnSpec("attempt", "integer", min=0),
        ColumnSpec("video_url", "varchar", size=URL_SIZE),  # a Storage file id
        ColumnSpec("code_url", "varchar", size=URL_SIZE),  # a Storage file id
        ColumnSpec("error_message", "text"),
        # Extra columns: the operator's own vocabulary.
        ColumnSpec("phase", "varchar", size=16),  # Pending, Queued, Running, Healing, ... Stopped
        ColumnSpec("exit_class", "integer", min=0),
        ColumnSpec("revision", "integer", min=0),  # the code revision; > 1 once healed
        ColumnSpec("healed", "boolean"),
        ColumnSpec("artifact_uri", "varchar", size=URL_SIZE),
        ColumnSpec("poster_url", "varchar", size=URL_SIZE),  # a Storage file id: a still of the scene
        # The last lines of the finished render's log (≤ LOG_TAIL_CHARS): `text`, kept out of the
        # row's 64 KB of varchars (the four URL columns already take half of it).
        ColumnSpec("log_tail", "text"),
    ),
    indexes=(IndexSpec("video_id_idx", ("video_id",)), IndexSpec("status_idx", ("status",))),
)

TABLES = (VIDEOS, SCENES)
