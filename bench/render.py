"""The whole classic render against the floor a user can reach: ffmpeg transcoding the same frames.

For each template size (512x512, a 1080x1920 phone recording, 1920x1080) and each audio length
(10 s and 60 s of the fixture speech, repeated), in one run and paired run by run:

- floor: the ffmpeg binary that imageio-ffmpeg ships, looping the template to the audio's
  length with that audio muxed in: libx264 at the engine's crf and preset, AAC; frame
  threads as ffmpeg chooses them (its defaults);
- render: the whole command line render as a user runs it, ``python -m rendering --audio
  ... --out ... --cache-dir ...``, timed from process start to the file on disk: Python's
  start-up, the audio analysis (cached like a batch's second template: the first template of
  a batch pays it once), the cached face track and mouth library, decoding, editing,
  encoding and muxing. The cache is warmed by untimed renders first, as the worker's
  template face check does at upload: each template once with the shortest audio (its
  track, mouths and voice adaptation), each audio once on the smallest template (its
  analysis and transcript), so a long audio is not rendered at full size just to warm up.
  ``--before`` shares that cache (the two checkouts must use the same cache formats).
  Python keeps the project's compiled bytecode between runs, as any installed service does
  (``PYTHONDONTWRITEBYTECODE`` is dropped for the renders: with it each run compiles every
  module of ``rendering`` again, a tenth of a second on the 2-core machine).

Prints the best wall time of each over the pairs, the median of the per-pair ratios of wall
time and of CPU time (user + system: the work done, which other jobs on a shared machine
change far less than the wall time), the render's frames per second and peak memory (max
RSS of the render process). ``--before CHECKOUT`` renders from another checkout in the same
pairs (before/after in one run).
Targets (issue 26): whole render / ffmpeg floor <= 1.5 for 60 s of audio, <= 2.0 for 10 s.

    .venv/bin/python bench/render.py [--pairs 2] [--only 512x512 ...] [--seconds 10 ...]
        [--before ../main]   # also render from another checkout in the same pairs
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import FACE, ROOT, SPEECH, full_hd, make_variant, table, upscale, write_wav

CRF = 18  # the classic engine's defaults
PRESET = "veryfast"


def phone(frame: np.ndarray) -> np.ndarray:
    """The square face scaled to 1080 wide and padded out to a 1080x1920 portrait frame."""
    import cv2

    square = cv2.resize(frame, (1080, 1080), interpolation=cv2.INTER_CUBIC)
    return np.asarray(cv2.copyMakeBorder(square, 420, 420, 0, 0, cv2.BORDER_REPLICATE))


def speech_of(seconds: float, path: Path) -> Path:
    from rendering import media

    samples = media.read_audio(SPEECH)
    reps = int(np.ceil(seconds * 16000 / samples.size))
    write_wav(path, np.tile(samples, reps)[: int(seconds * 16000)])
    return path


def ffmpeg_floor(template: Path, audio: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ffmpeg making the same frames with the same sound."""
    import imageio_ffmpeg

    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-loglevel",
        "error",
        "-y",
        "-stream_loop",
        "-1",
        "-i",
        str(template),
        "-i",
        str(audio),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        PRESET,
        "-crf",
        str(CRF),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        str(out),
    ]
    return _timed(command, ROOT)[:2]


def _timed(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process.

    CPU seconds say how much work a run is whatever else the machine is doing; on a machine
    shared with other jobs, compare them as well as the wall times."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own figures
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{command[0]} failed with exit status {code}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def cli_render(
    template: Path, audio: Path, out_dir: Path, cache: Path, root: Path = ROOT
) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one whole ``python -m rendering`` process, run from
    the checkout ``root`` (its ``rendering`` package is the one imported)."""
    command = [
        sys.executable,
        "-m",
        "rendering",
        "--audio",
        str(audio),
        "--out",
        str(out_dir),
        "--cache-dir",
        str(cache),
        str(template),
    ]
    return _timed(command, root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="paired floor/render runs per row")
    parser.add_argument(
        "--only",
        choices=["512x512", "1080x1920", "1920x1080"],
        action="append",
        default=None,
        help="these template sizes only, in this order (repeat the option)",
    )
    parser.add_argument("--seconds", type=float, action="append", default=None)
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="another checkout (e.g. a git worktree of main) rendered in the same pairs: before/after",
    )
    args = parser.parse_args()
    lengths = args.seconds or [10.0, 60.0]

    from rendering import media

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        makers = {"512x512": upscale(512), "1080x1920": phone, "1920x1080": full_hd}
        labels = args.only or list(makers)
        templates = {
            label: make_variant(FACE, tmp / f"t{label}.mp4", makers[label], crf=16)
            for label in dict.fromkeys(["512x512", *labels])
        }
        audios = {
            seconds: speech_of(seconds, tmp / f"speech-{seconds:g}.wav") for seconds in lengths
        }
        cache = tmp / "cache"
        smallest = templates["512x512"]
        for audio in audios.values():  # each audio's analysis and words
            cli_render(smallest, audio, tmp / "warm", cache)
        shortest = audios[min(audios)]
        for label in labels:  # each template's track, mouths and voice
            cli_render(templates[label], shortest, tmp / "warm", cache)
        for label in labels:
            template = templates[label]
            for seconds in lengths:
                audio = audios[seconds]
                floors: list[float] = []
                renders: list[float] = []
                ratios: list[float] = []
                cpu_ratios: list[float] = []
                peaks: list[float] = []
                befores: list[float] = []
                cpu_befores: list[float] = []
                peak_befores: list[float] = []
                for _ in range(args.pairs):
                    floor, floor_cpu = ffmpeg_floor(template, audio, tmp / "floor.mp4")
                    if args.before:
                        old, old_cpu, old_peak = cli_render(
                            template, audio, tmp / "old", cache, args.before
                        )
                        peak_befores.append(old_peak)
                        befores.append(old / floor)
                        cpu_befores.append(old_cpu / floor_cpu)
                    render, render_cpu, peak = cli_render(template, audio, tmp / "out", cache)
                    floors.append(floor)
                    renders.append(render)
                    ratios.append(render / floor)
                    cpu_ratios.append(render_cpu / floor_cpu)
                    peaks.append(peak)
                out = next((tmp / "out").glob("output_*.mp4"))
                info = media.probe_video(out)
                assert info.video is not None
                rows.append(
                    [
                        label,
                        f"{seconds:g} s",
                        min(floors),
                        min(renders),
                        statistics.median(ratios),
                        statistics.median(cpu_ratios),
                        info.video.frame_count / min(renders),
                        max(peaks),
                        statistics.median(befores) if befores else "-",
                        statistics.median(cpu_befores) if cpu_befores else "-",
                        max(peak_befores) if peak_befores else "-",
                    ]
                )
                print(table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    print(
        f"\nwhole CLI render vs ffmpeg (imageio-ffmpeg's binary; libx264 {PRESET} crf {CRF}, AAC;"
        f" same frames; {args.pairs} pairs, best times, median ratio)\n"
    )
    print(table(HEADER, rows))
    print("\ntargets: ratio <= 1.5 for 60 s of audio, <= 2.0 for 10 s")


HEADER = [
    "template",
    "audio",
    "ffmpeg s",
    "render s",
    "ratio",
    "CPU ratio",
    "render fps",
    "peak MB",
    "ratio before",
    "CPU ratio before",
    "peak MB before",
]


if __name__ == "__main__":
    main()
