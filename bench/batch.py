"""One audio, N templates: the audio is analysed once and face tracks are reused.

Makes N variants of the fixture face (flipped, brighter, zoomed...), renders the batch
twice with one cache directory and counts real audio analyses and face tracks per run.
Expected: run 1 analyses once and tracks N times; run 2 analyses 0 times and tracks 0
times. Target: second / first wall time <= 0.6.

    .venv/bin/python bench/batch.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from _common import FACE, SPEECH, make_variant, table


def _variants() -> list[Callable[[np.ndarray], np.ndarray]]:
    def flip(f: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(f[:, ::-1])

    def brighter(f: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.convertScaleAbs(f, alpha=1.1, beta=12))

    def zoom(f: np.ndarray) -> np.ndarray:
        h, w = f.shape[:2]
        crop = f[h // 16 : h - h // 16, w // 16 : w - w // 16]
        return np.asarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC))

    def warmer(f: np.ndarray) -> np.ndarray:
        out = f.astype(np.int16) + np.array([14, 4, -10], dtype=np.int16)
        return np.clip(out, 0, 255).astype(np.uint8)

    return [lambda f: f, flip, brighter, zoom, warmer]


def main(n: int) -> None:
    from rendering import audio, faces
    from rendering.pipeline import render_batch

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        changes = _variants()
        templates = [
            make_variant(FACE, tmp / f"template-{i + 1}.mp4", changes[i % len(changes)])
            for i in range(n)
        ]
        rows = []
        times = []
        for run in (1, 2):
            analyses, tracks = audio.ANALYSIS_RUNS, faces.TRACK_RUNS
            started = time.perf_counter()
            result = render_batch(SPEECH, templates, tmp / f"out-{run}", cache_dir=tmp / "cache")
            seconds = time.perf_counter() - started
            times.append(seconds)
            ok = sum(item.ok for item in result.items)
            rows.append(
                [
                    run,
                    f"{ok}/{n}",
                    audio.ANALYSIS_RUNS - analyses,
                    faces.TRACK_RUNS - tracks,
                    seconds,
                ]
            )
    print(f"batch of {n} templates, one audio, one cache directory\n")
    print(table(["run", "rendered", "audio analyses", "face tracks", "wall s"], rows))
    print(f"\nsecond / first = {times[1] / times[0]:.2f}  (target <= 0.6)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
