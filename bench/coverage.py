"""Which templates render, and how much of the speech gets the new mouth.

    .venv/bin/python bench/coverage.py [--audio WAV] [--render-seconds 6] [--only NAME] [--media]

For each clip of ``../shared/realdata/`` (``SOURCES.md`` there; the held-out clips it
names are not in that folder) and each synthetic face of ``bench/faces.py``, driven by the
22 s of Mandarin in ``musetalk_sun.wav`` (or ``--audio``):

- refused: the face check's and the render's verdict (``rendering.faces.check_usable``);
- usable: share of the template's frames with a usable face;
- voiced edited: share of the output frames where the audio speaks that get the new mouth
  (edit strength >= 0.5), and the same among frames whose face is usable;
- why: the causes of unedited frames (``rendering.faces.unusable_spans``);
- seam: mean grey-level change in a ring 2-8 px outside the edited region (output vs
  template; 0 is invisible), over the first ``--render-seconds`` rendered;
- sharp: Laplacian variance of the output's mouth over the template frame's (1 = as sharp).

Seam and sharpness are computed simply here; the look of the edit is tuned elsewhere.
"""

from __future__ import annotations

if __name__ != "__main__":
    # A script only. Its name shadows the ``coverage`` package, which numba (under Whisper)
    # tries to import from every bench script (bench/ is on their path): it must find no
    # coverage here, as on a machine without the package, not this file.
    raise ImportError("bench/coverage.py is a script, not the coverage package")

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import faces as synthetic  # type: ignore[import-not-found]
import numpy as np
from _common import ROOT, table, write_wav  # type: ignore[import-not-found]

# This file's name shadows the ``coverage`` package that numba (under Whisper) imports:
# once the bench's own modules are in, bench/ leaves the import path.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")]

REALDATA = ROOT.parent / "shared" / "realdata"
if not REALDATA.exists():
    REALDATA = Path("/work/shared/realdata")


def templates(work: Path) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(REALDATA.glob("*.mp4"))}
    made = work / "synthetic"
    if not (made / "group_of_six.mp4").exists():
        synthetic.make_all(made)
    found.update({f"synthetic/{p.stem}": p for p in sorted(made.glob("*.mp4"))})
    return found


# Real clips in the containers and shapes uploads come in (issue 22: each once failed at 0 %),
# made from one real clip with the ffmpeg that imageio-ffmpeg ships; kept under the work dir.
MEDIA_SOURCE = "retalking_face_2.mp4"


