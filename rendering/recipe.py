"""The render recipe, written once: prepare a template's inputs, render a frame range (or
join rendered parts), measure the result.

Every caller renders through here: the command line and the benchmarks
(``pipeline.render_batch``), the Django worker for a whole video (``jobs/render/worker/runner.py``),
for one part of a long one and for the join of its parts (``jobs/render/worker/segment_render.py``). What
differs between them is a parameter, not a second copy of the steps.

Each step says what it did to ``on_step(code, **params)``: codes and plain values, never
sentences (the worker stores them as its job log, ``jobs.render.job_log``, and words them in the
reader's language). The codes: ``audio_ready`` (duration), ``face_track`` (present, frames),
``rendered`` (frames, seconds), ``joined`` / ``joined_reencoded`` (parts, frames),
``quality`` (sync, coverage, review, reasons) and ``quality_not_measured`` (error).

Audio analysis, face tracks and mouth libraries are cached by content hash in ``cache_dir``,
so preparing the same template for every part of a long video costs a cache read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rendering import audio as audio_analysis
from rendering import faces, quality
from rendering.engines.base import RenderResult, output_frame_count
from rendering.media import join_segments, read_audio_as_uploaded

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.engines.base import CancelCheck, Engine, FrameOverlay, ProgressCallback
    from rendering.faces import FaceHint, FaceTrack
    from rendering.media import Limits

logger = logging.getLogger(__name__)

# on_step(code, **params): what a step did, as a code and plain values.
StepReport = Callable[..., None]

# The measure streams the result's frames (memory stays flat); its first 20 s tell as much
# as the whole and keep the cost bounded after a long render.
QUALITY_SECONDS = 20.0


def _quiet(code: str, **params: Any) -> None:
    """The default ``on_step``: nobody is listening."""


@dataclass(frozen=True)
class Prepared:
    """One template's inputs, ready to render: the working files, the audio's features (with
    its words, when the caller attached them) and the followed face's track."""

    audio_path: Path
    template_path: Path
    features: AudioFeatures
    track: FaceTrack

    @property
    def n_frames(self) -> int:
        """How many frames the whole output has (it follows the audio)."""
        return output_frame_count(self.features.duration, self.track.fps)


def analyse_audio(
    audio_path: Path,
    *,
    cache_dir: Path | None,
    options: Mapping[str, Any] | None = None,
    on_step: StepReport = _quiet,
) -> AudioFeatures:
    """The audio's features (``rendering.audio.analyse`` with ``options``: whisper_model,
    transcribe, transcriber, language), cached by content hash."""
    features = audio_analysis.analyse(audio_path, cache_dir=cache_dir, **dict(options or {}))
    on_step("audio_ready", duration=round(float(features.duration), 1))
    return features


def prepare(
    audio_path: Path,
    template_path: Path,
    *,
    cache_dir: Path | None,
    features: AudioFeatures | None = None,
    analysis: Mapping[str, Any] | None = None,
    words: Callable[[AudioFeatures], AudioFeatures] | None = None,
    face: FaceHint | None = None,
    limits: Limits | None = None,
    require_usable: bool = False,
    on_step: StepReport = _quiet,
) -> Prepared:
    """Everything a render of ``template_path`` to ``audio_path`` needs.

    1. The audio's features: ``features`` when the caller analysed the audio already (one
       batch, many templates), else :func:`analyse_audio` with ``analysis``.
    2. ``words(features)``: the caller's timed words attached (the worker's stored
       transcript), which the classic engine's mouth and the sync measure follow.
    3. The face track (``face``: the chosen person, else the best default speaker; cached),
       within ``limits``. ``require_usable`` refuses a template whose face is usable in too
       little of it (``faces.check_usable``: FaceError ``face_too_little``).
    """
    if features is None:
        features = analyse_audio(audio_path, cache_dir=cache_dir, options=analysis, on_step=on_step)
    if words is not None:
        features = words(features)
    track_options: dict[str, Any] = {"cache_dir": cache_dir, "face": face}
    if limits is not None:
        track_options["limits"] = limits
    track = faces.track(template_path, **track_options)
    if require_usable:
        faces.check_usable(track)
    on_step("face_track", present=int(track.present.sum()), frames=int(track.n_frames))
    return Prepared(
        audio_path=Path(audio_path),
        template_path=Path(template_path),
        features=features,
        track=track,
    )


