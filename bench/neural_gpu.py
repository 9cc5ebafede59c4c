"""The neural engine's GPU check: sync next to the classic engine, speed, a contact sheet.

Meant for a GPU host with MuseTalk 1.5's released weights converted into a model
directory (docs/rendering-neural.md). On the fixtures (the face video at its own 256 px
and scaled to 1080p, driven by the fixture speech) it:

1. renders with the classic and the neural engine and prints the project's sync measure
   (``rendering.quality.measure_sync``: corr@0, best offset, confidence, PSNR outside the
   lower face) for both, with each render's frames per second;
2. times the generator alone by batch size (1..32), fp16 eager, and with ``--compile``
   under ``torch.compile`` too;
3. writes both outputs and a contact sheet (a row of classic frames over a row of
   neural ones, same instants) to ``--out``.

    NEURAL_MODEL_DIR=/srv/heygem/neural .venv/bin/python bench/neural_gpu.py \\
        --out /tmp/neural-check [--compile] [--bbox-shift 0]

``--random musetalk`` builds MuseTalk-sized random weights instead (speed only: sync is
meaningless on noise); ``--device cpu --random tiny`` runs the whole script on a CPU, to
check the script itself. Without CUDA and without ``--device cpu`` it says so and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from _common import FACE, SPEECH, full_hd, make_variant, table


def _render(engine: Any, template: Path, out: Path, cache: Path) -> tuple[Path, float]:
    from rendering import audio, faces

    whisper = getattr(engine, "whisper_model", None)
    features = audio.analyse(
        SPEECH, cache_dir=cache, whisper_model=whisper, transcribe=whisper is None
    )
    track = faces.track(template, cache_dir=cache)
    result = engine.render(
        template=template, track=track, audio=features, audio_path=SPEECH, out_path=out
    )
    return out, result.frames / result.seconds


def _generator_fps(generator: Any, batch: int, repeat: int) -> float:
    import torch

    size = generator.config.crop_size
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    tokens = generator.config.window_frames * 5  # whisper-tiny: 4 blocks + the embedding
    context = rng.standard_normal((batch, tokens, generator.context_dim)).astype(np.float32)
    sync = torch.cuda.synchronize if generator.device.type == "cuda" else (lambda: None)
    for _ in range(2):  # warm-up (and compilation)
        generator(crops, context)
    sync()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        generator(crops, context)
        sync()
        times.append(time.perf_counter() - started)
    return batch / float(np.median(times))


def contact_sheet(videos: dict[str, Path], out: Path, *, count: int = 6) -> None:
    """One row per video, the same instants in each, cropped round the mouth."""
    from rendering import faces, media

    rows = []
    for label, video in videos.items():
        frames, fps = media.read_frames(video)
        track = faces.track_arrays(frames, fps=fps)
        picks = np.linspace(len(frames) * 0.1, len(frames) * 0.9, count).round().astype(int)
        tiles = []
        for i in picks:
            frame = frames[i]
            if track.present[i]:
                x0, y0, x1, y1 = track.boxes[i]
            else:
                x0, y0, x1, y1 = 0, 0, frame.shape[1], frame.shape[0]
            side = max(x1 - x0, y1 - y0) * 1.1
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.15 * side
            h, w = frame.shape[:2]
            a, b = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
            c, d = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
            tile = cv2.resize(frame[b:d, a:c], (200, 200), interpolation=cv2.INTER_AREA)
            cv2.rectangle(tile, (0, 0), (200, 20), (0, 0, 0), -1)
            cv2.putText(tile, f"{label} t={i / fps:.2f}s", (4, 14), cv2.FONT_HERSHEY_SIMPLEX,
                        0.42, (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
            tiles.append(tile)
        rows.append(np.hstack(tiles))
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=os.environ.get("NEURAL_MODEL_DIR"))
    parser.add_argument("--random", choices=("tiny", "musetalk"), default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=Path("neural-check"))
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--bbox-shift", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", default="1,2,4,8,16,32")
    parser.add_argument("--skip-1080p", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from rendering.engines import get_engine
    from rendering.neural.build import build_random_model
    from rendering.neural.generator import LatentInpainter
    from rendering.quality import measure_sync

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: the neural GPU check did not run")
        return 0
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "CPU"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = tmp / "cache"
        if args.random is not None:
            args.model_dir = build_random_model(tmp / "model", preset=args.random)
        if args.model_dir is None:
            print("set NEURAL_MODEL_DIR (or --model-dir), or pass --random, and run again")
            return 2
        weights = f"random {args.random}" if args.random else str(args.model_dir)
        print(f"neural check on {device_name}, weights: {weights}, bbox_shift {args.bbox_shift}")

        # 1. Sync and end-to-end speed, classic next to neural.
        templates = {"256px": FACE}
        if not args.skip_1080p:
            templates["1080p"] = make_variant(FACE, tmp / "face_1080p.mp4", full_hd)
        engines = {
            "classic": get_engine("classic"),
            "neural": get_engine(
                "neural",
                model_dir=str(args.model_dir),
                device=args.device,
                bbox_shift=args.bbox_shift,
            ),
        }
        rows, outputs = [], {}
        for label, template in templates.items():
            for name, engine in engines.items():
                out = args.out / f"{name}_{label}.mp4"
                video, fps = _render(engine, template, out, cache)
                report = measure_sync(video, SPEECH, template=template, cache_dir=cache)
                psnr = "-" if report.psnr_outside is None else f"{report.psnr_outside:.1f}"
                rows.append([label, name, report.corr_at_0, report.best_offset,
                             report.confidence, psnr, f"{fps:.1f}"])  # fmt: skip
                if label == "256px":
                    outputs[name] = video
        print()
        header = ["template", "engine", "corr@0", "best offset", "confidence"]
        print(table([*header, "PSNR out dB", "frames/s"], rows))
        print("targets (classic's): corr@0 >= 0.8, |best offset| <= 1, PSNR outside >= 40 dB")
        sheet = args.out / "contact_sheet.png"
        contact_sheet(outputs, sheet)
        print(f"contact sheet: {sheet}")
        del engines

        # 2. The generator alone, by batch size.
        batches = [int(b) for b in args.batches.split(",")]
        modes = [False, True] if args.compile and args.device.startswith("cuda") else [False]
        for compiled in modes:
            generator = LatentInpainter.load(args.model_dir, device=args.device, compile=compiled)
            dtype = str(generator.dtype).removeprefix("torch.")
            label = "torch.compile" if compiled else "eager"
            speed = [[b, f"{_generator_fps(generator, b, args.repeat):.1f}"] for b in batches]
            print(f"\ngenerator, {generator.config.crop_size} px crops, {dtype}, {label}")
            print(table(["batch", "frames/s"], speed))
            del generator
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
