"""What a viewer sees at the edited region: seams along its border and the mouth's sharpness.

    .venv/bin/python bench/seams.py [clip.mp4 ...] [--tag NAME] [--sheets DIR] [--audio WAV]
                                    [--max-yaw DEGREES] [--max-jitter 0.1] [--min-coverage 0]

Default clips: every clip of ``../shared/realdata/`` (the real faces; the held-out clips
its SOURCES.md names are not there), a vertical phone version of one (1080x1920, made
once under var/seams/), and the synthetic faces of ``bench/faces.py`` when
``var/bench-faces`` exists. Each is rendered with the classic engine speaking the fixture
speech (or ``--audio``), then every edited output frame is compared with its template frame:

- seam: low-passed luminance change on a strip just inside the edited region's border
  and a ring just outside it, less the encoder's noise on a ring further out
  (``rendering.look.seam_score``; grey levels, 0 = invisible); ``jaw``: the signed change
  on the strip below the mouth (positive: a lighter band along the jaw);
- sharp: the output mouth's Laplacian variance over the template frame's (median and
  10th percentile over edited frames; target >= 0.9);
- eyes: the same ratio between the eyes, which nothing edits: what the encoder alone takes;
- psnr: PSNR outside the lower face against the template (must not get worse).

With ``--sheets DIR`` it writes ``DIR/seams_<clip>.png``: template beside output around
the mouth and along the jaw, at full size, at the most open frame and at a mid one, with
a third panel showing the change (x8, grey = none) and the region's border in red.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
from _common import ROOT, SPEECH, make_variant, table  # type: ignore[import-not-found]

REALDATA = ROOT.parent.parent / "shared" / "realdata"
if not REALDATA.is_dir():
    REALDATA = Path("/work/shared/realdata")
WORK = ROOT / "var" / "seams"
CACHE = ROOT / "var" / "seams-cache"
MIN_COVERAGE = [0.25]  # --min-coverage: render what can be edited of a clip the engine refuses


def phone_clip() -> Path:
    """A vertical phone recording (1080x1920) made from a real clip: s29, cropped to 9:16."""
    target = WORK / "phone_s29_1080x1920.mp4"
    if not target.exists():
        WORK.mkdir(parents=True, exist_ok=True)

        def change(frame: np.ndarray) -> np.ndarray:
            h, w = frame.shape[:2]
            ch = min(h, round(w * 16 / 9))
            top = (h - ch) // 2
            crop = frame[top : top + ch]
            return np.asarray(cv2.resize(crop, (1080, 1920), interpolation=cv2.INTER_CUBIC))

        make_variant(REALDATA / "liveportrait_s29.mp4", target, change, crf=20)
    return target


def default_clips() -> list[Path]:
    clips = sorted(REALDATA.glob("*.mp4")) if REALDATA.is_dir() else []
    if clips:
        clips.append(phone_clip())
    clips += sorted((ROOT / "var" / "bench-faces").glob("*.mp4"))
    return clips


def short_name(path: Path) -> str:
    return path.stem.replace("sadtalker_WDA_", "").replace("liveportrait_", "lp_")[:22]


def crop(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Mouth and jaw: from under the nose to below the chin, jaw side to jaw side."""
    from rendering import faces

    polygon = faces.lower_face_polygon(landmarks, chin_margin=0.3)
    scale = faces.face_frame(landmarks).scale
    pad = 0.12 * scale
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0) - pad).astype(int), 0)
    x1, y1 = np.ceil(polygon.max(axis=0) + pad).astype(int)
    return int(x0), int(y0), int(min(x1, shape[1])), int(min(y1, shape[0]))