def render(
    prepared: Prepared,
    engine: Engine,
    out_path: Path,
    *,
    frame_range: tuple[int, int] | None = None,
    overlay: FrameOverlay | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    on_step: StepReport = _quiet,
) -> RenderResult:
    """Render the whole video, or only the output frames ``frame_range=(start, stop)``
    (silent: one part of a long video, exactly the frames the whole would hold), into
    ``out_path``. ``overlay(index, frame)`` is drawn on each frame before its one encode
    (burned-in captions). Raises ``RenderCanceled`` once ``should_cancel()`` is True."""
    result = engine.render(
        template=prepared.template_path,
        track=prepared.track,
        audio=prepared.features,
        audio_path=prepared.audio_path,
        out_path=out_path,
        progress=progress,
        should_cancel=should_cancel,
        overlay=overlay,
        frame_range=frame_range,
    )
    if frame_range is None:
        on_step("rendered", frames=int(result.frames), seconds=round(float(result.seconds), 1))
    return result


def join(
    prepared: Prepared,
    parts: Sequence[Path],
    out_path: Path,
    *,
    engine: Engine,
    coverage: float,
    on_step: StepReport = _quiet,
) -> RenderResult:
    """Join rendered parts (in order) into ``out_path`` with the original sound muxed once
    over the whole (``rendering.media.join_segments``: their packets copied, re-encoded only
    when their parameter sets differ). ``coverage``: the parts' average."""
    samples, rate = read_audio_as_uploaded(prepared.audio_path)
    joined = join_segments(
        list(parts),
        out_path,
        fps=prepared.track.fps,
        audio=samples,
        audio_rate=rate,
        crf=getattr(engine, "crf", 18),
        preset=getattr(engine, "preset", "veryfast"),
    )
    on_step(
        "joined_reencoded" if joined.reencoded else "joined",
        parts=len(parts),
        frames=int(joined.frames),
    )
    return RenderResult(out_path, joined.frames, joined.duration, joined.seconds, float(coverage))


def measure(
    video: Path,
    prepared: Prepared,
    result: RenderResult,
    *,
    face: FaceHint | None = None,
    skip_rows: tuple[int, int] | None = None,
    max_seconds: float = QUALITY_SECONDS,
    on_step: StepReport = _quiet,
) -> dict[str, Any] | None:
    """The result's quality report (``rendering.quality.assess``, on ``face``: the person
    who speaks when the template shows several) as a dict, or None.

    ``skip_rows``: rows an overlay changed (the captions' band), which are not the engine's
    edit. A measurement that breaks never fails a video that rendered: it is logged, said
    as ``quality_not_measured``, and the video simply has no report.
    """
    try:
        report = quality.assess(
            video,
            prepared.features,
            template=prepared.template_path,
            track=prepared.track,
            coverage=float(result.coverage),
            face=face,
            max_seconds=max_seconds,
            skip_rows=skip_rows,
            frames_out=int(result.frames),
        ).to_dict()
    except Exception as exc:
        logger.warning("quality not measured: %s", video, exc_info=True)
        on_step("quality_not_measured", error=type(exc).__name__)
        return None
    sync = report.get("sync")
    reasons: Any = report.get("reasons") or []
    on_step(
        "quality",
        sync=sync if isinstance(sync, float) else None,
        coverage=report["coverage"],
        review=bool(report["review"]),
        reasons=[str(r) for r in reasons] if report["review"] else [],
    )
    return report
