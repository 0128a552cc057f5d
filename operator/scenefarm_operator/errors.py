"""Errors the operator raises on purpose.

    ScenefarmError
    ├── InvalidRequest   the VideoRequest cannot be served as written (a person must edit it)
    ├── PlanError        planning failed or produced an invalid plan (see planning.errors)
    │   └── PlannerOutage    the planner is down for now: retried with backoff, then PlanError
    └── SettingsError    the operator's own configuration is wrong (it refuses to start)

Each ends in a status condition with a message a person can act on; none is a stack trace.
"""


class ScenefarmError(Exception):
    """Base of every error the operator raises on purpose."""


class InvalidRequest(ScenefarmError):
    """The VideoRequest cannot be served as written."""


class PlanError(ScenefarmError):
    """Planning failed, or produced a plan that does not pass validation."""


class PlannerOutage(PlanError):
    """The planner is down or rate-limited right now: planning is tried again later."""


class SettingsError(ScenefarmError):
    """A SCENEFARM_* variable has a value the operator cannot use."""