def measure(template: Path, audio_path: Path, tag: str, sheets: Path | None) -> list[object]:
    from rendering import audio as audio_mod
    from rendering import faces, look, media, mouths, quality
    from rendering.engines import classic

    features = audio_mod.analyse(audio_path, cache_dir=CACHE)
    track = faces.track(template, cache_dir=CACHE)
    name = short_name(template)
    out = WORK / f"{name}-{tag}.mp4"
    started = time.perf_counter()
    classic.ClassicEngine(cache_dir=CACHE, min_coverage=MIN_COVERAGE[0]).render(
        template=template, track=track, audio=features, audio_path=audio_path, out_path=out
    )
    seconds = time.perf_counter() - started
    library = mouths.analyse(template, track, cache_dir=CACHE)
    n_out = len(features.mouth_controls(track.fps).openness)
    outputs, _ = media.read_frames(out, fps=track.fps)
    n_out = min(n_out, len(outputs))
    plan = classic.plan_frames(track, features, library, n_out)
    reference = classic.MouthReference.from_track(track)
    sources = list(media.iter_frames(template, fps=track.fps))
    seams, jaws, ratios, edited, codec = [], [], [], [], []
    for j in range(n_out):
        i = min(int(plan.template_index[j]), len(sources) - 1, track.n_frames - 1)
        if not track.present[i] or plan.strength[j] < 0.5:
            continue
        landmarks = track.landmarks[i]
        try:
            polygon = classic.edit_region(landmarks, plan.poses[j], reference)
        except ValueError:
            continue
        seam = look.seam_score(outputs[j], sources[i], polygon, landmarks)
        seams.append(seam.score)
        jaws.append(seam.lighter)
        ratios.append(look.sharpness_ratio(outputs[j], sources[i], landmarks))
        base = look.eyes_sharpness(sources[i], landmarks)
        codec.append(look.eyes_sharpness(outputs[j], landmarks) / base if base > 0 else np.nan)
        edited.append((j, i))
    psnr = quality.psnr_outside_lower_face(outputs, template, track.fps, cache_dir=CACHE)
    if sheets is not None and edited:
        opens = np.array([plan.poses[j].openness for j, _ in edited])
        picks = [edited[int(np.argmax(opens))], edited[len(edited) // 2]]
        rows = []
        for j, i in picks:
            x0, y0, x1, y1 = crop(track.landmarks[i], sources[i].shape)
            gap = np.full((y1 - y0, 6, 3), 255, np.uint8)
            # Third panel: the change, grey 128 = none, x8, with the region's border in red.
            change = outputs[j].astype(np.float32).mean(2) - sources[i].astype(np.float32).mean(2)
            diff = cv2.cvtColor(
                np.clip(128 + 8 * change, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB
            )
            polygon = classic.edit_region(track.landmarks[i], plan.poses[j], reference)
            cv2.polylines(diff, [np.round(polygon).astype(np.int32)], True, (255, 0, 0), 1)
            panels = [
                sources[i][y0:y1, x0:x1],
                gap,
                outputs[j][y0:y1, x0:x1],
                gap,
                diff[y0:y1, x0:x1],
            ]
            rows.append(np.hstack(panels))
        width = max(r.shape[1] for r in rows)
        rows = [
            np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows
        ]
        sheets.mkdir(parents=True, exist_ok=True)
        png = sheets / f"seams_{name}.png"
        image = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(png), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    ratio = np.asarray(ratios, np.float64)
    ratio = ratio[np.isfinite(ratio)]
    seam_arr = np.asarray(seams)
    h, w = sources[0].shape[:2]
    return [
        name,
        f"{w}x{h}",
        library.opens,
        f"{len(edited)}/{n_out}",
        float(np.median(seam_arr)) if len(seam_arr) else float("nan"),
        float(np.percentile(seam_arr, 90)) if len(seam_arr) else float("nan"),
        float(np.median(jaws)) if jaws else float("nan"),
        float(np.median(ratio)) if len(ratio) else float("nan"),
        float(np.percentile(ratio, 10)) if len(ratio) else float("nan"),
        float(np.nanmedian(codec)) if codec else float("nan"),
        psnr,
        round(seconds, 1),
    ]


def main(argv: list[str]) -> None:
    tag, sheets, audio_path, clips = "now", None, SPEECH, []
    args = iter(argv)
    for arg in args:
        if arg == "--tag":
            tag = next(args)
        elif arg == "--sheets":
            sheets = Path(next(args))
        elif arg == "--audio":
            audio_path = Path(next(args))
        elif arg == "--max-yaw":
            # Measure the look on clips turned further than the face check accepts (degrees of
            # yaw where the edit has faded out; 45 by default): before and after, the same value.
            from rendering import faces

            faces.MAX_YAW = float(next(args))
        elif arg == "--min-coverage":
            MIN_COVERAGE[0] = float(next(args))
        elif arg == "--max-jitter":
            from rendering import faces

            faces.MAX_JITTER = float(next(args))
        else:
            clips.append(Path(arg))
    clips = clips or default_clips()
    header = ["clip", "size", "opens", "edited", "seam", "seam p90", "jaw", "sharp", "sharp p10", "eyes", "psnr", "secs"]  # fmt: skip
    rows: list[list[object]] = []
    for clip in clips:
        try:
            rows.append(measure(clip, audio_path, tag, sheets))
        except Exception as exc:  # one clip the engine refuses must not stop the others
            failed: list[object] = [short_name(clip), "-", "-", f"failed: {exc}"[:60]]
            rows.append(failed + ["-"] * 8)
        print(table(header, rows[-1:]), flush=True)
    print()
    print(table(header, rows))


if __name__ == "__main__":
    main(sys.argv[1:])
