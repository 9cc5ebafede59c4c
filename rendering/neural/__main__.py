"""``python -m rendering.neural``: prepare and check model directories (no downloads).

- ``convert <musetalk models dir> <out dir>``: MuseTalk 1.5's released files to our layout;
- ``random <out dir> [--preset tiny|musetalk] [--seed N]``: random weights in the real
  format (tests, benchmarks, trying the pipeline);
- ``check <model dir>``: says whether the engine can use the directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rendering.errors import RenderingError
from rendering.neural.build import build_random_model
from rendering.neural.convert import convert_musetalk
from rendering.neural.generator import LatentInpainter
from rendering.neural.layout import load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rendering.neural")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser("convert", help="convert MuseTalk 1.5's models/ folder")
    convert.add_argument("source", type=Path)
    convert.add_argument("target", type=Path)
    convert.add_argument("--crop-size", type=int, default=256)
    random = commands.add_parser("random", help="write a model directory with random weights")
    random.add_argument("target", type=Path)
    random.add_argument("--preset", choices=("tiny", "musetalk"), default="tiny")
    random.add_argument("--seed", type=int, default=0)
    check = commands.add_parser("check", help="check a model directory")
    check.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            out = convert_musetalk(args.source, args.target, crop_size=args.crop_size)
            print(f"wrote {out}; set NEURAL_MODEL_DIR={out.resolve()}")
        elif args.command == "random":
            out = build_random_model(args.target, preset=args.preset, seed=args.seed)
            print(f"wrote {out} (random weights, preset {args.preset})")
        else:
            LatentInpainter.load(args.model_dir, device="cpu")
            print(f"{args.model_dir}: usable ({load_config(args.model_dir)})")
    except RenderingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
