"""Errors the operator raises on purpose, in one hierarchy (its one root; the CLI's is
`scenefarm_cli.errors.CliError`, the renderer's `scenefarm_renderer.errors.RendererError`).

    ScenefarmError
    ├── PlanningError            planning or a fix failed; the message tells a person what to do
    │   ├── PlannerUnavailable   the planner cannot be reached or is not configured
    │   │   └── PlannerBusy      down, overloaded or rate-limited right now: asked again after a backoff
    │   ├── InvalidPlan          the planner's output (or the user's scenes) break the contract
    │   └── FixNotSupported      this planning mode cannot rewrite scene code
    ├── SettingsError            the operator's own configuration is wrong (it refuses to start)
    ├── RowRefused               web/intake: a user's request row is refused (the row becomes `failed`)
    ├── SchemaError              web/schema: the Appwrite tables could not be brought to their layout
    └── TargetError              observe/notify/targets: a webhook target cannot be used

Each ends in a status field or condition with a message a person can act on, never a stack
trace: a PlannerBusy is counted in `status.planning` / `status.healing` and tried again; any
other PlanningError fails the plan (or that scene's fix) until the user retries or edits.
The classes outside this module are defined next to the code that raises them; no two error
classes in the product share a name (tests/unit/test_vocabulary.py checks the tree).
"""

from __future__ import annotations

from collections.abc import Sequence


class ScenefarmError(Exception):
    """Base of every error the operator raises on purpose."""


class PlanningError(ScenefarmError):
    """A planning failure with a message a person can act on."""


class PlannerUnavailable(PlanningError):
    """No API key, the service is down or rate-limited beyond our retries: try again later."""


class PlannerBusy(PlannerUnavailable):
    """The service answered 429/5xx or could not be reached after the client's own retries."""


class InvalidPlan(PlanningError):
    """A plan that must not be rendered; `errors` names the offending scenes."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        self.errors = tuple(errors)
        details = "".join(f"\n  - {e}" for e in self.errors)
        super().__init__(f"{message}{details}")


class FixNotSupported(PlanningError):
    """The planning mode (Explicit, Template) has no way to rewrite failing code."""


class SettingsError(ScenefarmError):
    """A SCENEFARM_* variable has a value the operator cannot use."""
