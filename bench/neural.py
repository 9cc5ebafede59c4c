"""Neural engine speed: generator frames per second by batch size, and one end-to-end render.

CPU (always): the tiny preset (64 px crops, the model the CI tests use) for batch sizes
1..16, then a whole render of the fixture face to the fixture speech through the engine.
CUDA (when present): MuseTalk 1.5's sizes (UNet 320/640/1280/1280 with 384-wide
cross-attention, 8 in / 4 out, 32x32 latents; sd-vae-ft-mse; 256 px crops; 50 audio tokens
of whisper-tiny's width) with random weights, fp16, batch sizes 1..32; ``--compile`` adds
the same under ``torch.compile``. Prints "no CUDA device" when there is none.

    .venv/bin/python bench/neural.py [--compile] [--repeat N]

Each figure is the median of ``--repeat`` timed calls after two warm-up calls; a call
includes moving the crops to the device and the uint8 frames back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import FACE, SPEECH, table


def _generator(preset: str, device: str, compile: bool) -> Any:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from rendering.neural import build
    from rendering.neural.generator import LatentInpainter
    from rendering.neural.layout import NeuralConfig

    torch.manual_seed(0)
    if preset == "musetalk":
        config = NeuralConfig(crop_size=256)
        vae, unet = AutoencoderKL(**build.SD_VAE), UNet2DConditionModel(**build.MUSETALK_UNET)
    else:
        config = NeuralConfig(crop_size=64)
        vae = AutoencoderKL(**build.tiny_vae_config(64))
        unet = UNet2DConditionModel(**build.tiny_unet_config(32, 64))
    return LatentInpainter(vae, unet, config, device=device, compile=compile)


def _fps(generator: Any, batch: int, repeat: int, tokens: int = 50) -> float:
    import torch

    size = generator.config.crop_size
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    context = rng.standard_normal((batch, tokens, generator.context_dim)).astype(np.float32)
    sync = torch.cuda.synchronize if generator.device.type == "cuda" else (lambda: None)
    for _ in range(2):
        generator(crops, context)
    sync()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        generator(crops, context)
        sync()
        times.append(time.perf_counter() - started)
    return batch / statistics.median(times)


def cpu_section(repeat: int) -> None:
    import torch

    print(f"CPU ({torch.get_num_threads()} threads), tiny preset, 64 px crops, fp32")
    generator = _generator("tiny", "cpu", compile=False)
    rows = [[str(b), f"{_fps(generator, b, repeat, tokens=20):.1f}"] for b in (1, 2, 4, 8, 16)]
    print(table(["batch", "generator frames/s"], rows))

    from rendering import audio, faces
    from rendering.engines import get_engine
    from rendering.neural.build import build_random_model

    with tempfile.TemporaryDirectory() as tmp:
        model = build_random_model(Path(tmp) / "model", preset="tiny")
        engine: Any = get_engine("neural", model_dir=str(model), device="cpu", batch_size=8)
        features = audio.analyse(
            SPEECH, cache_dir=Path(tmp), whisper_model=engine.whisper_model, transcribe=False
        )
        track = faces.track(FACE, cache_dir=Path(tmp))
        result = engine.render(
            template=FACE,
            track=track,
            audio=features,
            audio_path=SPEECH,
            out_path=Path(tmp) / "out.mp4",
        )
    print(
        f"end to end (256x256 template, {result.frames} frames, batch 8): "
        f"{result.frames / result.seconds:.1f} frames/s, "
        f"{result.seconds / result.duration:.2f} s of compute per s of video"
    )


def cuda_section(repeat: int, compile: bool) -> None:
    import torch

    if not torch.cuda.is_available():
        print("CUDA: no CUDA device")
        return
    name = torch.cuda.get_device_name(0)
    modes = [False, True] if compile else [False]
    for compiled in modes:
        label = "torch.compile" if compiled else "eager"
        print(f"CUDA {name}, MuseTalk-sized UNet + sd VAE, 256 px crops, fp16, {label}")
        generator = _generator("musetalk", "cuda", compile=compiled)
        rows = []
        for batch in (1, 2, 4, 8, 16, 32):
            rows.append([str(batch), f"{_fps(generator, batch, repeat):.1f}"])
        print(table(["batch", "generator frames/s"], rows))
        del generator
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (CUDA)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_cpu:
        cpu_section(args.repeat)
    cuda_section(args.repeat, args.compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
