"""The one catalogue: every sentence said about a job, a template or a batch, by code, in
the reader's language (English and Simplified Chinese).

Rows store codes and parameters, never sentences of their own: a failure as
``error_code`` / ``error_params`` (a job, a template's face check), a job's log as coded
lines (``jobs.render.job_log``), a quality report as reason codes. Pages, the admin, the API, the
ZIP's manifests and webhooks word them here, in the active language:

- ``SENTENCES``: failures (the rendering library's codes, ``rendering.errors``, and the
  worker's, the watchdog's and the limits' own), with ``HINTS``; :func:`error_text`;
- ``STEPS``: the job log's steps (``rendering.recipe``'s step codes and the worker's);
  :func:`step_text`;
- ``QUALITY_REASONS`` and ``UNEDITED``: why a result asks for review; :func:`quality_reasons`.

The English column a failed row still fills (``error_message``, ``face_error``) is this
catalogue's English (:func:`english`), or the library's own sentence for a code this table
does not know. Rows written before the codes existed have only their English sentence: it
is shown as stored (a read-time fallback, no migration: guessing codes back from old
English would be a second copy of every sentence), or, in another language, a general
sentence for its kind of failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext, gettext_lazy, pgettext_lazy

from heygem_site.formats import duration_label, engine_label
from rendering.engines import ENGINES

HINTS: dict[str, Promise] = {
    "video": gettext_lazy("Upload an MP4, MOV, WebM, MKV or AVI file."),
    "audio": gettext_lazy("Upload a WAV, MP3, M4A, FLAC or OGG file."),
    "any": gettext_lazy(
        "Upload an MP4, MOV, WebM, MKV or AVI video, or a WAV, MP3, M4A, FLAC or OGG audio file."
    ),
}

# Sentences by code. "%(hint)s" is one of HINTS; durations arrive already worded.
SENTENCES: dict[str, Promise] = {
    "format_not_accepted": gettext_lazy("This file is not a format we accept. %(hint)s"),
    "unreadable": gettext_lazy(
        "We could not read this file: it is damaged, incomplete or not a media file we accept. %(hint)s"
    ),
    "audio_only": gettext_lazy(
        "This file is not a video we can read (it is an audio-only format). %(hint)s"
    ),
    "no_video_stream": gettext_lazy(
        "This file is not a video we can read (no video stream found). %(hint)s"
    ),
    "no_picture_size": gettext_lazy(
        "This file is not a video we can read (its picture size is missing). %(hint)s"
    ),
    "no_audio_stream": gettext_lazy(
        "This file has no sound we can use (no audio track found). %(hint)s"
    ),
    "audio_empty": gettext_lazy("This audio file is empty (it has no sound in it). %(hint)s"),
    "audio_too_short": gettext_lazy(
        "This audio is only %(seconds)s long; a video needs at least %(minimum)s of speech. "
        "Upload a longer recording."
    ),
    "not_local": gettext_lazy("We can only read files stored on this server, not links."),
    "file_missing": gettext_lazy("We could not find this file. Upload it again."),
    "not_a_file": gettext_lazy("This is not a file we can read. Upload it again."),
    "file_empty": gettext_lazy("This file is empty (0 bytes). Upload it again."),
    "too_many_pixels": gettext_lazy(
        "This video is %(width)s×%(height)s pixels; the limit is %(max_megapixels)s million "
        "pixels (3840×2160 is 8.3 million). Export it at a smaller size and upload it again."
    ),
    "fps_too_high": gettext_lazy(
        "This video runs at %(fps)s frames per second; the limit is %(max_fps)s. "
        "Export it at 30 or 60 frames per second."
    ),
    "too_many_frames": gettext_lazy(
        "This video has %(frames)s frames; the limit is %(max_frames)s. Upload a shorter clip."
    ),
    "too_long": gettext_lazy(
        "This file is longer than the limit of %(max_duration)s. Trim it and upload it again."
    ),
    "video_damaged": gettext_lazy(
        "This video is damaged or incomplete: we could not decode it. %(hint)s"
    ),
    "audio_damaged": gettext_lazy(
        "This audio is damaged or incomplete: decoding stopped part-way. %(hint)s"
    ),
    "no_picture": gettext_lazy("This video has no picture we can decode. %(hint)s"),
    "no_thumbnail": gettext_lazy("We could not make a preview picture of this video."),
    "no_face": gettext_lazy(
        "We could not find one clear face in this video. Use a video where one person faces "
        "the camera, well lit, for most of the clip."
    ),
    "canceled": pgettext_lazy("job error", "Canceled."),
    "template_deleted": gettext_lazy("The template video was deleted before this job ran."),
    "worker_lost": gettext_lazy(
        "The renderer stopped while working on this video %(attempts)s times, so we gave up. "
        "Try a shorter or smaller video, or retry later."
    ),
    "face_check_lost": gettext_lazy(
        "Checking this video for a face stopped the worker %(attempts)s times (it may be too "
        "long or too large for this server), so we gave up. Upload a shorter clip, or the same "
        "video at a lower resolution (1080p or less)."
    ),
    "segment_failed": gettext_lazy(
        "Part %(part)s of %(parts)s of this video could not be rendered. Retry it; if it fails "
        "again, try another template or contact support."
    ),
    "segment_worker_lost": gettext_lazy(
        "The renderer stopped while working on part %(part)s of this video %(attempts)s times, "
        "so we gave up. Retry later, or try a shorter video."
    ),
    "quota_at_start": gettext_lazy(
        "This video needs about %(needed)s, but only %(free)s of your %(quota)s storage is free "
        "(with the videos still rendering), so it was not rendered. Delete older results or ask "
        "us for a larger quota, then retry it."
    ),
    "preparation_lost": gettext_lazy(
        "Preparing this batch's audio stopped the worker %(attempts)s times, so we gave up. "
        "Upload a shorter or smaller audio file, or retry later."
    ),
    "audio_analysis": gettext_lazy(
        "The audio could not be analysed. Upload the audio again, or another recording."
    ),
    "unknown_engine": gettext_lazy(
        "This server has no rendering engine called “%(engine)s”. Start a new batch with another engine."
    ),
    "engine_options": gettext_lazy(
        "The “%(engine)s” engine is not set up correctly on this server. Tell the administrator."
    ),
    "face_too_little": gettext_lazy(
        "The face is usable in only %(percent)s %% of this video (too small, turned away or "
        "out of the picture), so we did not render it. Use a clip where the speaker faces the "
        "camera for most of the time."
    ),
    "no_such_face": gettext_lazy(
        "This video shows %(faces)s faces, so there is no face number %(number)s. Pick one of "
        "the faces listed for it."
    ),
    # The words (jobs.words.transcripts; why a batch has no transcript is its NOTES): caption failures.
    "unknown_language": gettext_lazy(
        "There is no transcript language “%(language)s”. Start a new batch with another language."
    ),
    "caption_font_missing": gettext_lazy(
        "Captions cannot be drawn: the caption font is not installed on this server. Tell the "
        "administrator, or start a new batch without captions."
    ),
    "output_missing": gettext_lazy("The video file is missing; render it again with Retry."),
    "segment_empty": gettext_lazy(
        "A segment of this video holds no picture, so it cannot be joined. Retry the video."
    ),
    "unexpected": gettext_lazy(
        "Something went wrong while rendering this video. Retry it; if it fails again, try "
        "another template or contact support."
    ),
}

# Each engine's own failures come with its record (rendering.engines.ENGINES).
SENTENCES.update(
    {code: gettext_lazy(text) for spec in ENGINES.values() for code, text in spec.errors.items()}
)

# For a code this table does not know, in a language other than English.
GENERAL: dict[str, Promise] = {
    "media_invalid": gettext_lazy("We could not use this file. Upload another one."),
    "rendering_failed": gettext_lazy(
        "Rendering this video failed. Retry it; if it fails again, try another template."
    ),
}

# Failures a retry cannot fix: the same template or audio would fail the same way.
PERMANENT = {"no_face", "template_deleted"}


# The hint a sentence ends with, when the stored row did not name one.
_HINT_OF = {
    "audio_only": "video",
    "no_video_stream": "video",
    "no_picture_size": "video",
    "video_damaged": "video",
    "no_picture": "video",
    "no_audio_stream": "audio",
    "audio_empty": "audio",
    "audio_damaged": "audio",
}


def _worded(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(params)
    kind = str(values.get("hint") or _HINT_OF.get(code, "any"))
    values["hint"] = str(HINTS.get(kind, HINTS["any"]))
    if "max_seconds" in values:
        values["max_duration"] = duration_label(values["max_seconds"])
    for key in ("seconds", "minimum"):
        if isinstance(values.get(key), int | float):
            values[key] = duration_label(values[key])
    return values


def error_text(code: str, params: Mapping[str, Any] | None, fallback: str) -> str:
    """The failure `code` (with `params`) as a sentence in the active language."""
    sentence = SENTENCES.get(code or "")
    if sentence is not None:
        try:
            return str(sentence) % _worded(code, params or {})
        except (KeyError, TypeError, ValueError):
            pass  # params from an older row: say it the general way below
    if fallback and (get_language() or "en").startswith("en"):
        return fallback
    return str(GENERAL.get(code or "", GENERAL["rendering_failed"]))


def english(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The failure ``code`` in English, from this catalogue: what a failed row keeps in its
    message column (staff's searches, readers of an older version), never a second copy."""
    with translation.override("en"):
        return error_text(code, params, "")


