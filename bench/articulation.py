"""Does the mouth say the words? The split-half protocol on real speakers (issue 23).

For every clip of ``../shared/realdata`` with its own sound (SOURCES.md; the held-out clips
are not in that folder): the first half's video is the template, the second half's sound
drives it, and the second half's video is what this very person's mouth did on those
words. On the truth and on each output, mediapipe finds the lips in every frame (no
smoothing) and we compare:

- ``open``: correlation of the inner-lip gap with the truth's, best of offsets -3..3 frames;
- ``width``: the same for the mouth's width (corner to corner);
- ``F1 shut``: frames with the lips shut (gap under a fifth of the way from the series' 5th
  to its 95th percentile, each series its own), F1 against the truth's.

Rows per clip: ``today`` (the engine with the loudness controls, rendered), ``model``
(the engine planning from rendering.articulation, rendered, the shipped model),
and curves that are not renders: ``loudness`` (the loudness controls themselves),
``phones`` (the textbook opening of the phones, no fitting), ``lopo`` (the model fitted
without this clip's person: leave one person out), ``adapted`` (lopo adapted on the
template half's own voice and mouth).

    .venv/bin/python bench/articulation.py [--fit] [--no-render] [--sheet docs/quality]

``--fit`` refits the shipped model on all clips (rendering/data/articulation.npz).
Work files (transcripts, landmarks, renders) are kept in var/articulation/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import ROOT, table, write_wav

from rendering.articulation import ArticulationModel
from rendering.words import Word

REALDATA = ROOT.parent.parent / "shared" / "realdata"
if not REALDATA.is_dir():
    REALDATA = Path("/work/shared/realdata")
WORK = ROOT / "var" / "articulation"
MAX_LAG = 3
SHUT_SHARE = 0.2

# Clips with their own sound; the person each shows (leave-one-person-out groups).
CLIPS = {
    "retalking_face_1.mp4": "rt1",
    "retalking_face_2.mp4": "rt2",
    "retalking_face_3.mp4": "aoc-b",  # the same speaker and speech as the SadTalker clip
    "retalking_face_5.mp4": "rt5",
    "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4": "aoc",
    "liveportrait_d11.mp4": "d11",
    "liveportrait_d12.mp4": "d12",
    "liveportrait_s13.mp4": "s13",
}
# Not speech (SOURCES.md: they barely open the mouth; Whisper hears "you" and nothing).
SILENT = ("liveportrait_s20.mp4", "liveportrait_s29.mp4")
PERSON = {"aoc-b": "aoc"}  # leave-one-person-out groups


@dataclass
class Clip:
    name: str
    person: str
    fps: float
    gaps: np.ndarray  # per frame of the whole clip (NaN without a face)
    widths: np.ndarray
    half: int  # first frame of the second half
    samples: np.ndarray  # 16 kHz mono
    words_all: list[Word] = field(default_factory=list)
    words_second: list[Word] = field(default_factory=list)
    language: str = "en"
    language_second: str = "en"


def mouth_series(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    from rendering import faces, mouths

    gaps = np.full(len(frames), np.nan)
    widths = np.full(len(frames), np.nan)
    for k, found in enumerate(faces.track_frames(frames)):
        if found is not None:
            gaps[k], widths[k], _ = mouths.describe(found[1])
    return gaps, widths


def _transcript(samples: np.ndarray, cache: Path, transcriber: object) -> tuple[str, list[Word]]:

    if cache.exists():
        data = json.loads(cache.read_text())
    else:
        t = transcriber.transcribe_samples(samples)  # type: ignore[attr-defined]
        data = {"language": t.language, "words": [w.__dict__ for w in t.words]}
        cache.write_text(json.dumps(data, ensure_ascii=False))
    words = [Word(w["text"], w["start"], w["end"], w["probability"]) for w in data["words"]]
    return str(data["language"]), words


def load_clip(name: str, transcriber: object) -> Clip:
    from rendering import media

    src = REALDATA / name
    stem = WORK / Path(name).stem
    stem.mkdir(parents=True, exist_ok=True)
    info = media.probe_video(src)
    assert info.video is not None
    fps = media.default_fps(info.video.fps)
    series = stem / "truth.npz"
    if series.exists():
        with np.load(series) as npz:
            gaps, widths = npz["gaps"], npz["widths"]
    else:
        frames, _ = media.read_frames(src, fps=fps)
        gaps, widths = mouth_series(frames)
        np.savez(series, gaps=gaps, widths=widths)
    samples = media.read_audio(src, sample_rate=16000)
    half = len(gaps) // 2
    second = samples[round(half / fps * 16000) :]
    lang_all, words_all = _transcript(samples, stem / "words-all.json", transcriber)
    lang_2, words_2 = _transcript(second, stem / "words-second.json", transcriber)
    return Clip(
        name, CLIPS[name], fps, gaps, widths, half, samples, words_all, words_2, lang_all, lang_2
    )


# --- measures -----------------------------------------------------------------------------------


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    d = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / d if d > 0 else 0.0


def best_corr(out: np.ndarray, truth: np.ndarray, max_lag: int = MAX_LAG) -> tuple[float, int]:
    n = min(len(out), len(truth))
    out, truth = np.asarray(out[:n], float), np.asarray(truth[:n], float)
    best, lag_at = -2.0, 0
    for lag in range(-max_lag, max_lag + 1):
        lo, hi = max(0, lag), min(n, n + lag)
        c = _pearson(out[lo:hi], truth[lo - lag : hi - lag])
        if np.isfinite(c) and c > best:
            best, lag_at = c, lag
    return best, lag_at


def shut(gaps: np.ndarray) -> np.ndarray:
    g = np.asarray(gaps, float)
    lo, hi = np.nanpercentile(g, 5), np.nanpercentile(g, 95)
    return np.asarray(g < lo + SHUT_SHARE * (hi - lo))


def f1(out: np.ndarray, truth: np.ndarray, lag: int = 0) -> float:
    n = min(len(out), len(truth))
    a, b = shut(out[:n]), shut(truth[:n])
    lo, hi = max(0, lag), min(n, n + lag)
    a, b = a[lo:hi], b[lo - lag : hi - lag]
    tp = float(np.sum(a & b))
    p, r = tp / max(a.sum(), 1), tp / max(b.sum(), 1)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def scores(out_gaps: np.ndarray, out_widths: np.ndarray | None, truth: Clip) -> dict[str, float]:
    tg, tw = truth.gaps[truth.half :], truth.widths[truth.half :]
    c, lag = best_corr(out_gaps, tg)
    w = best_corr(out_widths, tw)[0] if out_widths is not None else float("nan")
    return {"open": c, "lag": lag, "width": w, "f1": f1(out_gaps, tg, lag)}


# --- curves ---------------------------------------------------------------------------------------


def features_of(samples: np.ndarray, words: list[Word]) -> object:
    from rendering.audio import analyse_samples

    features = analyse_samples(samples)
    features.words = list(words)
    return features


def examples(clip: Clip, part: str = "all") -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(channels, opening, width) per hop for the whole clip or its first half."""
    from rendering import articulation as art

    if part == "all":
        samples, words, gaps, widths = clip.samples, clip.words_all, clip.gaps, clip.widths
    else:  # the template half: its own words are those of the whole clip before the cut
        cut = clip.half / clip.fps
        samples = clip.samples[: round(cut * 16000)]
        words = [w for w in clip.words_all if w.end <= cut + 0.05]
        gaps, widths = clip.gaps[: clip.half], clip.widths[: clip.half]
    feats = features_of(samples, words)
    ch = art.channels(feats, language=clip.language)  # type: ignore[arg-type]
    if ch is None:
        return None
    opening, width = art.mouth_targets(gaps, widths)
    n = ch.shape[0]
    return ch, art.frames_to_hops(opening, clip.fps, n), art.frames_to_hops(width, clip.fps, n)


