"""Whether a web request's row is still its owner's, read from Appwrite before the mirror first
writes the row and before forgetting deletes or marks it.

`provenance.intake_row_of` says which request row a VideoRequest mirrors into; this says whether
that row, as Appwrite holds it now, belongs to the request's owner: readable by exactly that user
(the row's permissions are the row's only record of its user; the table has no user column). A
row that is gone may be written (it is made again as the owner's); a row another user may read,
or no one user, is never written to or deleted by the request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB

from scenefarm_contract.appwrite_sdk import status_of
from scenefarm_operator.web.calls import AppwriteConfig, Caller, describe, is_retryable
from scenefarm_operator.web.layout import VIDEOS
from scenefarm_operator.web.provenance import claims_a_row, owned_by, request_owner

logger = logging.getLogger(__name__)


class RowReader(Protocol):
    """What the check uses of the mirror (`mirror.AppwriteMirror`): its config, tables and caller."""

    config: AppwriteConfig
    tables: TablesDB
    caller: Caller


class Claim(NamedTuple):
    """A web request's claim on a request row: the row, and whose the request is."""

    row_id: str
    owner: str | None
    request: str  # `namespace/name`, for the log and the status


def claim_of(body: Mapping[str, Any], row_id: str) -> Claim:
    metadata = body.get("metadata") or {}
    return Claim(row_id, request_owner(body), f"{metadata.get('namespace')}/{metadata.get('name')}")


async def row_is_owners(reader: RowReader, claim: Claim) -> bool:
    """Whether the request may write (or delete) its video row. Raises Appwrite's errors but 404
    (a row that is gone is nobody's): the caller tries again later."""
    if claim.owner is None:
        return False
    database = reader.config.database
    try:
        row = await reader.caller.call(lambda: reader.tables.get_row(database, VIDEOS.id, claim.row_id))
    except AppwriteException as error:
        if status_of(error) == 404:
            return True
        raise
    return owned_by(row.permissions or [], claim.owner)


def not_owners(claim: Claim, why: str = "is another user's") -> str:
    """The log line and the `status.appwrite` message of a request refused its row."""
    return (
        f"VideoRequest {claim.request} names Appwrite row {claim.row_id}, which {why}: "
        "nothing is written to or deleted from it"
    )


class Claims:
    """The mirror's web requests and their rows: which wait for the check, which passed it, and
    which were refused (never written). Thread-safe: `note` comes from `publish`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unchecked: dict[str, Claim] = {}
        self._passed: dict[str, Claim] = {}
        self._refused: dict[str, str] = {}  # uid -> why

    def note(self, uid: str, body: Mapping[str, Any], web_row: str | None, *, first: bool) -> bool:
        """Record what a published request claims; False when its rows must not be written."""
        claim = claim_of(body, web_row) if web_row is not None else None
        with self._lock:
            if uid in self._refused:
                return False
            if claim is not None and claim not in (self._passed.get(uid), self._unchecked.get(uid)):
                self._unchecked[uid] = claim
        if claim is None and first and claims_a_row(body):
            logger.warning(
                "VideoRequest %s names an Appwrite row but is no web request of the intake: "
                "mirrored into a row of its own",
                claim_of(body, "").request,
            )
        return True

    def forget(self, uid: str) -> None:
        with self._lock:
            for table in (self._unchecked, self._passed, self._refused):
                table.pop(uid, None)

    def held(self) -> set[str]:
        """The requests whose rows may not be written now."""
        with self._lock:
            return self._unchecked.keys() | self._refused.keys()

    async def check(self, reader: RowReader, uids: Iterable[str]) -> dict[str, str]:
        """Read the row of each unchecked request of `uids`; returns those refused now (uid -> why).
        Raises timeouts, 429 and 5xx (the checks done so far are kept); any other failure to read
        the row refuses it."""
        refused: dict[str, str] = {}
        with self._lock:
            unchecked = {uid: self._unchecked[uid] for uid in uids if uid in self._unchecked}
        for uid, claim in unchecked.items():
            why = None
            try:
                if not await row_is_owners(reader, claim):
                    why = not_owners(claim)
            except Exception as error:
                if is_retryable(error):
                    raise
                # Fail closed: a row that cannot be read is not written (a restart checks again).
                why = not_owners(claim, f"could not be read ({describe(error, reader.config.api_key)})")
            with self._lock:
                if self._unchecked.get(uid) != claim:
                    continue  # forgotten meanwhile, or it claims another row now: checked again
                del self._unchecked[uid]
                if why is None:
                    self._passed[uid] = claim
                else:
                    refused[uid] = self._refused[uid] = why
                    logger.warning("%s", why)
        return refused
