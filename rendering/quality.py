"""How well a rendered video's mouth follows its audio, measured on the decoded output.

In the spirit of SyncNet's LSE-C / LSE-D: the mouth opening (inner-lip gap over eye
distance, from face-mesh landmarks found on the OUTPUT frames) is correlated, at offsets
of -N..N frames, with what a real speaker's mouth would do on this audio
(:func:`expected_opening`): the opening ``rendering.articulation`` predicts from the
transcript's sounds and their timings (a model fitted on real speakers), or, when the
audio has no timed words or no model is there, the audio's energy envelope. The energy
alone rewards the wrong thing (a mouth opening with the volume; real speakers correlate
~0.1 with it), so it is only the fallback; the report says which one was used (``basis``).

- ``corr_at_0``: Pearson correlation with no offset (high when in sync);
- ``best_offset``: the offset in frames with the highest correlation; positive means the
  mouth moves after the sound (video late);
- ``confidence``: peak minus median correlation over the offsets, like LSE-C: a sharp peak
  means the mouth really follows this audio rather than merely moving;
- ``psnr_outside``: with ``template`` given, PSNR (dB) of the output against the template
  frame it was made from (ping-pong aligned), outside the lower-face region only: how
  untouched the rest of the picture is (the codec's own loss included).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rendering import articulation, faces, media
from rendering.audio import analyse
from rendering.engines.base import CHIN_MARGIN, ping_pong_index

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures


@dataclass(frozen=True)
class SyncReport:
    corr_at_0: float
    best_offset: int
    confidence: float
    psnr_outside: float | None
    frames: int = 0
    correlations: tuple[float, ...] = ()  # by offset, -max_offset..max_offset
    basis: str = "loudness"  # what the mouth was compared with (expected_opening)


def lip_gap_series(frames: list[np.ndarray], *, face: faces.FaceHint | None = None) -> np.ndarray:
    """Mouth opening per frame (eye-distance units); frames without a face are filled in.

    ``face``: which face to follow when the video shows several (the one that was edited)."""
    return _gaps(faces.track_frames(frames, hint=face))


def _gaps(found: Iterable[tuple[np.ndarray, np.ndarray] | None]) -> np.ndarray:
    gaps = np.array([np.nan if f is None else faces.lip_gap(f[1]) for f in found], dtype=np.float64)
    known = np.flatnonzero(~np.isnan(gaps))
    if len(known) == 0:
        return np.zeros(len(gaps))
    return np.asarray(np.interp(np.arange(len(gaps)), known, gaps[known]))


def energy_envelope(features: AudioFeatures, fps: float, n_frames: int) -> np.ndarray:
    """The audio's energy (per 10 ms in ``features``) averaged over each video frame."""
    energy = np.asarray(features.energy, dtype=np.float64)
    hop = 0.01
    edges = np.round(np.arange(n_frames + 1) / fps / hop).astype(int)
    edges = np.clip(edges, 0, len(energy))
    sums = np.concatenate([[0.0], np.cumsum(energy)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    return np.asarray((sums[edges[1:]] - sums[edges[:-1]]) / counts)


def expected_opening(features: AudioFeatures, fps: float, n_frames: int) -> tuple[np.ndarray, str]:
    """What the mouth should do per video frame, and on what basis: ``"sounds"`` (the
    articulation model on the transcript's phones) or ``"loudness"`` (energy envelope)."""
    shapes = articulation.mouth_shapes(features, fps, n_frames)
    if shapes is not None and float(np.std(shapes.openness)) > 1e-3:
        return np.asarray(shapes.openness, dtype=np.float64), "sounds"
    return energy_envelope(features, fps, n_frames), "loudness"


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denom if denom > 0 else 0.0


def offset_correlations(gaps: np.ndarray, envelope: np.ndarray, max_offset: int) -> np.ndarray:
    """Pearson correlation of gaps[t] with envelope[t - k] for k = -max_offset..max_offset."""
    n = min(len(gaps), len(envelope))
    out = np.zeros(2 * max_offset + 1)
    for j, k in enumerate(range(-max_offset, max_offset + 1)):
        lo, hi = max(0, k), min(n, n + k)
        out[j] = _pearson(gaps[lo:hi], envelope[lo - k : hi - k])
    return out


def measure_sync(
    video: Path,
    audio: Path | AudioFeatures,
    *,
    template: Path | None = None,
    max_offset_frames: int = 15,
    cache_dir: Path | None = None,
) -> SyncReport:
    """Score a rendered video against its driving audio (see the module docstring).

    1. Decode the output and find the lips in every frame; the gap is the mouth signal.
    2. Analyse the audio (or take its features) and average its energy per video frame.
    3. Correlate the two at every offset; report the offset-0 value, the best offset and
       the peak's height above the median.
    4. With a template: compare each output frame to its ping-pong template frame outside
       the lower-face polygon the engine may repaint.
    """
    video = Path(video)
    info = media.probe_video(video)
    assert info.video is not None
    frames, fps = media.read_frames(video)
    features = analyse(Path(audio), cache_dir=cache_dir) if isinstance(audio, Path) else audio
    gaps = lip_gap_series(frames)
    envelope, basis = expected_opening(features, fps, len(frames))
    corrs = offset_correlations(gaps, envelope, max_offset_frames)
    peak = int(np.argmax(corrs))
    psnr = None
    if template is not None:
        psnr = psnr_outside_lower_face(frames, Path(template), fps, cache_dir=cache_dir)
    return SyncReport(
        corr_at_0=float(corrs[max_offset_frames]),
        best_offset=peak - max_offset_frames,
        confidence=float(corrs[peak] - np.median(corrs)),
        psnr_outside=psnr,
        frames=len(frames),
        correlations=tuple(float(c) for c in corrs),
        basis=basis,
    )


def psnr_outside_lower_face(
    frames: list[np.ndarray], template: Path, fps: float, *, cache_dir: Path | None = None
) -> float:
    """PSNR (dB) between output frames and their template frames, outside the repaint area."""
    track = faces.track(template, cache_dir=cache_dir, fps=fps)
    source = list(media.iter_frames(template, fps=fps))
    n_template = len(source)
    loops = len(frames) > n_template
    squared = 0.0
    count = 0
    for j, out in enumerate(frames):
        i = ping_pong_index(j, n_template) if loops else min(j, n_template - 1)
        ref = source[i]
        if ref.shape != out.shape:
            out = out[: ref.shape[0], : ref.shape[1]]
        keep = np.ones(ref.shape[:2], dtype=bool)
        polygon = track.lower_face_polygon(min(i, track.n_frames - 1), chin_margin=CHIN_MARGIN)
        if polygon is not None:
            mask = np.zeros(ref.shape[:2], dtype=np.uint8)
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1,))
            # Dilate a little: the polygon is rasterised slightly differently here.
            keep = cv2.dilate(mask, np.ones((5, 5), np.uint8)) == 0
        diff = out[keep].astype(np.float64) - ref[keep].astype(np.float64)
        squared += float(np.sum(diff * diff))
        count += diff.size
    if count == 0 or squared == 0.0:
        return float("inf")
    return 10.0 * math.log10(255.0**2 / (squared / count))