def stored_english(code: str, params: Mapping[str, Any] | None, message: str = "") -> str:
    """What a failed row keeps in its English column: this catalogue's English for a code it
    knows, else ``message``, the rendering library's own sentence (a newer library's code)."""
    if code in SENTENCES or not message:
        return english(code, params)
    return message


def job_error_text(job: Any) -> str:
    """A failed or canceled job's error, for pages and the API."""
    if not job.error_message and not job.error_code:
        return ""
    return error_text(job.error_code, job.error_params, job.error_message)


def template_face_error_text(template: Any) -> str:
    if not template.face_error and not template.face_error_code:
        return ""
    return error_text(template.face_error_code, template.face_error_params, template.face_error)


def template_face_note_text(template: Any) -> str:
    """The face check's advice on a usable template (``face_note``), in the user's language."""
    notes = {
        "mouth_never_open": gettext(
            "This clip never shows the mouth open; a clip where you speak gives a far more "
            "natural result."
        ),
    }
    return " ".join(
        notes[code] for code in str(template.face_note or "").split(",") if code in notes
    )


def media_error_text(exc: Any) -> str:
    """A rendering.errors.MediaError raised while probing an upload, for the uploader."""
    return error_text(
        getattr(exc, "code", ""), getattr(exc, "params", {}), getattr(exc, "message", str(exc))
    )


