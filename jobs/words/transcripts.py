"""Transcripts, subtitles and burned-in captions for batches.

Settings become a :class:`rendering.transcription.Transcriber` here, once per process (the
model loads once per worker). ``batch_transcribe`` runs in the batch's preparation step:
it transcribes the audio once (cached by content hash in ``RENDER_CACHE_DIR``, so a second
batch with the same audio transcribes nothing), builds the subtitle cues from the user's
script or the recognised words, and stores both on the batch. Pages, the API and the ZIP
export turn the stored cues into subtitle text on request, in every format of
``rendering.subtitle_formats.FORMATS`` (SRT, WebVTT, ASS): there are no subtitle files to
store, count against quotas or delete.

A missing or broken model never stops a batch: its videos render, and the batch says
why there is no transcript (``Batch.transcript_status``, worded by ``transcript_note``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from jobs.models import Batch

# Light modules (no PyAV, no faster-whisper until a transcription runs): the web process
# imports them. rendering.captions loads PyAV, so it is imported where captions are drawn.
from rendering.errors import RenderingError
from rendering.subtitle_formats import FORMATS, Picture
from rendering.subtitles import Cue, build_cues, full_width, subtitle_words
from rendering.transcription import (
    LANGUAGES,
    Transcriber,
    Transcript,
    join_words,
    model_problem,
    transcribe,
)

if TYPE_CHECKING:
    from rendering.captions import CaptionStyle

log = logging.getLogger("heygem.jobs")

MAX_SCRIPT_CHARS = 20_000
CAPTION_POSITIONS = ("bottom", "middle", "top")
CAPTION_SIZES = ("small", "medium", "large")
CAPTION_POSITION_LABELS: dict[str, Promise] = {
    "bottom": pgettext_lazy("caption position", "bottom"),
    "middle": pgettext_lazy("caption position", "middle"),
    "top": pgettext_lazy("caption position", "top"),
}
CAPTION_SIZE_LABELS: dict[str, Promise] = {
    "small": pgettext_lazy("caption size", "small"),
    "medium": pgettext_lazy("caption size", "medium"),
    "large": pgettext_lazy("caption size", "large"),
}

# Why a batch has no transcript or no subtitles (Batch.transcript_status), in the reader's
# language. The operator's sentence (with the model's path) goes to the log, never to users.
NOTES = {
    "off": _(
        "Transcripts are off on this server: no Whisper model is installed. This batch has no "
        "transcript, subtitles or captions; its videos render as usual."
    ),
    "broken": _(
        "Transcripts are off on this server: its Whisper model is damaged. This batch has no "
        "transcript, subtitles or captions; its videos render as usual."
    ),
    "failed": _(
        "The audio could not be transcribed, so this batch has no transcript, subtitles or "
        "captions; its videos render as usual."
    ),
    "silent": _(
        "Whisper heard no speech in this audio, so this batch has no subtitles or captions."
    ),
}


# The reader's words for each language Whisper is offered in (rendering.transcription keeps
# the codes, and endonyms for the command line).
_LANGUAGE_NAMES = {
    "auto": _("Detect automatically"),
    "zh": _("Chinese"),
    "en": pgettext_lazy("spoken language", "English"),
    "ja": _("Japanese"),
    "ko": _("Korean"),
    "yue": _("Cantonese"),
    "es": _("Spanish"),
    "fr": _("French"),
    "de": _("German"),
    "pt": _("Portuguese"),
    "ru": _("Russian"),
    "it": _("Italian"),
    "ar": _("Arabic"),
    "hi": _("Hindi"),
    "id": _("Indonesian"),
    "vi": _("Vietnamese"),
    "th": _("Thai"),
}


def languages() -> dict[str, str]:
    """Language codes a batch may ask for, with their names in the reader's language
    (``auto`` first)."""
    return {code: str(_LANGUAGE_NAMES.get(code, label)) for code, label in LANGUAGES.items()}


def transcripts_problem() -> str | None:
    """Why this server makes no transcripts (a sentence), or None when it does."""
    return model_problem(settings.WHISPER_MODEL_DIR or None)


@cache
def _transcriber(model_dir: str, threads: int) -> Transcriber:
    return Transcriber(model_dir, cpu_threads=threads)


def transcriber() -> Transcriber | None:
    """The process's transcriber, or None when transcripts are off."""
    if transcripts_problem() is not None:
        return None
    return _transcriber(str(settings.WHISPER_MODEL_DIR), settings.WHISPER_CPU_THREADS)


