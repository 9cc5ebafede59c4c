"""The product's state: audio clips, templates, batches and render jobs, webhooks,
notices, export links and the API's idempotency records. One module per concern; this package re-exports every model,
so `jobs.models.X` (used by migrations and callers) keeps working."""

from jobs.models.batches import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Batch,
    JobStatus,
    LiveRenderJobManager,
    RenderJob,
    RenderJobQuerySet,
    output_upload_to,
)
from jobs.models.exports import (
    ExportToken,
)
from jobs.models.idempotency import (
    IdempotencyRecord,
)
from jobs.models.library import (
    AudioClip,
    FaceStatus,
    LiveOwnedManager,
    OwnedQuerySet,
    Template,
    audio_upload_to,
    template_upload_to,
    thumbnail_upload_to,
)
from jobs.models.notices import (
    Notice,
)
from jobs.models.segments import (
    SEGMENT_IN_FLIGHT,
    RenderSegment,
    SegmentStatus,
    segment_folder,
    segment_name,
)
from jobs.models.webhooks import (
    WEBHOOK_PING_EVENT,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryQuerySet,
    WebhookEvent,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "SEGMENT_IN_FLIGHT",
    "WEBHOOK_PING_EVENT",
    "AudioClip",
    "Batch",
    "DeliveryStatus",
    "ExportToken",
    "FaceStatus",
    "IdempotencyRecord",
    "JobStatus",
    "LiveOwnedManager",
    "LiveRenderJobManager",
    "Notice",
    "OwnedQuerySet",
    "RenderJob",
    "RenderJobQuerySet",
    "RenderSegment",
    "SegmentStatus",
    "Template",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryQuerySet",
    "WebhookEvent",
    "audio_upload_to",
    "output_upload_to",
    "segment_folder",
    "segment_name",
    "template_upload_to",
    "thumbnail_upload_to",
]