# --- the per-result report the worker stores -----------------------------------------------
# Below these offset-0 correlations the mouth does not visibly follow the words. Against
# the sounds the bar is what real speakers pass on their own clips (bench/articulation.py:
# REAL_SYNC), against the loudness what the loudness-driven engine always reached.
REVIEW_SYNC = 0.5
REVIEW_SYNC_SOUNDS = -0.05  # "moves against the words": real speakers' own clips reach -0.02
REVIEW_STILL = 0.01  # eye distances: a lip gap varying less than this is a still mouth
REVIEW_OFFSET = 2  # frames: a peak further off than this is a visible lag
REVIEW_OFFSET_SOUNDS = 3  # word timings are coarser than the energy's: one frame more
REVIEW_CONFIDENCE_SOUNDS = 0.2  # a lag found on a flat correlation curve means nothing
REVIEW_PSNR = 30.0  # dB outside the lower face: less means something outside it changed
# Share of the output left unedited for one cause (no face, too small, turned away, mesh
# unsure) from which a person should look: 10 % of a 22 s video is over 2 s of a still mouth.
REVIEW_UNEDITED = 0.1


def sync_reasons(sync: float, offset: int, confidence: float, basis: str) -> list[str]:
    """The sync review codes for a measured correlation at offset 0, its best offset and
    the peak's height. Against the sounds a real speaker's own clip passes (bench/
    articulation.py checks every real clip): the bar is "not against the words" rather
    than the loudness's 0.5, and a lag counts only where the peak is clear."""
    reasons = []
    if basis == "sounds":
        if sync < REVIEW_SYNC_SOUNDS:
            reasons.append("sync_low")
        if abs(offset) > REVIEW_OFFSET_SOUNDS and confidence >= REVIEW_CONFIDENCE_SOUNDS:
            reasons.append("sync_offset")
        return reasons
    if sync < REVIEW_SYNC:
        reasons.append("sync_low")
    if abs(offset) > REVIEW_OFFSET:
        reasons.append("sync_offset")
    return reasons


