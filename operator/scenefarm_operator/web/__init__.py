"""The Appwrite mirror: VideoRequests and their scenes as rows in Appwrite's TablesDB.

What belongs here: the table layout (`layout`), the pure mapping from a VideoRequest body to
desired rows (`rows`), the schema bootstrap (`schema`), SDK calls off the event loop with
timeouts and retries (`calls`), and `AppwriteMirror`, which coalesces published states and
writes them in the background. Kubernetes stays the source of truth: nothing here may block or
fail a reconcile.
"""

from scenefarm_operator.web.calls import AppwriteConfig
from scenefarm_operator.web.mirror import AppwriteMirror, SyncState

__all__ = ["AppwriteConfig", "AppwriteMirror", "SyncState"]
