"""What the REST API says about audio clips, templates, batches and jobs, and what it accepts
(webhooks' serializers live beside their views, in jobs.api.webhooks)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.export import MAX_BATCHES_PER_EXPORT
from jobs.models import (
    AudioClip,
    Batch,
    JobStatus,
    RenderJob,
    Template,
)
from jobs.selectors import BatchState, BatchStatus, batch_counts, batch_state, template_faces
from jobs.user_errors import (
    job_error_text,
    retry_blocked_reason,
    template_face_error_text,
    template_face_note_text,
)
from jobs.words.transcripts import (
    CAPTION_POSITIONS,
    CAPTION_SIZES,
    MAX_SCRIPT_CHARS,
    transcript_note,
)
from rendering.subtitle_formats import FORMATS
from rendering.transcription import LANGUAGES


class AudioSerializer(serializers.ModelSerializer[AudioClip]):
    name = serializers.CharField(source="original_name", read_only=True)

    class Meta:
        model = AudioClip
        fields = (
            "id",
            "name",
            "duration",
            "sample_rate",
            "channels",
            "size_bytes",
            "content_hash",
            "created_at",
        )
        read_only_fields = fields


class TemplateFaceSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="Position in `faces`; send it as `face_choice`.")
    x = serializers.FloatField(help_text="Centre of the face, as a fraction of the width.")
    y = serializers.FloatField(help_text="Centre of the face, as a fraction of the height.")
    size = serializers.FloatField(help_text="Face width as a fraction of the frame width.")
    visible = serializers.FloatField(help_text="Share of sampled frames showing this face.")
    turn = serializers.FloatField(help_text="How far the head is turned, in degrees (0 = frontal).")
    score = serializers.FloatField(help_text="Higher is a better default speaker.")
    speaks = serializers.BooleanField(help_text="The face new batches make speak.")
    thumbnail_url = serializers.CharField(help_text="A small JPEG of this face.")


class TemplateSerializer(serializers.ModelSerializer[Template]):
    name = serializers.CharField(source="original_name", read_only=True)
    face_error = serializers.SerializerMethodField(
        help_text="Why the face check failed, in the request's language (Accept-Language)."
    )
    face_error_code = serializers.CharField(read_only=True, help_text="A stable name for it.")
    face_note = serializers.SerializerMethodField(
        help_text="Advice from the face check that does not stop a render (e.g. the clip never "
        "shows the mouth open), in the request's language; empty when there is none."
    )
    faces = serializers.SerializerMethodField()
    face_choice = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Index in `faces` of the face chosen to speak; null: the default (the first).",
    )

    @extend_schema_field(serializers.CharField())
    def get_face_error(self, template: Template) -> str:
        return template_face_error_text(template)

    @extend_schema_field(serializers.CharField())
    def get_face_note(self, template: Template) -> str:
        return template_face_note_text(template)

    class Meta:
        model = Template
        fields = (
            "id",
            "name",
            "duration",
            "width",
            "height",
            "fps",
            "size_bytes",
            "content_hash",
            "face_status",
            "face_error",
            "face_error_code",
            "face_note",
            "faces",
            "face_choice",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(TemplateFaceSerializer(many=True, allow_null=True))
    def get_faces(self, template: Template) -> list[dict[str, Any]] | None:
        """The people face analysis found, best default speaker first; null until it ran."""
        if template.faces is None:
            return None
        return [
            face
            | {
                "thumbnail_url": reverse(
                    "api:template-face-thumbnail", args=[template.pk, face["index"]]
                )
            }
            for face in template_faces(template)
        ]


class TemplateUpdateSerializer(serializers.Serializer[Any]):
    face_choice = serializers.IntegerField(
        allow_null=True,
        min_value=0,
        help_text="Index in the template's `faces` of the face that speaks in new batches; "
        "null for the default (the best speaker).",
    )


class JobSerializer(serializers.ModelSerializer[RenderJob]):
    batch = serializers.UUIDField(source="batch_id", read_only=True)
    template = serializers.UUIDField(source="template_id", read_only=True, allow_null=True)
    error = serializers.SerializerMethodField(
        help_text="Why the job failed, in the request's language (Accept-Language)."
    )
    error_code = serializers.CharField(read_only=True, help_text="A stable name for it.")
    retry_blocked = serializers.SerializerMethodField(
        help_text="For a failed or canceled job: why a retry cannot help (in the request's "
        "language), so none is offered; empty when a retry may succeed."
    )
    result_url = serializers.SerializerMethodField()
    quality = serializers.JSONField(
        read_only=True,
        allow_null=True,
        help_text="Measured on the finished video: sync, best_offset, confidence, "
        "psnr_outside, coverage, frames_measured, review, reasons (codes); null until "
        "measured. See docs/api.md.",
    )

    @extend_schema_field(serializers.CharField())
    def get_error(self, job: RenderJob) -> str:
        return job_error_text(job)

    @extend_schema_field(serializers.CharField())
    def get_retry_blocked(self, job: RenderJob) -> str:
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
            return ""
        return retry_blocked_reason(job)

    class Meta:
        model = RenderJob
        fields = (
            "id",
            "batch",
            "position",
            "template",
            "template_name",
            "status",
            "progress",
            "attempts",
            "error",
            "error_code",
            "retry_blocked",
            "output_size",
            "output_duration",
            "quality",
            "result_url",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_result_url(self, job: RenderJob) -> str | None:
        if job.status != JobStatus.SUCCEEDED or not job.output:
            return None
        return reverse("api:job-result", args=[job.pk])


class BatchCountsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    canceled = serializers.IntegerField()


BATCH_STATUSES = [
    BatchStatus.QUEUED,
    BatchStatus.RUNNING,
    BatchStatus.DONE,
    BatchStatus.DONE_WITH_FAILURES,
    BatchStatus.CANCELED,
]


class CaptionsSerializer(serializers.Serializer[Any]):
    position = serializers.ChoiceField(choices=list(CAPTION_POSITIONS))
    size = serializers.ChoiceField(choices=list(CAPTION_SIZES))


# One download link per subtitle format (rendering.subtitle_formats.FORMATS).
SubtitleLinksSerializer = type(
    "SubtitleLinksSerializer",
    (serializers.Serializer,),
    {f.suffix: serializers.CharField(help_text=f.title) for f in FORMATS.values()},
)


class TranscriptWordSerializer(serializers.Serializer[Any]):
    text = serializers.CharField()
    start = serializers.FloatField(help_text="seconds")
    end = serializers.FloatField(help_text="seconds")
    probability = serializers.FloatField()


class TranscriptSerializer(serializers.Serializer[Any]):
    language = serializers.CharField(help_text="Whisper's code (zh, en, ...)")
    detected = serializers.BooleanField(help_text="true when Whisper chose the language")
    language_probability = serializers.FloatField()
    text = serializers.CharField()
    words = TranscriptWordSerializer(many=True)


class BatchSerializer(serializers.ModelSerializer[Batch]):
    audio = serializers.UUIDField(source="audio_id", read_only=True)
    status = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    jobs = serializers.SerializerMethodField()
    captions = serializers.SerializerMethodField()
    subtitles = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields: tuple[str, ...] = (
            "id",
            "name",
            "engine",
            "audio",
            "status",
            "counts",
            "progress",
            "created_at",
            "finished_at",
            "canceled_at",
            "language",
            "captions",
            "subtitles",
            "jobs",
        )
        read_only_fields: tuple[str, ...] = fields

    @extend_schema_field(CaptionsSerializer(allow_null=True))
    def get_captions(self, batch: Batch) -> dict[str, str] | None:
        return {"position": batch.captions, "size": batch.caption_size} if batch.captions else None

    @extend_schema_field(SubtitleLinksSerializer(allow_null=True))
    def get_subtitles(self, batch: Batch) -> dict[str, str] | None:
        """Download links once the batch has subtitles, else null."""
        if not batch.subtitle_cues:
            return None
        return {kind: reverse(f"api:batch-subtitles-{kind}", args=[batch.pk]) for kind in FORMATS}

    def _state(self, batch: Batch) -> BatchState:
        # Views prefetch "jobs" ordered by position; batch_state queries for a lone batch.
        cache = getattr(batch, "_prefetched_objects_cache", {})
        return batch_state(batch, jobs=cache.get("jobs"))

    @extend_schema_field(serializers.ChoiceField(choices=BATCH_STATUSES))
    def get_status(self, batch: Batch) -> str:
        return batch_counts(batch).status

    @extend_schema_field(BatchCountsSerializer)
    def get_counts(self, batch: Batch) -> dict[str, int]:
        return batch_counts(batch).as_dict()

    @extend_schema_field(serializers.FloatField())
    def get_progress(self, batch: Batch) -> float:
        """0..1 over the whole batch (selectors.BatchState.progress)."""
        return self._state(batch).progress

    @extend_schema_field(JobSerializer(many=True))
    def get_jobs(self, batch: Batch) -> list[dict[str, Any]]:
        return list(JobSerializer(self._state(batch).jobs, many=True).data)


class BatchDetailSerializer(BatchSerializer):
    """One batch: what the list says, plus the script and the transcript with word times."""

    transcript = serializers.SerializerMethodField()
    transcript_note = serializers.SerializerMethodField(
        help_text="Why there is no transcript or subtitles (empty when there are)."
    )

    class Meta(BatchSerializer.Meta):
        fields: tuple[str, ...] = (
            *BatchSerializer.Meta.fields,
            "script",
            "transcript",
            "transcript_note",
        )
        read_only_fields: tuple[str, ...] = fields

    @extend_schema_field(serializers.CharField())
    def get_transcript_note(self, batch: Batch) -> str:
        return transcript_note(batch)

    @extend_schema_field(TranscriptSerializer(allow_null=True))
    def get_transcript(self, batch: Batch) -> dict[str, Any] | None:
        data = batch.transcript
        if not data:
            return None
        keys = ("language", "detected", "language_probability", "text", "words")
        return {key: data.get(key) for key in keys}


class BatchCreateSerializer(serializers.Serializer[Any]):
    audio = serializers.UUIDField(help_text="Id of an uploaded audio clip.")
    templates = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=settings.MAX_TEMPLATES_PER_BATCH,
        help_text="Ids of uploaded template videos, in the order the results are numbered.",
    )
    engine = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="A name from GET /api/v1/engines/; the server's default when left out.",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    language = serializers.ChoiceField(
        choices=list(LANGUAGES),
        required=False,
        help_text="The speech's language for the transcript; auto (default) lets Whisper detect it.",
    )
    script = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_SCRIPT_CHARS,
        trim_whitespace=True,
        help_text="What is said, as text: the subtitles then use its words, timed to the audio.",
    )
    captions = serializers.ChoiceField(
        choices=["", *CAPTION_POSITIONS],
        required=False,
        allow_blank=True,
        help_text="Burn the subtitles into every video at this position; empty or left out: no captions.",
    )
    caption_size = serializers.ChoiceField(choices=list(CAPTION_SIZES), required=False)


class UploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="The media file (multipart/form-data).")


class EngineSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    default = serializers.BooleanField()


class RetrySerializer(serializers.Serializer[Any]):
    requeued = serializers.IntegerField()
    batch = BatchSerializer()


class ExportCreateSerializer(serializers.Serializer[Any]):
    batches = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_BATCHES_PER_EXPORT,
        help_text=f"Batch ids (at most {MAX_BATCHES_PER_EXPORT}).",
    )
    finished_only = serializers.BooleanField(
        default=False, help_text="Leave out jobs that are still queued or running."
    )


class ExportLinkSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(help_text="Absolute, short-lived; needs no key to download.")
    filename = serializers.CharField()
    size = serializers.IntegerField(help_text="Exact size of the ZIP in bytes.")
    expires_at = serializers.DateTimeField()
    batches = serializers.ListField(child=serializers.CharField())
    finished_only = serializers.BooleanField()


class UsageSerializer(serializers.Serializer[Any]):
    used_bytes = serializers.IntegerField()
    quota_bytes = serializers.IntegerField()
    free_bytes = serializers.IntegerField()
    reserved_bytes = serializers.IntegerField(
        help_text="Set aside for videos still queued or rendering."
    )
    audio_bytes = serializers.IntegerField()
    template_bytes = serializers.IntegerField()
    result_bytes = serializers.IntegerField()
    active_jobs = serializers.IntegerField(help_text="Videos queued or rendering now.")
    max_concurrent_jobs = serializers.IntegerField()
    retention_days = serializers.IntegerField()
    max_upload_bytes = serializers.IntegerField()
    max_templates_per_batch = serializers.IntegerField()
    max_audio_seconds = serializers.FloatField()
    max_template_seconds = serializers.FloatField()


class NoticeSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()
    shown_at = serializers.DateTimeField(
        allow_null=True, help_text="When the site showed it on a page; null while unseen."
    )