def driving(clip: Clip) -> object:
    second = clip.samples[round(clip.half / clip.fps * 16000) :]
    f = features_of(second, clip.words_second)
    return f


def curve_rows(clips: list[Clip], shipped: object) -> dict[str, dict[str, dict[str, float]]]:
    from rendering import articulation as art

    every = {c.name: e for c in clips if (e := examples(c)) is not None}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    timing = []
    for clip in clips:
        n_out = len(clip.gaps) - clip.half
        feats = driving(clip)
        loud = feats.mouth_controls(clip.fps, n_out)  # type: ignore[attr-defined]
        ch = art.channels(feats, language=clip.language_second)  # type: ignore[arg-type]
        r: dict[str, dict[str, float]] = {"loudness": scores(loud.openness, loud.width, clip)}
        if ch is not None:
            phones = art._per_frame(ch[:, 0] * (1 - ch[:, 3]), clip.fps, n_out, 0.0)
            r["phones"] = scores(phones, None, clip)
            others = [every[c.name] for c in clips if _who(c) != _who(clip) and c.name in every]
            lopo = art.fit(others, info="lopo")
            started = time.perf_counter()
            shapes = art.mouth_shapes(feats, clip.fps, n_out, model=lopo)  # type: ignore[arg-type]
            timing.append((time.perf_counter() - started, len(feats.energy) * art.HOP))  # type: ignore[attr-defined]
            assert shapes is not None
            r["lopo"] = scores(shapes.openness, _rel_width(shapes), clip)
            own = examples(clip, "first")
            if own is not None:
                adapted = art.fit([own], ridge=art.ADAPT_RIDGE, prior=lopo)
                shapes = art.mouth_shapes(feats, clip.fps, n_out, model=adapted)  # type: ignore[arg-type]
                assert shapes is not None
                r["adapted"] = scores(shapes.openness, _rel_width(shapes), clip)
            if shipped is not None:
                shapes = art.mouth_shapes(feats, clip.fps, n_out, model=shipped)  # type: ignore[arg-type]
                assert shapes is not None
                r["in-sample"] = scores(shapes.openness, _rel_width(shapes), clip)
        rows[clip.name] = r
    if timing:
        spent = sum(t for t, _ in timing)
        audio = sum(a for _, a in timing)
        print(f"model time: {spent / audio:.4f} s per second of audio ({audio:.1f} s of audio)")
    return rows


