"""Render templates and write contact sheets to look at (a number is not a picture).

    .venv/bin/python bench/look.py [template.mp4 ...] [--old]   # default: bench/faces.py's set

For each template: render it with the classic engine speaking the fixture speech, then
write ``var/look/<name>.png``: six moments (most open, closing, closed, ...) as rows;
columns are the template frame and the output frame cut around the mouth at full size,
then the whole output frame scaled down. Prints the sync figures, PSNR outside the face
and how far the lips sit from the template's, per template.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
from _common import ROOT, SPEECH  # type: ignore[import-not-found]


def crop_box(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    from rendering import faces

    frame = faces.face_frame(landmarks)
    centre = faces.mouth_centre(landmarks)
    half = 0.75 * frame.scale
    x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - 0.8 * half, 0))
    x1, y1 = int(min(centre[0] + half, shape[1])), int(min(centre[1] + 1.1 * half, shape[0]))
    return x0, y0, x1, y1


def sheet(template: Path, output: Path, out_png: Path, track: object, openness: np.ndarray) -> None:
    from rendering import media
    from rendering.engines.base import ping_pong_index

    t_frames, _ = media.read_frames(template, fps=track.fps)  # type: ignore[attr-defined]
    o_frames, _ = media.read_frames(output, fps=track.fps)  # type: ignore[attr-defined]
    n = len(o_frames)
    order = np.argsort(openness[:n])
    picks = sorted(
        {int(order[-1]), int(order[-3]), int(order[n // 2]), int(order[0]), n // 3, (2 * n) // 3}
    )
    rows = []
    for j in picks:
        i = ping_pong_index(j, len(t_frames)) if n > len(t_frames) else min(j, len(t_frames) - 1)
        ti = min(i, track.n_frames - 1)  # type: ignore[attr-defined]
        tf, of = t_frames[i], o_frames[j]
        if track.present[ti]:  # type: ignore[attr-defined]
            x0, y0, x1, y1 = crop_box(track.landmarks[ti], tf.shape[:2])  # type: ignore[attr-defined]
        else:
            x0, y0, x1, y1 = 0, 0, min(256, tf.shape[1]), min(256, tf.shape[0])
        a, b = tf[y0:y1, x0:x1], of[y0:y1, x0:x1]
        height = 300
        scale = height / max(a.shape[0], 1)
        size = (max(1, round(a.shape[1] * scale)), height)
        interp = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
        whole = cv2.resize(
            of, (round(of.shape[1] * height / of.shape[0]), height), interpolation=cv2.INTER_AREA
        )
        row = np.hstack(
            [
                cv2.resize(a, size, interpolation=interp),
                np.full((height, 4, 3), 255, np.uint8),
                cv2.resize(b, size, interpolation=interp),
                np.full((height, 4, 3), 255, np.uint8),
                whole,
            ]
        )
        cv2.putText(
            row,
            f"out {j} (tpl {i}) open {openness[j]:.2f}",
            (6, 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 0),
            1,
        )
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def main(argv: list[str]) -> None:
    from rendering import audio as audio_mod
    from rendering import faces, quality
    from rendering.engines.classic import ClassicEngine

    old = "--old" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")]
    if not paths:
        paths = sorted((ROOT / "var" / "bench-faces").glob("*.mp4"))
    cache = ROOT / "var" / "look-cache"
    features = audio_mod.analyse(SPEECH, cache_dir=cache)
    print(f"{'template':12s} {'secs':>6s} {'r@0':>6s} {'best':>5s} {'conf':>6s} {'psnr_out':>8s}")
    for template in paths:
        name = template.stem + ("-old" if old else "")
        out = ROOT / "var" / "look" / f"{name}.mp4"
        track = faces.track(template, cache_dir=cache)
        started = time.perf_counter()
        try:
            ClassicEngine(cache_dir=cache, library=not old).render(
                template=template, track=track, audio=features, audio_path=SPEECH, out_path=out
            )
        except Exception as exc:  # print and go on: one bad template must not stop the look
            print(f"{name:12s} failed: {exc}")
            continue
        seconds = time.perf_counter() - started
        report = quality.measure_sync(out, features, template=template, cache_dir=cache)
        openness = features.mouth_controls(track.fps).openness
        sheet(template, out, ROOT / "var" / "look" / f"{name}.png", track, np.asarray(openness))
        print(
            f"{name:12s} {seconds:6.1f} {report.corr_at_0:6.2f} {report.best_offset:5d} "
            f"{report.confidence:6.2f} {report.psnr_outside or 0:8.1f}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