def batch_transcribe(*, batch: Batch, audio_path: Path) -> bool:
    """Transcribe the batch's audio (cached) and store the transcript and subtitle cues.

    1. Without a usable model, log the operator's sentence, store why ("off" / "broken")
       and return False.
    2. Transcribe in the batch's language (cache hit for audio heard before).
    3. Cues from the batch's script aligned to the words, or from the words.
    4. One update of the batch row; a failure is logged and noted, never raised: the
       videos do not need the words.
    """
    model = transcriber()
    if model is None:
        problem = transcripts_problem() or ""
        log.warning("transcripts are off", extra=_ids(batch) | {"reason": problem})
        _set_status(batch, _off_status())
        return False
    try:
        transcript = transcribe(
            audio_path,
            model,
            cache_dir=Path(settings.RENDER_CACHE_DIR),
            language=batch.language or None,
        )
    except RenderingError as exc:
        log.warning("transcription failed", extra=_ids(batch) | {"reason": str(exc)})
        off = exc.message.startswith("Transcripts are off")  # the model, not the audio
        _set_status(batch, "broken" if off else "failed")
        return False
    cues = build_cues(subtitle_words(transcript.words, batch.script or None))
    data = transcript.to_dict()
    stored = cues_to_json(cues) or None
    status = "" if stored else "silent"
    Batch.objects.filter(pk=batch.pk).update(
        transcript=data, subtitle_cues=stored, transcript_status=status
    )
    batch.transcript, batch.subtitle_cues, batch.transcript_status = data, stored, status
    return True


def features_with_words(features: Any, batch: Batch) -> Any:
    """The batch's audio features with its stored transcript's timed words attached, so
    the classic engine shapes the mouth from the sounds (rendering.articulation); left as
    they are when the batch has no usable transcript (the loudness controls then)."""

    if not batch.transcript or features.words:
        return features
    try:
        transcript = Transcript.from_dict(batch.transcript)
    except ValueError:
        return features
    if transcript.words:
        features.transcript = transcript
        features.words = transcript.words
    return features


def _ids(batch: Batch) -> dict[str, Any]:
    return {"user_id": batch.owner_id, "batch_id": str(batch.pk)}


def _off_status() -> str:
    """ "off" when no model directory is there at all, "broken" when one is but is unusable."""
    configured = settings.WHISPER_MODEL_DIR
    return "broken" if configured and Path(configured).is_dir() else "off"


def _set_status(batch: Batch, status: str) -> None:
    Batch.objects.filter(pk=batch.pk).update(transcript_status=status)
    batch.transcript_status = status


def transcript_note(batch: Batch) -> str:
    """Why the batch has no transcript or subtitles, in the reader's language ("" if it has)."""
    note = NOTES.get(batch.transcript_status)
    return str(note) if note is not None else ""


def new_batch_note() -> str | None:
    """What the new-batch page says when this server makes no transcripts, else None."""
    if transcripts_problem() is None:
        return None
    return str(NOTES[_off_status()])


def cues_to_json(cues: list[Cue]) -> list[dict[str, Any]]:
    return [
        {"start": round(c.start, 3), "end": round(c.end, 3), "lines": list(c.lines)} for c in cues
    ]


def batch_cues(batch: Batch) -> list[Cue]:
    """The batch's subtitle cues (empty when it has no transcript)."""
    return [
        Cue(float(c["start"]), float(c["end"]), tuple(str(line) for line in c["lines"]))
        for c in batch.subtitle_cues or []
    ]


def subtitles_text(batch: Batch, kind: str, *, picture: Picture | None = None) -> str | None:
    """The batch's subtitles in format `kind` (a suffix of ``FORMATS``: "srt", "vtt",
    "ass"); None without cues. `picture`: the batch's ``subtitle_picture``, when known."""
    cues = batch_cues(batch)
    if not cues:
        return None
    return FORMATS[kind]().write(cues, picture or subtitle_picture(batch))


def subtitle_picture(batch: Batch) -> Picture:
    """What styled subtitles (ASS) are laid out for: the batch's first template's size
    (its videos keep their template's), and its captions' position and size, or the
    captions' defaults when it burns none."""
    size = (
        batch.jobs.filter(template__isnull=False)
        .order_by("position")
        .values_list("template__width", "template__height")
        .first()
    )
    width, height = size if size else (Picture.width, Picture.height)
    return Picture(
        width=width,
        height=height,
        position=batch.captions or "bottom",
        size=batch.caption_size or "medium",
    )


