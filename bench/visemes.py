"""Mouth shapes from the words (rendering.visemes): on against off, in one run.

Speech with known words: espeak-ng speaks each word alone and the words are joined with
known gaps (tests/support/speech.py), in English and Mandarin. Whisper base hears them (the
product's transcript, forced ``zh`` for Mandarin); the classic engine renders every
template twice from the same analysis, with word shapes off and on. On the decoded outputs
(mediapipe on every frame, no smoothing):

- sync: corr@0 of the lip gap with the audio energy, best offset, confidence (as
  ``rendering.quality.measure_sync``);
- closure: share of words with a bilabial inside them (mommy, 面包) whose lips shut for at
  least two frames (80 ms) in the word's middle 70 %, and the mean number of shut frames
  (see :func:`scores`); the same for words with none (hello, 大家): a closure there is false
  (the energy alone already dips between syllables);
- width contrast: mouth half-width (eye distances x 100) in the middle of i/e words minus
  in the middle of o/u words: a bigger difference means a visible spread against a pout.

Templates: the fixture face (what the blend was tuned on), Grace Hopper and the astronaut
(bench/faces.py: not tuned on). ``--sheet DIR`` writes contact sheets of the untuned faces
(off against on at closures, rounded and wide vowels) to look at.

    .venv/bin/python bench/visemes.py [--sheet var/visemes] [--only en|zh]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from _common import FACE, table

CLOSED_SHARE = 0.2  # of the way from the shut level to the word's widest: reads as shut

SETS = {
    "en": {
        "voice": "en-us",
        "bilabial": ["mommy", "happy", "hobby", "summer", "apple", "robot", "hammer", "number"],
        "plain": ["hello", "sister", "candy", "little", "garden", "kitchen"],
        "rounded": ["who", "shoe", "two", "goose", "soon"],
        "wide": ["see", "tea", "key", "cheese", "knee"],
    },
    "zh": {
        # espeak-ng's cmn voice here spells characters it has no dictionary for; its pinyin
        # voice says the same syllables properly (Whisper then hears characters again).
        "voice": "cmn-latn-pinyin",
        "bilabial": ["妈妈", "爸爸", "面包", "大门", "我们", "他们", "一般", "地板"],
        "plain": ["大家", "知道", "开始", "喜欢", "电脑", "老师"],
        "rounded": ["五", "路", "书", "读书", "哭"],
        "wide": ["一", "西", "七", "鸡", "你"],
    },
}


@dataclass
class Speech:
    language: str
    path: Path
    words: list[str]
    kinds: list[str]
    starts: list[float]
    ends: list[float]


def make_speech(language: str, out: Path) -> Speech:
    from tests.support.speech import words_with_gaps, write_wav

    spec = SETS[language]
    order: list[tuple[str, str]] = []
    lists = {k: list(spec[k]) for k in ("bilabial", "plain", "rounded", "wide")}
    while any(lists.values()):  # interleave the kinds, so none sits at one end only
        for kind, items in lists.items():
            if items:
                order.append((items.pop(0), kind))
    words = [w for w, _ in order]
    spoken = words
    if language == "zh":
        from pypinyin import Style, lazy_pinyin

        spoken = [" ".join(lazy_pinyin(w, style=Style.TONE3)) for w in words]
    samples, starts, ends = words_with_gaps(spoken, voice=str(spec["voice"]), gaps=0.3)
    path = write_wav(out / f"speech-{language}.wav", samples)
    return Speech(language, path, words, [k for _, k in order], starts, ends)


def mouth_series(video: Path) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], float]:
    """Per output frame: lip gap and mouth half-width (eye distances, NaN without a face)."""
    from rendering import faces, media, mouths

    frames, fps = media.read_frames(video)
    gaps = np.full(len(frames), np.nan)
    widths = np.full(len(frames), np.nan)
    for k, found in enumerate(faces.track_frames(frames)):
        if found is not None:
            gaps[k], widths[k], _ = mouths.describe(found[1])
    return gaps, widths, frames, fps


def word_frames(start: float, end: float, fps: float, share: float) -> slice:
    middle, half = (start + end) / 2, (end - start) * share / 2
    lo = int(np.floor((middle - half) * fps))
    return slice(lo, max(lo + 1, int(np.ceil((middle + half) * fps))))


def scores(speech: Speech, gaps: np.ndarray, widths: np.ndarray, fps: float) -> dict[str, float]:
    """Closures and widths against the known words (see the module docstring).

    The closed level is this face's own: the median gap in the silences between words
    (mediapipe reads shut lips as ~0.07 eye distances on some faces, 0.02 on others). A
    frame inside a word is shut when its gap is within 20 % of the way from that level to
    the word's widest; a word shows a closure with at least two shut frames (80 ms).
    """
    silent = np.ones(len(gaps), dtype=bool)
    for start, end in zip(speech.starts, speech.ends, strict=True):
        silent[max(0, int(start * fps) - 2) : int(np.ceil(end * fps)) + 2] = False
    rest = float(np.nanmedian(gaps[silent]))
    shut: dict[str, list[int]] = {"bilabial": [], "plain": []}
    width: dict[str, list[float]] = {"rounded": [], "wide": []}
    for kind, start, end in zip(speech.kinds, speech.starts, speech.ends, strict=True):
        if kind in shut:
            peak = float(np.nanmax(gaps[word_frames(start, end, fps, 1.0)]))
            inside = (gaps[word_frames(start, end, fps, 0.7)] - rest) / max(peak - rest, 1e-6)
            shut[kind].append(int(np.sum(inside < CLOSED_SHARE)))
        else:
            width[kind].append(float(np.nanmean(widths[word_frames(start, end, fps, 0.5)])))
    return {
        "shut_bilabial": float(np.mean([n >= 2 for n in shut["bilabial"]])),
        "shut_plain": float(np.mean([n >= 2 for n in shut["plain"]])),
        "frames_bilabial": float(np.mean(shut["bilabial"])),
        "frames_plain": float(np.mean(shut["plain"])),
        "width_contrast": 100
        * (statistics.mean(width["wide"]) - statistics.mean(width["rounded"])),
    }


def sync(gaps: np.ndarray, features: object, fps: float) -> tuple[float, int, float]:
    from rendering import quality

    known = np.flatnonzero(~np.isnan(gaps))
    filled = np.interp(np.arange(len(gaps)), known, gaps[known])
    envelope = quality.energy_envelope(features, fps, len(gaps))  # type: ignore[arg-type]
    corrs = quality.offset_correlations(filled, envelope, 15)
    peak = int(np.argmax(corrs))
    return float(corrs[15]), peak - 15, float(corrs[peak] - np.median(corrs))


def templates(out: Path) -> dict[str, Path]:
    from faces import ASTRONAUT_FACE, HOPPER_FACE, astronaut, encode, framed, hopper

    g, a = hopper(), astronaut()
    return {
        "fixture (tuned)": FACE,
        "hopper": encode(
            out / "hopper.mp4", lambda i: framed(g, HOPPER_FACE, i / 25, (512, 512), face_share=0.8), 150
        ),
        "astronaut": encode(
            out / "astronaut.mp4", lambda i: framed(a, ASTRONAUT_FACE, i / 25, (512, 512)), 150
        ),
    }  # fmt: skip


def crop(frame: np.ndarray, landmarks: np.ndarray, size: int = 200) -> np.ndarray:
    from rendering import faces

    centre = faces.mouth_centre(landmarks)
    half = 0.55 * faces.face_frame(landmarks).scale
    x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - 0.7 * half, 0))
    x1, y1 = (
        int(min(centre[0] + half, frame.shape[1])),
        int(min(centre[1] + 0.7 * half, frame.shape[0])),
    )
    tile = frame[y0:y1, x0:x1]
    return np.asarray(cv2.resize(tile, (size, round(size * tile.shape[0] / tile.shape[1]))))


def sheet(
    speech: Speech, runs: dict[str, tuple[np.ndarray, list[np.ndarray], float]], out: Path
) -> None:
    """Rows: moments (a closure inside a bilabial word, a rounded and a wide vowel); columns:
    word shapes off, on. The moment is where the 'on' render is most closed / mid-word."""
    from rendering import faces

    gaps_on, frames_on, fps = runs["on"]
    _, frames_off, _ = runs["off"]
    rows = []
    for kind in ("bilabial", "rounded", "wide"):
        for w in [i for i, k in enumerate(speech.kinds) if k == kind][:2]:
            share = 0.7 if kind == "bilabial" else 0.2
            span = word_frames(speech.starts[w], speech.ends[w], fps, share)
            k = span.start + int(np.nanargmin(gaps_on[span])) if kind == "bilabial" else span.start
            rows.append((kind, w, k))
    tiles = []
    for kind, w, k in rows:
        found = next(iter(faces.track_frames([frames_off[k]])), None)
        if found is None:
            continue
        pair = [crop(frames[k], found[1]) for frames in (frames_off, frames_on)]
        row = np.hstack([pair[0], np.full((pair[0].shape[0], 4, 3), 255, np.uint8), pair[1]])
        label = f"{speech.words[w]} ({kind}) t={k / fps:.2f}s  off | on"
        cv2.rectangle(row, (0, 0), (row.shape[1], 18), (0, 0, 0), -1)
        cv2.putText(row, label.encode("ascii", "replace").decode(), (4, 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
        tiles.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.vstack(tiles), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--only", choices=sorted(SETS), default=None)
    args = parser.parse_args()

    from rendering import audio as audio_mod
    from rendering import faces
    from rendering.engines.classic import ClassicEngine
    from rendering.transcription import DEFAULT_MODEL_DIR, Transcriber

    transcriber = Transcriber(DEFAULT_MODEL_DIR)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = tmp / "cache"
        faces_made = templates(tmp)
        for language in [args.only] if args.only else list(SETS):
            speech = make_speech(language, tmp)
            features = audio_mod.analyse(
                speech.path, cache_dir=cache, transcriber=transcriber, language=language
            )
            heard = " ".join(w.text for w in features.words or [])
            print(f"{language}: said {' '.join(speech.words)!r}\n    heard {heard!r}")
            for name, template in faces_made.items():
                track = faces.track(template, cache_dir=cache)
                runs = {}
                for setting in ("off", "on"):
                    out = tmp / f"{language}-{name}-{setting}.mp4"
                    ClassicEngine(cache_dir=cache, words=setting == "on").render(
                        template=template, track=track, audio=features,
                        audio_path=speech.path, out_path=out,
                    )  # fmt: skip
                    gaps, widths, frames, fps = mouth_series(out)
                    corr, offset, confidence = sync(gaps, features, fps)
                    got = scores(speech, gaps, widths, fps)
                    rows.append([language, name, setting, f"{corr:.2f}", offset, f"{confidence:.2f}",
                                 f"{got['shut_bilabial']:.2f} ({got['frames_bilabial']:.1f})",
                                 f"{got['shut_plain']:.2f} ({got['frames_plain']:.1f})",
                                 f"{got['width_contrast']:.1f}"])  # fmt: skip
                    runs[setting] = (gaps, frames, fps)
                if args.sheet is not None and name != "fixture (tuned)":
                    sheet(speech, runs, args.sheet / f"{language}-{name}.png")
    print("\nword shapes off and on (classic engine; 25 fps; untuned faces: hopper, astronaut)\n")
    header = ["lang", "template", "words", "corr@0", "best offset", "confidence",
              "bilabial words shut (frames)", "other words shut (frames)",
              "width i/e - o/u (% eye)"]  # fmt: skip
    print(table(header, rows))
    print("\nbetter: corr@0 and confidence as high, offset 0; bilabial words shut -> 1, other")
    print("words shut -> 0 (a closure there is false); a larger width contrast.")


if __name__ == "__main__":
    main()