@dataclass(frozen=True)
class QualityReport:
    """What the worker measured on one finished result, and whether a person should look.

    ``reasons`` are codes (the web layer words them): ``sync_low``, ``sync_offset``,
    ``unedited_absent``, ``unedited_small``, ``unedited_turned``, ``unedited_unsteady``
    (why part of the video kept its own mouth, from the face track: ``unedited`` holds the
    share of frames and the time ranges of each), ``changed_outside``. Reports stored before
    that may say ``coverage_low``. ``sync`` is None when the audio is too even (music,
    silence) for the measure to mean anything.
    """

    sync: float | None
    best_offset: int | None
    confidence: float | None
    psnr_outside: float | None
    coverage: float
    frames_measured: int
    reasons: tuple[str, ...]
    unedited: tuple[faces.Unusable, ...] = ()
    basis: str = "loudness"  # "sounds": against the articulation model (expected_opening)

    @property
    def review(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, object]:
        def rounded(value: float | None, digits: int) -> float | None:
            if value is None or not math.isfinite(value):
                return None
            return round(value, digits)

        return {
            "sync": rounded(self.sync, 3),
            "best_offset": self.best_offset,
            "confidence": rounded(self.confidence, 3),
            "psnr_outside": rounded(self.psnr_outside, 1),
            "coverage": round(self.coverage, 3),
            "frames_measured": self.frames_measured,
            "review": self.review,
            "reasons": list(self.reasons),
            "basis": self.basis,
            "unedited": [
                {
                    "cause": part.cause,
                    "share": round(part.share, 3),
                    "ranges": [list(r) for r in part.ranges],
                }
                for part in self.unedited
            ],
        }


