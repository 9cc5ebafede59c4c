"""One audio, many templates: the batch entry point of the command line (``python -m
rendering``) and the benchmarks. Each template goes through the render recipe
(``rendering.recipe``: prepare, render, measure), the very steps the Django worker runs for
one job (jobs/render/worker/runner.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rendering import faces as faces_mod
from rendering import recipe
from rendering import subtitles as subtitles_mod
from rendering.captions import CaptionPainter
from rendering.engines import ENGINES, get_engine
from rendering.errors import FaceError, RenderCanceled, RenderingError

if TYPE_CHECKING:
    from rendering.captions import CaptionStyle
    from rendering.subtitles import Cue
    from rendering.transcription import Transcriber, Transcript

logger = logging.getLogger(__name__)

# Shown when something we did not foresee breaks one template; the log has the details.
_UNEXPECTED = (
    "Something went wrong while rendering this video. Try again, and if it keeps failing "
    "use a different template."
)


@dataclass
class BatchItem:
    """The outcome for one template. ``index`` is 1-based, like the output file names."""

    index: int
    template: Path
    ok: bool
    error: str | None = None
    output: Path | None = None
    seconds: float = 0.0
    frames: int = 0
    quality: dict[str, Any] | None = None  # with ``quality=True``, when it could be measured


@dataclass
class BatchResult:
    items: list[BatchItem] = field(default_factory=list)
    seconds: float = 0.0
    transcript: Transcript | None = None  # when a transcriber was given
    cues: list[Cue] = field(default_factory=list)  # the subtitles (script or recognised words)
    subtitles: list[Path] = field(default_factory=list)  # subtitles.srt, subtitles.vtt

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def failed(self) -> list[BatchItem]:
        return [item for item in self.items if not item.ok]


def output_name(index: int) -> str:
    """``output_001.mp4`` for the first template (1-based, zero-padded)."""
    return f"output_{index:03d}.mp4"


def render_batch(
    audio: Path,
    templates: list[Path],
    out_dir: Path,
    *,
    engine: str = "classic",
    cache_dir: Path | None,
    progress: Callable[[int, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    engine_options: dict[str, Any] | None = None,
    face: int | None = None,
    transcriber: Transcriber | None = None,
    language: str | None = None,
    script: str | None = None,
    subtitles: bool = False,
    captions: CaptionStyle | None = None,
    quality: bool = False,
) -> BatchResult:
    """Lip-sync every template to ``audio`` and write ``out_dir/output_NNN.mp4``.

    1. Build the engine and analyse the audio once (cached by content hash); a bad audio
       file or engine name fails the whole batch, since no item could succeed.
    2. For each template: track its face (cached), render, record the outcome. A template
       that cannot be read or shows no face becomes a failed item with a sentence for the
       user; the others go on.
    3. ``face`` picks the N-th face of every template (see ``faces.list_faces``);
       without it each template's best default speaker speaks.
    4. ``progress(index, fraction)`` reports the 1-based item and its fraction done;
       ``should_cancel`` stops the batch with ``RenderCanceled`` between or inside items.

    With a ``transcriber`` the audio is also transcribed once (cached) in ``language``;
    the cues come from ``script`` aligned to the words, or from the words themselves.
    ``subtitles`` writes ``subtitles.srt`` / ``.vtt`` into ``out_dir``; ``captions``
    burns the same cues into every output, drawn on each frame before its one encode.
    ``quality`` measures every output (``recipe.measure``) into ``BatchItem.quality``.
    """
    started = time.perf_counter()
    audio, out_dir = Path(audio), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = dict(engine_options or {})
    spec = ENGINES.get(engine)  # an unknown name: get_engine says so
    if spec is not None and spec.mouth_library:
        options.setdefault("cache_dir", cache_dir)  # mouth libraries live beside the tracks
    renderer = get_engine(engine, **options)
    # The neural engine reads its own Whisper's encoder layers: analyse with that checkpoint.
    features = recipe.analyse_audio(
        audio,
        cache_dir=cache_dir,
        options={
            "whisper_model": renderer.whisper_model,
            "transcribe": False,
            "transcriber": transcriber,
            "language": language,
        },
    )
    result = BatchResult(transcript=features.transcript)
    if features.transcript is not None:
        words = subtitles_mod.subtitle_words(features.transcript.words, script)
        result.cues = subtitles_mod.build_cues(words)
        if subtitles:
            result.subtitles = list(subtitles_mod.write_subtitles(out_dir, result.cues))
    for index, template in enumerate((Path(t) for t in templates), start=1):
        if should_cancel is not None and should_cancel():
            raise RenderCanceled()
        item_started = time.perf_counter()
        item = BatchItem(index=index, template=template, ok=False)
        report: Callable[[float], None] | None = None
        if progress is not None:
            report = _item_progress(progress, index)
            report(0.0)
        try:
            hint = _chosen_face(template, face)
            prepared = recipe.prepare(
                audio, template, cache_dir=cache_dir, features=features, face=hint
            )
            overlay = None
            skip_rows = None
            if captions is not None and result.cues:
                track = prepared.track
                painter = CaptionPainter(result.cues, track.width, track.height, captions)
                overlay = painter.frame_function(track.fps)
                skip_rows = painter.band
            out_path = out_dir / output_name(index)
            rendered = recipe.render(
                prepared,
                renderer,
                out_path,
                overlay=overlay,
                progress=report,
                should_cancel=should_cancel,
            )
            if quality:
                item.quality = recipe.measure(
                    rendered.path, prepared, rendered, face=hint, skip_rows=skip_rows
                )
        except RenderCanceled:
            raise
        except RenderingError as exc:
            logger.info("template %s failed: %s", template, exc)
            item.error = exc.message
        except Exception:
            # One broken template must never take its siblings down with it.
            logger.exception("unexpected failure rendering %s", template)
            item.error = _UNEXPECTED
        else:
            item.ok = True
            item.output = rendered.path
            item.frames = rendered.frames
        item.seconds = time.perf_counter() - item_started
        if report is not None:
            report(1.0)
        result.items.append(item)
    result.seconds = time.perf_counter() - started
    return result


def _chosen_face(template: Path, number: int | None) -> faces_mod.FaceHint | None:
    """The ``number``-th face (1-based, as ``faces.list_faces`` orders them), or None."""
    if number is None:
        return None
    found = faces_mod.list_faces(template)
    if not 1 <= number <= len(found):
        raise FaceError(
            f"This video shows {len(found)} face(s), so there is no face number {number}. "
            "Pick one of the faces listed for it.",
            code="no_such_face",
            params={"faces": len(found), "number": number},
        )
    return found[number - 1].hint


def _item_progress(progress: Callable[[int, float], None], index: int) -> Callable[[float], None]:
    def report(fraction: float) -> None:
        progress(index, fraction)

    return report