def own_clip_sync(clips: list[Clip]) -> None:
    """Would the product's sync measure (rendering.quality: the lips against the model's
    expected opening, offsets -6..6) flag a real speaker on their own clip? The model is
    fitted without that person (leave one out), so this is what a stranger would get."""
    from rendering import articulation as art
    from rendering import quality

    every = {c.name: e for c in clips if (e := examples(c)) is not None}
    rows = []
    for clip in clips:
        feats = features_of(clip.samples, clip.words_all)
        others = [every[c.name] for c in clips if _who(c) != _who(clip) and c.name in every]
        lopo = art.fit(others)
        n = len(clip.gaps)
        shapes = art.mouth_shapes(feats, clip.fps, n, model=lopo)  # type: ignore[arg-type]
        gaps = np.asarray(clip.gaps, float)
        known = np.flatnonzero(np.isfinite(gaps))
        gaps = np.interp(np.arange(n), known, gaps[known])
        if shapes is None:
            rows.append([clip.person, "no words", "", ""])
            continue
        corrs = quality.offset_correlations(gaps, shapes.openness.astype(float), 6)
        peak = int(np.argmax(corrs))
        confidence = float(corrs[peak] - np.median(corrs))
        reasons = quality.sync_reasons(float(corrs[6]), peak - 6, confidence, "sounds")
        rows.append(
            [
                clip.person,
                f"{corrs[6]:+.2f}",
                str(peak - 6),
                f"{confidence:.2f}",
                ", ".join(reasons) or "passes",
            ]
        )
    print("a real speaker's own clip against the sync measure (lopo model)")
    print(table(["clip", "sync", "best offset", "confidence", "review?"], rows))