def assess(
    video: Path,
    features: AudioFeatures,
    *,
    template: Path,
    track: faces.FaceTrack,
    coverage: float,
    max_seconds: float = 20.0,
    max_offset_frames: int = 6,
    psnr_every: int = 5,
    face: faces.FaceHint | None = None,
    skip_rows: tuple[int, int] | None = None,
    frames_out: int | None = None,
) -> QualityReport:
    """Measure a finished result cheaply enough to run after every render.

    1. Decode at most ``max_seconds`` of the output (a long video's first part tells as
       much as the whole, at a bounded cost) and find the lips in every frame.
    2. Correlate the lip gap with the expected opening (the sounds' through the
       articulation model, else the energy) at small offsets.
    3. Every ``psnr_every``-th frame, compare the output with its template frame outside
       the lower face (the template is read alongside, so memory stays flat).
    4. Flag what a person should look at.

    ``face``: the face that was edited when the video shows several (as given to ``track``).
    ``skip_rows=(y0, y1)``: rows drawn on after the engine (burned-in captions), left out of
    the comparison outside the face. ``frames_out``: the output's frame count (by default the
    template's), for the time ranges of frames left unedited.
    """
    fps = track.fps
    limit = max(1, int(max_seconds * fps))
    out_frames = itertools.islice(media.iter_frames(Path(video), fps=fps), limit)
    source = media.iter_frames(Path(template), fps=fps)
    n_template = max(track.n_frames, 1)
    squared, count = 0.0, 0
    template_frame: np.ndarray | None = None
    shown = -1

    def measured_frames() -> Iterator[np.ndarray]:
        """The output's frames, streamed to the face mesh; PSNR accumulated on the way."""
        nonlocal squared, count, template_frame, shown
        for j, frame in enumerate(out_frames):
            # While the output plays the template forward, template frame j is frame j.
            i = ping_pong_index(j, n_template) if j >= n_template else j
            if i == shown + 1:
                template_frame = next(source, template_frame)
                shown = i
            if j % psnr_every == 0 and template_frame is not None and i == shown:
                ref = template_frame
                out = frame[: ref.shape[0], : ref.shape[1]]
                keep = np.ones(ref.shape[:2], dtype=bool)
                polygon = track.lower_face_polygon(
                    min(i, track.n_frames - 1), chin_margin=CHIN_MARGIN
                )
                if polygon is not None:
                    mask = np.zeros(ref.shape[:2], dtype=np.uint8)
                    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1,))
                    keep = cv2.dilate(mask, np.ones((5, 5), np.uint8)) == 0
                if skip_rows is not None:
                    keep[skip_rows[0] : skip_rows[1]] = False
                diff = out[keep].astype(np.float64) - ref[keep].astype(np.float64)
                squared += float(np.sum(diff * diff))
                count += diff.size
            yield frame

    # Frames flow through one at a time: memory stays flat whatever the resolution.
    gaps = list(_gaps(faces.track_frames(measured_frames(), hint=face)))
    close = getattr(source, "close", None)
    if close is not None:
        close()
    n = len(gaps)
    envelope, basis = expected_opening(features, fps, n)
    sync = offset = confidence = None
    if n >= 3 * fps and float(np.std(envelope)) > 1e-3 * (float(np.mean(envelope)) + 1e-9):
        corrs = offset_correlations(np.asarray(gaps), envelope, max_offset_frames)
        peak = int(np.argmax(corrs))
        sync = float(corrs[max_offset_frames])
        offset = peak - max_offset_frames
        confidence = float(corrs[peak] - np.median(corrs))
    psnr = None
    if count:
        psnr = float("inf") if squared == 0 else 10 * math.log10(255.0**2 / (squared / count))
    reasons = [] if sync is None else sync_reasons(sync, offset or 0, confidence or 0.0, basis)
    if sync is not None and "sync_low" not in reasons and float(np.std(gaps)) < REVIEW_STILL:
        reasons.append("sync_low")  # speech, and a mouth that does not move with it
    # Why frames kept their own mouth, from the track itself, over the output's frames.
    n_out = frames_out if frames_out else track.n_frames
    played = [ping_pong_index(j, n_template) if j >= n_template else j for j in range(n_out)]
    unedited = tuple(faces.unusable_spans(track, np.asarray(played, dtype=np.intp)))
    flagged = [part for part in unedited if part.share >= REVIEW_UNEDITED]
    if not flagged and sum(part.share for part in unedited) >= 2 * REVIEW_UNEDITED:
        flagged = [max(unedited, key=lambda part: part.share)]  # many small causes add up
    reasons.extend(f"unedited_{part.cause}" for part in flagged)
    if psnr is not None and psnr < REVIEW_PSNR:
        reasons.append("changed_outside")
    return QualityReport(
        sync=sync,
        best_offset=offset,
        confidence=confidence,
        psnr_outside=psnr,
        coverage=coverage,
        frames_measured=n,
        reasons=tuple(reasons),
        unedited=unedited,
        basis=basis,
    )
