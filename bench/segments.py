"""Long videos split into segments (issue #17): one worker vs two, the join's cost, and a
frame-exact check at every joint.

A speech of SECONDS (the fixture speech repeated) drives the fixture face (looped forward
and backward, scaled to SIZE). It is rendered (1) whole, in one process, as one worker
does; (2) as segments of SEGMENT seconds spread over two processes, then joined
(``rendering.media.join_segments``). Then every joint is checked against the whole render:
each frame on either side must match the whole render's same frame better than its
neighbours (nothing dropped or repeated), the frame count must equal the whole's, and the
decoded sound must equal the whole's (one continuous track).

    .venv/bin/python bench/segments.py                 # 30 s, a short run for 2 cores
    .venv/bin/python bench/segments.py --full          # the issue's 5 minutes
    .venv/bin/python bench/segments.py --seconds 60 --segment 10 --size 256
"""

from __future__ import annotations

import argparse
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from _common import FACE, SPEECH, make_variant, table


def _speech(dst: Path, seconds: float) -> Path:
    with wave.open(str(SPEECH), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    want = int(seconds * params.framerate) * params.sampwidth * params.nchannels
    data = (frames * (want // len(frames) + 1))[:want]
    with wave.open(str(dst), "wb") as out:
        out.setparams(params)
        out.writeframes(data)
    return dst


def _inputs(template: Path, audio: Path, cache: Path) -> tuple[Any, Any]:
    """The worker's preparation (rendering.recipe.prepare, cached) and its engine."""
    from rendering import recipe
    from rendering.engines import get_engine

    prepared = recipe.prepare(audio, template, cache_dir=cache, analysis={"transcribe": False})
    return prepared, get_engine("classic", cache_dir=cache)


def _render(job: tuple[Path, Path, Path, Path, tuple[int, int] | None]) -> float:
    """One segment task's render (or the whole), as the worker runs it."""
    from rendering import recipe

    template, audio, cache, out, frame_range = job
    prepared, engine = _inputs(template, audio, cache)
    started = time.perf_counter()
    recipe.render(prepared, engine, out, frame_range=frame_range)
    return time.perf_counter() - started


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    from rendering.media import iter_frames

    return {i: f for i, f in enumerate(iter_frames(path)) if i in wanted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--segment", type=float, default=None, help="default: seconds / 6")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--full", action="store_true", help="5 minutes, 60 s segments")
    args = parser.parse_args()
    seconds = 300.0 if args.full else args.seconds
    segment = args.segment or (60.0 if args.full else seconds / 6)

    from rendering.media import join_segments, probe, read_audio, read_audio_as_uploaded

    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        import cv2

        template = make_variant(
            FACE, root / "template.mp4", lambda f: cv2.resize(f, (args.size, args.size))
        )
        audio = _speech(root / "speech.wav", seconds)
        prepared, _ = _inputs(template, audio, cache)  # analyses cached for both runs
        track = prepared.track
        n = prepared.n_frames
        length = max(1, round(segment * track.fps))
        starts = list(range(0, n, length))
        ranges = list(zip(starts, [*starts[1:], n], strict=True))

        whole = root / "whole.mp4"
        t0 = time.perf_counter()
        _render((template, audio, cache, whole, None))
        one_worker = time.perf_counter() - t0

        parts = [root / f"part_{i:03d}.mp4" for i in range(len(ranges))]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(
                pool.map(
                    _render,
                    [(template, audio, cache, p, r) for p, r in zip(parts, ranges, strict=True)],
                )
            )
        rendered = time.perf_counter() - t0
        samples, rate = read_audio_as_uploaded(audio)
        joined_path = root / "joined.mp4"
        joined = join_segments(parts, joined_path, fps=track.fps, audio=samples, audio_rate=rate)
        two_workers = time.perf_counter() - t0

        joints = [a for a, _ in ranges[1:]]
        wanted = {j + d for j in joints for d in (-2, -1, 0, 1)}
        ours, reference = _frames_at(joined_path, wanted), _frames_at(whole, wanted)
        bad = []
        worst = 99.0
        for j in joints:
            for k in (j - 1, j):
                same = _psnr(ours[k], reference[k])
                worst = min(worst, same)
                if same < max(_psnr(ours[k], reference[k - 1]), _psnr(ours[k], reference[k + 1])):
                    bad.append(k)
        info_whole, info_joined = probe(whole), probe(joined_path)
        assert info_whole.video is not None and info_joined.video is not None
        a, b = read_audio(whole), read_audio(joined_path)
        audio_diff = float(np.max(np.abs(a[: len(b)] - b[: len(a)]))) if len(a) else 0.0

    print(
        table(
            ["measure", "value"],
            [
                ["video", f"{seconds:.0f} s, {n} frames, {args.size}px, {len(ranges)} segments"],
                ["one worker (whole render)", f"{one_worker:.1f} s"],
                ["two workers: segments", f"{rendered:.1f} s"],
                [
                    "two workers: join",
                    f"{joined.seconds:.2f} s ({'re-encoded' if joined.reencoded else 'copied'})",
                ],
                ["two workers: total", f"{two_workers:.1f} s"],
                ["speed-up (one / two)", f"{one_worker / two_workers:.2f}x"],
                [
                    "frames whole / joined",
                    f"{info_whole.video.frame_count} / {info_joined.video.frame_count}",
                ],
                ["joints checked / off", f"{len(joints)} / {len(bad)} {bad if bad else ''}"],
                ["worst PSNR at a joint vs whole", f"{worst:.1f} dB"],
                ["audio samples whole / joined", f"{len(a)} / {len(b)}, max diff {audio_diff:.2g}"],
            ],
        )
    )


if __name__ == "__main__":
    main()