def _who(clip: Clip) -> str:
    return PERSON.get(clip.person, clip.person)


def _rel_width(shapes: object) -> np.ndarray:
    # What the engine will draw: width and rounding combined into one half-width change.
    return np.asarray(0.16 * (shapes.width - 0.5) - 0.20 * shapes.rounding)  # type: ignore[attr-defined]


# --- renders ----------------------------------------------------------------------------------------


def render_rows(
    clips: list[Clip],
    variants: dict[str, dict[str, object]],
    lopo: dict[str, ArticulationModel] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    from rendering import faces, media
    from rendering.engines.classic import ClassicEngine
    from rendering.errors import FaceError

    rows: dict[str, dict[str, dict[str, float]]] = {}
    for clip in clips:
        stem = WORK / Path(clip.name).stem
        template = stem / "template.mp4"
        if not template.exists():
            frames, _ = media.read_frames(REALDATA / clip.name, fps=clip.fps)
            h, w = frames[0].shape[:2]
            with media.VideoWriter(
                template, width=w - w % 2, height=h - h % 2, fps=clip.fps, crf=14
            ) as out:
                for frame in frames[: clip.half]:
                    out.write(np.ascontiguousarray(frame[: h - h % 2, : w - w % 2]))
        audio_path = stem / "driving.wav"
        second = clip.samples[round(clip.half / clip.fps * 16000) :]
        write_wav(audio_path, second)
        track = faces.track(template, cache_dir=WORK / "cache", fps=clip.fps)
        feats = driving(clip)
        rows[clip.name] = {}
        for label, options in variants.items():
            out_path = stem / f"out-{label}.mp4"
            if label == "lopo":  # the model fitted without this person
                options = {"articulation_model": (lopo or {})[clip.name]}
            engine = ClassicEngine(cache_dir=WORK / "cache", **options)  # type: ignore[arg-type]
            try:
                engine.render(
                    template=template,
                    track=track,
                    audio=feats,  # type: ignore[arg-type]
                    audio_path=audio_path,
                    out_path=out_path,
                )
            except FaceError as exc:  # the first half's face is not usable: no render
                print(clip.name, label, "not rendered:", exc.detail, flush=True)
                continue
            frames, _ = media.read_frames(out_path, fps=clip.fps)
            gaps, widths = mouth_series(frames)
            np.savez(stem / f"out-{label}.npz", gaps=gaps, widths=widths)
            rows[clip.name][label] = scores(gaps, widths, clip)
            print(clip.name, label, rows[clip.name][label], flush=True)
    return rows


def _mouth_tile(frame: np.ndarray, size: int = 160) -> np.ndarray:
    import cv2

    from rendering import faces

    landmarks = faces.detect_landmarks(frame)
    if landmarks is None:
        return np.zeros((round(size * 0.7), size, 3), np.uint8)
    centre = faces.mouth_centre(landmarks)
    half = 0.5 * faces.face_frame(landmarks).scale
    x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - 0.7 * half, 0))
    x1 = int(min(centre[0] + half, frame.shape[1]))
    y1 = int(min(centre[1] + 0.7 * half, frame.shape[0]))
    tile = frame[y0:y1, x0:x1]
    return np.asarray(cv2.resize(tile, (size, round(size * 0.7))))