def retry_blocked_reason(job: Any) -> str:
    """Why retrying this job cannot help, or "" when a retry may succeed."""
    template = getattr(job, "template", None)
    if job.template_id is None or job.error_code == "template_deleted":
        return gettext("Its template video was deleted, so it cannot be made again.")
    if template is not None and template.face_error_code == "face_check_lost":
        return gettext(
            "Not retried: checking this template's face stopped the worker again and again, so "
            "rendering it would too. Start a new batch with a shorter or smaller video of the person."
        )
    if job.error_code == "face_too_little" and (
        template is None or template.face_status != "ready"
    ):
        return gettext(
            "Not retried: the face is usable in too little of this template, so it would fail "
            "the same way. Choose another face for it, or start a new batch with a video where "
            "the speaker faces the camera."
        )
    if job.error_code == "no_face" or (template is not None and template.face_status == "failed"):
        return gettext(
            "Not retried: this template has no usable face, so it would fail the same way. "
            "Start a new batch with another video of the person."
        )
    return ""


# --- The job log's steps (jobs.render.job_log stores them as codes) ---------------------------------

# One sentence per step code. Parameters are worded by ``_step_values`` before they go in.
STEPS: dict[str, Promise] = {
    "attempt": gettext_lazy("Attempt %(attempt)s, engine: %(engine)s"),
    "audio_ready": gettext_lazy("Audio analysed (%(duration)s)"),
    "face_chosen": gettext_lazy("Face %(number)s of %(faces)s (chosen by you)"),
    "face_track": gettext_lazy("Face tracked: a face in %(present)s of %(frames)s frames"),
    "split": gettext_lazy("Split into %(parts)s parts (%(frames)s frames)"),
    "rendered": gettext_lazy("Rendered %(frames)s frames in %(seconds)s"),
    "captions": gettext_lazy("Captions drawn in (%(position)s, %(size)s)"),
    "transcript_made": gettext_lazy(
        "Transcript made for this video (the batch's preparation had left none)"
    ),
    "joined": gettext_lazy("Joined %(parts)s parts: %(frames)s frames"),
    "joined_reencoded": gettext_lazy("Joined %(parts)s parts (re-encoded): %(frames)s frames"),
    "quality": gettext_lazy("Quality: sync %(sync)s, face edited in %(coverage)s of frames"),
    "quality_review": gettext_lazy(
        "Quality: sync %(sync)s, face edited in %(coverage)s of frames. Please review: %(reasons)s"
    ),
    "quality_not_measured": gettext_lazy("Quality not measured (%(error)s)"),
    "failed": gettext_lazy("Failed: %(reason)s"),
    "join_failed": gettext_lazy("Joining the parts failed: %(reason)s"),
    "part_failed": gettext_lazy("Part %(part)s of %(parts)s failed: %(reason)s"),
}


