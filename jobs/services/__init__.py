"""Every write a page, the API, the admin, a command or a task starts: views and tasks call
these, so the web page, the API and the admin do the same thing the same way.

Every state change happens here, inside a transaction; tasks are enqueued on commit with ids.
``library`` holds uploads and the face choice; ``batches`` holds batches, jobs and deletions;
``accounts`` deletes all of a user's data, or the account with it.
Callers use ``from jobs import services`` and ``services.<entity>_<action>``.
"""

from __future__ import annotations

from jobs.services.accounts import user_data_delete, user_delete
from jobs.services.batches import (
    audio_delete,
    batch_cancel,
    batch_create,
    batch_delete,
    batch_retry_failed,
    default_batch_name,
    job_delete,
    job_retry,
    jobs_cancel,
    jobs_retryable,
    template_delete,
)
from jobs.services.library import audio_upload, template_face_choose, template_upload

__all__ = [
    "audio_delete",
    "audio_upload",
    "batch_cancel",
    "batch_create",
    "batch_delete",
    "batch_retry_failed",
    "default_batch_name",
    "job_delete",
    "job_retry",
    "jobs_cancel",
    "jobs_retryable",
    "template_delete",
    "template_face_choose",
    "template_upload",
    "user_data_delete",
    "user_delete",
]