def contact_sheet(clip: Clip, out_dir: Path, instants: int = 8) -> Path | None:
    """Rows: instants of the second half (the truth's widest, shut and in-between moments,
    in time order); columns: the real speaker (truth), today's engine, the model's."""
    import cv2

    from rendering import media

    stem = WORK / Path(clip.name).stem
    outputs = {k: stem / f"out-{k}.mp4" for k in ("today", "lopo")}
    if not all(p.exists() for p in outputs.values()):
        return None
    truth_frames, _ = media.read_frames(REALDATA / clip.name, fps=clip.fps)
    truth_frames = truth_frames[clip.half :]
    decoded = {k: media.read_frames(p, fps=clip.fps)[0] for k, p in outputs.items()}
    n = min(len(truth_frames), *(len(f) for f in decoded.values()))
    gaps = np.nan_to_num(clip.gaps[clip.half : clip.half + n], nan=0.0)
    order = np.argsort(gaps)
    picks = sorted(
        set(order[:: max(1, n // instants)][:instants].tolist()) | {int(order[-1]), int(order[0])}
    )[:instants]
    rows = []
    for k in picks:
        tiles = [_mouth_tile(truth_frames[k])] + [_mouth_tile(decoded[v][k]) for v in outputs]
        row = np.ascontiguousarray(np.concatenate(tiles, axis=1)[:, :, ::-1])  # RGB to BGR
        cv2.putText(
            row, f"{k / clip.fps:.2f}s", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1
        )
        rows.append(row)
    header = np.zeros((22, rows[0].shape[1], 3), np.uint8)
    for j, label in enumerate(("real speaker", "today", "new (lopo)")):
        cv2.putText(
            header, label, (6 + j * 160, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"articulation_{clip.person}.png"
    cv2.imwrite(str(path), np.concatenate([header, *rows], axis=0))
    return path


def summary(rows: dict[str, dict[str, dict[str, float]]]) -> None:
    labels: list[str] = []
    for r in rows.values():
        labels += [k for k in r if k not in labels]
    out = []
    for name, r in rows.items():
        out.append(
            [CLIPS[name]]
            + [
                f"{r[k]['open']:+.2f} / {r[k]['width']:+.2f} / {r[k]['f1']:.2f}" if k in r else "-"
                for k in labels
            ]
        )
    med = ["median"]
    for k in labels:
        vals = [r[k] for r in rows.values() if k in r]
        med.append(
            f"{statistics.median(v['open'] for v in vals):+.2f} / "
            f"{statistics.median(v['width'] for v in vals if np.isfinite(v['width'])) if any(np.isfinite(v['width']) for v in vals) else float('nan'):+.2f} / "
            f"{statistics.median(v['f1'] for v in vals):.2f}"
        )
    out.append(med)
    print("open corr / width corr / F1 shut")
    print(table(["clip", *labels], out))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--no-render", action="store_true")
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--sheet", type=Path, help="write contact sheets of the renders here")
    args = parser.parse_args()
    from rendering import articulation as art
    from rendering.transcription import DEFAULT_MODEL_DIR, Transcriber

    WORK.mkdir(parents=True, exist_ok=True)
    transcriber = Transcriber(DEFAULT_MODEL_DIR)
    names = [n for n in CLIPS if not args.only or CLIPS[n] in args.only]
    clips = [load_clip(n, transcriber) for n in names]
    for c in clips:
        print(c.person, c.language, " ".join(w.text for w in c.words_all)[:100])
    if args.fit:
        model = art.fit(
            [e for c in clips if (e := examples(c)) is not None],
            info="fitted on "
            + ", ".join(f"{c.person}" for c in clips)
            + " (bench/articulation.py)",
        )
        model.save(art.DEFAULT_MODEL)
        print("saved", art.DEFAULT_MODEL)
    shipped = art.load_model()
    rows = curve_rows(clips, shipped)
    summary(rows)
    own_clip_sync(clips)
    if not args.no_render:
        every = {c.name: e for c in clips if (e := examples(c)) is not None}
        lopo = {
            c.name: art.fit(
                [every[o.name] for o in clips if _who(o) != _who(c) and o.name in every]
            )
            for c in clips
        }
        rendered = render_rows(
            clips, {"today": {"articulation": False}, "model": {}, "lopo": {}}, lopo
        )
        summary(rendered)
    if args.sheet:
        for clip in clips:
            made = contact_sheet(clip, args.sheet)
            if made:
                print("sheet", made)
    return 0


if __name__ == "__main__":
    sys.exit(main())
