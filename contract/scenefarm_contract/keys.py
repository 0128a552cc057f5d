"""The API's names and every label, annotation and finalizer key scenefarm writes, in one place.

The operator, the CLI and the renderer name the VideoRequest API and their keys through these
constants; a test (tests/unit/test_vocabulary.py) fails when one of these strings is written out
anywhere else in the product.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "scenefarm.dev"
VERSION: Final = "v1alpha1"
PLURAL: Final = "videorequests"
KIND: Final = "VideoRequest"
API_VERSION: Final = f"{GROUP}/{VERSION}"

FINALIZER: Final = "scenefarm.dev/finalizer"

# Labels on every child of a request.
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "scenefarm"  # the value of MANAGED_BY
REQUEST_LABEL: Final = "scenefarm.dev/request"
SCENE_LABEL: Final = "scenefarm.dev/scene"
ROLE_LABEL: Final = "scenefarm.dev/role"
ATTEMPT_LABEL: Final = "scenefarm.dev/attempt"
KUEUE_QUEUE_LABEL: Final = "kueue.x-k8s.io/queue-name"
# On the clean-up Job a deleted request leaves (not its child: it outlives it, by design).
CLEANUP_OF_LABEL: Final = "scenefarm.dev/cleanup-of"
# Labels on a VideoRequest made by the web intake.
INTAKE_LABEL: Final = "scenefarm.dev/intake"  # value "appwrite": made from an Appwrite request row
USER_LABEL: Final = "scenefarm.dev/appwrite-user"  # the owner (label-safe), for per-user limits
SOURCE_LABEL: Final = (
    "scenefarm.dev/appwrite-source"  # the owner's client address (hashed), per-source limits
)
# On requests submitted together (`scenefarm submit --from`, the page's several topics): the batch.
BATCH_LABEL: Final = "scenefarm.dev/batch"

# Annotations.
CODE_KEY_ANNOTATION: Final = "scenefarm.dev/code-key"
# On an attempt a user's retry forced: which spec.retryGeneration it serves.
RETRY_GENERATION_ANNOTATION: Final = "scenefarm.dev/retry-generation"
# On a Job the operator suspended for spec.suspend: only those does it resume (Kueue holds others).
SUSPENDED_BY_US_ANNOTATION: Final = "scenefarm.dev/suspended"
CHUNKING_ANNOTATION: Final = "scenefarm.dev/chunking"  # the ChunkDecision, as status shows it (JSON)
CACHE_KEY_ANNOTATION: Final = "scenefarm.dev/cache-key"  # the plan's cache key, for the stitched scene
# a finished Job's deciding Pod end (exit code, reason, termination message), copied when first seen:
# what the terminated-Pod garbage collector cannot take away
RESULT_ANNOTATION: Final = "scenefarm.dev/result"
ROW_ANNOTATION: Final = "scenefarm.dev/appwrite-row"  # a web request: the row the user created is its row
OWNER_ANNOTATION: Final = "scenefarm.dev/appwrite-owner"  # a web request: the Appwrite user who made it
NOTIFICATIONS_ANNOTATION: Final = "scenefarm.dev/notifications"  # webhook deliveries already made
# On the render ServiceAccount (the chart): the renderer image, for the CLI's download Pod.
RENDERER_IMAGE_ANNOTATION: Final = "scenefarm.dev/renderer-image"
# ... and the render Pods' uid ("10001"), or RENDER_UID_ASSIGNED on OpenShift (its SCC assigns the
# namespace's): the download Pod's uid once the request's Jobs are gone.
RENDER_UID_ANNOTATION: Final = "scenefarm.dev/render-uid"
RENDER_UID_ASSIGNED: Final = "assigned"
