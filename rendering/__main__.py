"""Command line: ``python -m rendering --audio speech.wav --out outputs/ t1.mp4 t2.mp4``.

Renders one batch without Django: handy for trying templates and for the benchmarks.
Exit status 0 when every template rendered, 1 when any failed, 2 for bad arguments or
when the batch could not start (unreadable audio, unknown engine).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from rendering.errors import RenderingError


def _parser() -> argparse.ArgumentParser:
    from rendering.engines import known_engines

    parser = argparse.ArgumentParser(
        prog="python -m rendering",
        description="Lip-sync template videos to one audio file.",
    )
    parser.add_argument("--audio", type=Path, help="the driving audio file (required to render)")
    parser.add_argument("--out", type=Path, help="folder for output_NNN.mp4 (required to render)")
    parser.add_argument(
        "--engine",
        default="classic",
        choices=known_engines(),
        help="rendering engine (neural needs --model-dir)",
    )
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="the neural engine's model directory"
    )
    parser.add_argument(
        "--bbox-shift",
        type=int,
        default=0,
        help="neural only: MuseTalk's crop adjustment, pixels of a 256-px face box (-64..64)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="reuse audio analyses and face tracks"
    )
    parser.add_argument(
        "--face",
        type=int,
        default=None,
        metavar="N",
        help="which face speaks when a template shows several: N-th as --list-faces numbers them",
    )
    parser.add_argument(
        "--list-faces", action="store_true", help="list the faces in each template and stop"
    )
    parser.add_argument("templates", type=Path, nargs="+", help="template videos")
    return parser


class ProgressBar:
    """A one-line bar on a terminal (or one line per item when not a terminal)."""

    def __init__(self, total: int, names: list[str], stream: TextIO) -> None:
        self.total = total
        self.names = names
        self.stream = stream
        self.tty = stream.isatty()
        self.width = 30
        self._last: tuple[int, int] = (-1, -1)

    def __call__(self, index: int, fraction: float) -> None:
        filled = round(fraction * self.width)
        percent = int(fraction * 100)
        # On a terminal the bar redraws in place; in a log file, a line every quarter.
        step = percent if self.tty else percent // 25 * 25
        if (index, step) == self._last:
            return
        self._last = (index, step)
        name = self.names[index - 1]
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{index}/{self.total}] [{bar}] {percent:3d}%  {name}"
        if self.tty:
            columns = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + line[: columns - 1].ljust(columns - 1))
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    from rendering.pipeline import render_batch

    parser = _parser()
    args = parser.parse_args(argv)
    if args.list_faces:
        return _list_faces(args.templates)
    if args.audio is None or args.out is None:
        parser.error("the following arguments are required to render: --audio, --out")
    names = [t.name for t in args.templates]
    bar = ProgressBar(len(names), names, sys.stderr)
    started = time.perf_counter()
    try:
        result = render_batch(
            args.audio,
            list(args.templates),
            args.out,
            engine=args.engine,
            cache_dir=args.cache_dir,
            progress=bar,
            engine_options=(
                {"model_dir": args.model_dir, "bbox_shift": args.bbox_shift}
                if args.engine == "neural"
                else None
            ),
            face=args.face,
        )
    except RenderingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    rows = [("#", "template", "result", "seconds")]
    for item in result.items:
        outcome = str(item.output) if item.ok else f"FAILED: {item.error}"
        rows.append((str(item.index), item.template.name, outcome, f"{item.seconds:.1f}"))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3])
    done = len(result.items) - len(result.failed)
    elapsed = time.perf_counter() - started
    print(f"\n{done} of {len(result.items)} rendered in {elapsed:.1f} s")
    return 0 if result.ok else 1


def _list_faces(templates: list[Path]) -> int:
    from rendering import faces

    for template in templates:
        try:
            found = faces.list_faces(template)
        except RenderingError as exc:
            print(f"{template.name}: {exc.message}")
            continue
        print(f"{template.name}: {len(found)} face(s), best default speaker first")
        for number, face in enumerate(found, start=1):
            print(
                f"  {number}. at x {face.hint.x:.2f}, y {face.hint.y:.2f}, "
                f"{face.size:.0%} of the width, seen in {face.visible:.0%} of samples, "
                f"turned {face.turn:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