def subtitle_formats() -> list[dict[str, str]]:
    """The formats a batch's subtitles come in, for the pages' links (label, suffix)."""
    return [{"suffix": f.suffix, "label": f.label} for f in FORMATS.values()]


def caption_style(batch: Batch) -> CaptionStyle | None:
    """How the batch burns captions into its videos, or None when it does not."""
    if not batch.captions or not batch.subtitle_cues:
        return None
    # rendering.captions loads numpy at import: the web process imports this module, never numpy.
    from rendering.captions import CaptionStyle

    return CaptionStyle(position=batch.captions, size=batch.caption_size or "medium")


@dataclass(frozen=True)
class CaptionOverlay:
    """The batch's captions for one template's frames: ``draw(index, frame)`` for the
    engine's output loop (drawn in the render's own encode, no second pass), and the rows
    it may change (left out of the quality report's "unchanged outside the face" measure)."""

    draw: Callable[[int, Any], Any]
    band: tuple[int, int]


def caption_overlay(*, batch: Batch, width: int, height: int, fps: float) -> CaptionOverlay | None:
    """The captions to draw into this batch's videos of this frame size, or None."""
    style = caption_style(batch)
    if style is None:
        return None
    # rendering.captions loads numpy at import: only the worker paints captions.
    from rendering.captions import CaptionPainter

    painter = CaptionPainter(batch_cues(batch), width, height, style)
    return CaptionOverlay(draw=painter.frame_function(fps), band=painter.band)


def transcript_payload(batch: Batch) -> dict[str, Any]:
    """What pages and the API show of a batch's words: the transcript, or why there is none."""
    data = batch.transcript or None
    return {
        "language": batch.language or "auto",
        "script": bool(batch.script),
        "captions": (
            {
                "position": batch.captions,
                "size": batch.caption_size,
                "position_label": str(CAPTION_POSITION_LABELS.get(batch.captions, batch.captions)),
                "size_label": str(CAPTION_SIZE_LABELS.get(batch.caption_size, batch.caption_size)),
            }
            if batch.captions
            else None
        ),
        "transcript": data,
        "subtitles": bool(batch.subtitle_cues),
        "subtitle_formats": subtitle_formats() if batch.subtitle_cues else [],
        # What the subtitles say, when it is not simply the transcript (a script was given).
        # The script as written (its 。 and ，), not the cue lines, which drop the marks
        # at their ends; the subtitles hold exactly these units, timed.
        "subtitle_text": (
            full_width(join_words(batch.script.split()))
            if batch.script and batch.subtitle_cues
            else ""
        ),
        # What was heard, with Chinese punctuation written full-width (Whisper writes ", ").
        "heard_text": full_width(str(data.get("text") or "")) if data else "",
        # The language as a name in the reader's language (英语, not "en").
        "language_name": languages().get(str((data or {}).get("language") or ""), "")
        or str((data or {}).get("language") or ""),
        "note": transcript_note(batch),
    }


def validate_words_options(
    *, language: str, script: str, captions: str, caption_size: str
) -> tuple[str, str, str, str]:
    """Clean the batch-start options; raise ValidationError with a sentence when wrong."""
    language = (language or "auto").strip() or "auto"
    if language not in languages():
        raise ValidationError(
            gettext('There is no transcript language "%(language)s". Choose one of: %(codes)s.')
            % {"language": language, "codes": ", ".join(languages())}
        )
    script = (script or "").strip()
    if len(script) > MAX_SCRIPT_CHARS:
        raise ValidationError(
            gettext(
                "The script is %(length)s characters long; at most %(limit)s fit. "
                "Shorten it or leave it out."
            )
            % {"length": f"{len(script):,}", "limit": f"{MAX_SCRIPT_CHARS:,}"}
        )
    captions = (captions or "").strip()
    if captions in ("off", "none", "false", "0"):
        captions = ""
    if captions and captions not in CAPTION_POSITIONS:
        raise ValidationError(
            gettext(
                'Captions go at the "bottom", "middle" or "top" of the picture, not "%(value)s".'
            )
            % {"value": captions}
        )
    caption_size = (caption_size or "medium").strip() or "medium"
    if caption_size not in CAPTION_SIZES:
        raise ValidationError(
            gettext('Caption size is "small", "medium" or "large", not "%(value)s".')
            % {"value": caption_size}
        )
    return language, script, captions, caption_size