def media_variants(work: Path) -> dict[str, Path]:
    """A phone clip stored sideways with rotation metadata (both signs), a variable frame
    rate clip and a VP9 .webm, made from ``MEDIA_SOURCE``."""
    import subprocess

    import imageio_ffmpeg

    source = REALDATA / MEDIA_SOURCE
    if not source.exists():
        return {}
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    made = work / "media"
    made.mkdir(parents=True, exist_ok=True)
    h264 = ["-c:v", "libx264", "-crf", "20", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    # ffmpeg's display rotation is counter-clockwise: a picture stored turned clockwise
    # (transpose=1) shows upright with +90, one turned counter-clockwise with -90.
    jobs = {
        "rotated_plus90.mp4": [
            ["-i", str(source), "-vf", "transpose=1", *h264, "-c:a", "aac"],
            ["-display_rotation", "90"],
        ],
        "rotated_minus90.mp4": [
            ["-i", str(source), "-vf", "transpose=2", *h264, "-c:a", "aac"],
            ["-display_rotation", "-90"],
        ],
        # Frames kept irregularly (every 3rd and every 7th), their own timestamps kept.
        "vfr.mp4": [
            ["-i", str(source), "-vf", "select='not(mod(n,3))+not(mod(n,7))'",
             "-fps_mode", "vfr", *h264, "-c:a", "aac"],
            None,
        ],
        "vp9.webm": [
            ["-i", str(source), "-c:v", "libvpx-vp9", "-b:v", "1M", "-deadline", "realtime",
             "-cpu-used", "8", "-c:a", "libopus"],
            None,
        ],
    }  # fmt: skip
    found = {}
    for name, (encode, rotate) in jobs.items():
        target = made / name
        if not target.exists():
            raw = made / f".raw-{name}"
            subprocess.run([ffmpeg, "-v", "error", "-y", *encode, str(raw)], check=True)
            if rotate:  # the display matrix is set on the input side, then copied in
                subprocess.run(
                    [
                        ffmpeg,
                        "-v",
                        "error",
                        "-y",
                        *rotate,
                        "-i",
                        str(raw),
                        "-c",
                        "copy",
                        str(target),
                    ],
                    check=True,
                )
                raw.unlink()
            else:
                raw.rename(target)
        found[f"media/{target.name}"] = target
    return found


def seam_and_sharpness(
    template: Path, output: Path, track: object, strength: np.ndarray, n: int
) -> tuple[float, float]:
    from rendering import faces, media
    from rendering.engines.base import CHIN_MARGIN, ping_pong_index

    t_frames = list(media.iter_frames(template, fps=track.fps))  # type: ignore[attr-defined]
    seams, ratios = [], []
    for j, out in enumerate(media.iter_frames(output, fps=track.fps)):  # type: ignore[attr-defined]
        if j >= n or strength[j] < 0.99:
            continue
        i = ping_pong_index(j, len(t_frames)) if j >= len(t_frames) else j
        i = min(i, track.n_frames - 1)  # type: ignore[attr-defined]
        polygon = track.lower_face_polygon(i, chin_margin=CHIN_MARGIN)  # type: ignore[attr-defined]
        if polygon is None:
            continue
        src = t_frames[min(i, len(t_frames) - 1)]
        mask = np.zeros(src.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], (1,))
        inner = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        outer = cv2.dilate(mask, np.ones((17, 17), np.uint8))
        ring = (outer > 0) & (inner == 0)
        grey_out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).astype(np.float32)
        grey_src = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY).astype(np.float32)
        seams.append(float(np.abs(grey_out - grey_src)[ring].mean()))
        landmarks = track.landmarks[i]  # type: ignore[attr-defined]
        lips = landmarks[np.concatenate([faces.K_OUTER_UPPER, faces.K_OUTER_LOWER])]
        x0, y0 = np.floor(lips.min(axis=0)).astype(int) - 4
        x1, y1 = np.ceil(lips.max(axis=0)).astype(int) + 4
        x0, y0 = max(x0, 0), max(y0, 0)
        a = cv2.Laplacian(grey_src[y0:y1, x0:x1], cv2.CV_32F).var()
        b = cv2.Laplacian(grey_out[y0:y1, x0:x1], cv2.CV_32F).var()
        if a > 1e-3:
            ratios.append(float(b / a))
    seam = float(np.mean(seams)) if seams else float("nan")
    sharp = float(np.median(ratios)) if ratios else float("nan")
    return seam, sharp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--audio", type=Path, default=REALDATA / "musetalk_sun.wav")
    parser.add_argument("--render-seconds", type=float, default=6.0)
    parser.add_argument("--only", default="")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench-coverage")
    parser.add_argument(
        "--media", action="store_true", help="also a rotated, a VFR and a VP9 clip (made here)"
    )
    args = parser.parse_args()

    from rendering import faces
    from rendering.audio import analyse
    from rendering.engines.base import output_frame_count
    from rendering.engines.classic import ClassicEngine, plan_frames
    from rendering.errors import FaceError

    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "cache"
    audio = analyse(args.audio, cache_dir=cache)
    rows = []
    clips = templates(args.work)
    if args.media:
        clips.update(media_variants(args.work))
    for name, path in clips.items():
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        try:
            track = faces.track(path, cache_dir=cache)
        except FaceError as exc:
            rows.append([name, "no face", 0.0, "-", "-", exc.code, "-", "-"])
            continue
        share = faces.usable_share(track)
        try:
            faces.check_usable(track)
            refused = "no"
        except FaceError:
            refused = "REFUSED"
        n = output_frame_count(audio.duration, track.fps)
        plan = plan_frames(track, audio, None, n)
        hops = audio.speech
        voiced = np.array(
            [bool(hops[min(int(j / track.fps * 100), len(hops) - 1)]) for j in range(n)]
        )
        usable = (faces.edit_strength(track.trust()) >= 0.5)[plan.template_index]
        edited = plan.strength >= 0.5
        voiced_edited = float(edited[voiced].mean()) if voiced.any() else float("nan")
        usable_edited = (
            float(edited[voiced & usable].mean()) if (voiced & usable).any() else float("nan")
        )
        why = ", ".join(
            f"{part.cause} {100 * part.share:.0f}%"
            for part in faces.unusable_spans(track, plan.template_index)
        )
        seam = sharp = float("nan")
        if refused == "no" and args.render_seconds > 0:
            with tempfile.TemporaryDirectory() as tmp:
                short = Path(tmp) / "audio.wav"
                _cut(args.audio, short, args.render_seconds)
                part = analyse(short, cache_dir=None)
                result = ClassicEngine(cache_dir=cache).render(
                    template=path,
                    track=track,
                    audio=part,
                    audio_path=short,
                    out_path=Path(tmp) / "out.mp4",
                )
                m = output_frame_count(part.duration, track.fps)
                strength = plan_frames(track, part, None, m).strength
                seam, sharp = seam_and_sharpness(path, result.path, track, strength, m)
        rows.append([name, refused, share, voiced_edited, usable_edited, why or "-", seam, sharp])
        print(f"{name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    header = ["template", "refused", "usable", "voiced edited", "usable+voiced edited", "why unedited", "seam", "sharp"]  # fmt: skip
    print(
        f"audio: {args.audio.name} ({audio.duration:.1f} s); seam/sharp over its first {args.render_seconds:g} s\n"
    )
    print(table(header, rows))


def _cut(src: Path, dst: Path, seconds: float) -> None:
    from rendering import media

    samples = media.read_audio(src)
    write_wav(dst, samples[: int(seconds * 16000)])


if __name__ == "__main__":
    main()