def _step_values(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    # jobs.words.transcripts loads the models and the rendering library's subtitles.
    from jobs.words.transcripts import CAPTION_POSITION_LABELS, CAPTION_SIZE_LABELS

    values = dict(params)
    if "engine" in values:
        values["engine"] = engine_label(str(values["engine"]))
    if "position" in values:
        position = str(values["position"])
        values["position"] = str(CAPTION_POSITION_LABELS.get(position, position))
    if "size" in values:
        size = str(values["size"])
        values["size"] = str(CAPTION_SIZE_LABELS.get(size, size))
    for key in ("duration", "seconds"):
        if isinstance(values.get(key), int | float):
            values[key] = duration_label(values[key])
    if code.startswith("quality") and code != "quality_not_measured":
        sync = values.get("sync")
        values["sync"] = f"{sync:.2f}" if isinstance(sync, int | float) else gettext("not measured")
        values["coverage"] = f"{float(values.get('coverage') or 0) * 100:.0f}%"
        values["reasons"] = " ".join(
            quality_reason_text(str(r)) for r in values.get("reasons") or []
        )
    if "error_code" in values or "message" in values:
        values["reason"] = error_text(
            str(values.get("error_code") or ""),
            values.get("error_params") or {},
            str(values.get("message") or ""),
        )
    return values


def step_text(code: str, params: Mapping[str, Any]) -> str:
    """One step of a job's log as a sentence in the active language (the code itself when
    this catalogue does not know it, or its parameters come from another version)."""
    if code == "quality" and params.get("review"):
        code = "quality_review"
    sentence = STEPS.get(code)
    if sentence is None:
        return code
    try:
        return str(sentence) % _step_values(code, params)
    except (KeyError, TypeError, ValueError):
        return code


# --- Why a result asks for review (rendering.quality's reason codes) -------------------------

QUALITY_REASONS: dict[str, Promise] = {
    "sync_low": gettext_lazy("The mouth does not follow the words closely."),
    "sync_offset": gettext_lazy("The mouth moves noticeably before or after the sound."),
    "coverage_low": gettext_lazy(
        "Much of the video was left as it was: the face is too small, turned away or "
        "out of the picture there."
    ),
    "changed_outside": gettext_lazy("Something outside the face changed more than it should."),
}

# Frames left unedited, by cause ("unedited_<cause>"), with how much and where.
UNEDITED: dict[str, Promise] = {
    "absent": gettext_lazy(
        "No face was found in %(percent)s %% of the video (%(ranges)s), so the mouth "
        "was left as it was there."
    ),
    "small": gettext_lazy(
        "The face is too small in %(percent)s %% of the video (%(ranges)s), so the mouth "
        "was left as it was there."
    ),
    "turned": gettext_lazy(
        "The head is turned too far from the camera in %(percent)s %% of the video "
        "(%(ranges)s), so the mouth was left as it was there."
    ),
    "unsteady": gettext_lazy(
        "The face could not be followed reliably in %(percent)s %% of the video "
        "(%(ranges)s: blurred, covered or moving fast), so the mouth was left as it was there."
    ),
}


def quality_reason_text(code: str) -> str:
    """A quality reason code (rendering.quality) in words a user can act on."""
    sentence = QUALITY_REASONS.get(code)
    return (
        str(sentence)
        if sentence is not None
        else gettext("A measurement of this video looks unusual.")
    )


def _unedited_text(cause: str, share: float, ranges: list[Any]) -> str:
    spans = ", ".join(
        gettext("%(start)s–%(stop)s s") % {"start": f"{float(a):.1f}", "stop": f"{float(b):.1f}"}
        for a, b in ranges[:4]
    )
    if len(ranges) > 4:
        spans += ", …"
    values = {"percent": round(100 * share), "ranges": spans}
    return str(UNEDITED.get(cause, UNEDITED["absent"])) % values


def quality_reasons(report: Mapping[str, Any]) -> list[str]:
    """A report's reasons in words; the frames left unedited say why, how much and where."""
    unedited = {
        str(part.get("cause")): part
        for part in report.get("unedited") or []
        if isinstance(part, dict)
    }
    out = []
    for code in report.get("reasons") or []:
        cause = str(code).removeprefix("unedited_")
        if str(code).startswith("unedited_") and cause in unedited:
            part = unedited[cause]
            out.append(
                _unedited_text(cause, float(part.get("share") or 0), list(part.get("ranges") or []))
            )
        else:
            out.append(quality_reason_text(str(code)))
    return out
