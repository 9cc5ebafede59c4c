"""Command line: ``python -m rendering --audio speech.wav --out outputs/ t1.mp4 t2.mp4``.

Renders one batch without Django: handy for trying templates and for the benchmarks.
``--subtitles`` also writes ``subtitles.srt`` / ``subtitles.vtt`` (``--language``,
``--script FILE``); ``--captions [bottom|middle|top]`` burns them into every video;
``--quality`` measures every result as the worker does (``rendering.recipe.measure``).
Exit status 0 when every template rendered, 1 when any failed, 2 for bad arguments or
when the batch could not start (unreadable audio, unknown engine).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from rendering.captions import POSITIONS, SIZES, CaptionStyle
from rendering.engines import ENGINES, known_engines
from rendering.errors import RenderingError
from rendering.transcription import (
    DEFAULT_MODEL_DIR,
    LANGUAGES,
    Transcriber,
    TranscriptionError,
)


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--word-shapes",
        action="store_true",
        help="classic engine with --loudness-mouth: blend the words' visemes into the loudness "
        "(see docs/rendering-engine.md for what it measures)",
    )
    parser.add_argument(
        "--loudness-mouth",
        action="store_true",
        help="classic engine: open the mouth with the loudness (the previous behaviour) instead "
        "of from the sounds of the words (which transcribes the audio when a model is there)",
    )
    parser.add_argument(
        "--quality",
        action="store_true",
        help="measure every result as the worker does (lip sync, share of frames edited)",
    )
    words = parser.add_argument_group(
        "words", "transcribe the audio once (faster-whisper) for subtitles and captions"
    )
    words.add_argument(
        "--subtitles",
        action="store_true",
        help="write subtitles.srt and subtitles.vtt into the output folder",
    )
    words.add_argument(
        "--captions",
        nargs="?",
        const="bottom",
        choices=POSITIONS,
        default=None,
        help="burn the subtitles into every video (position; default bottom)",
    )
    words.add_argument(
        "--caption-size", default="medium", choices=tuple(SIZES), help="caption text size"
    )
    words.add_argument(
        "--language",
        default="auto",
        choices=tuple(LANGUAGES),
        help="the speech's language (default: detected)",
    )
    words.add_argument(
        "--script",
        type=Path,
        default=None,
        metavar="FILE",
        help="UTF-8 text of what is said: subtitles use its words, timed to the audio",
    )
    words.add_argument(
        "--whisper-model-dir",
        type=Path,
        default=None,
        help="faster-whisper model directory (default: $WHISPER_MODEL_DIR, else the "
        "base model scripts/bootstrap.sh assembles)",
    )
    words.add_argument(
        "--cpu-threads", type=int, default=2, help="CPU threads for transcription (default 2)"
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
    # rendering.pipeline loads PyAV and OpenCV: kept out of CLI start-up (--help, bad arguments).
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
        engine_options = _engine_options(args)
        words = _word_options(args, engine_options)
        result = render_batch(
            args.audio,
            list(args.templates),
            args.out,
            engine=args.engine,
            cache_dir=args.cache_dir,
            progress=bar,
            engine_options=engine_options,
            face=args.face,
            quality=args.quality,
            **words,
        )
    except RenderingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if result.transcript is not None:
        transcript = result.transcript
        how = "detected" if transcript.detected else "chosen"
        print(f"\ntranscript ({transcript.language}, {how}): {transcript.text}")
    for path in result.subtitles:
        print(f"subtitles: {path}")
    rows = [("#", "template", "result", "seconds")]
    for item in result.items:
        outcome = str(item.output) if item.ok else f"FAILED: {item.error}"
        rows.append((str(item.index), item.template.name, outcome, f"{item.seconds:.1f}"))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3])
    if args.quality:
        _print_quality(result.items)
    done = len(result.items) - len(result.failed)
    elapsed = time.perf_counter() - started
    print(f"\n{done} of {len(result.items)} rendered in {elapsed:.1f} s")
    return 0 if result.ok else 1


def _print_quality(items: list[Any]) -> None:
    """Each result's measure (``rendering.quality``): sync, face edited, reasons to review."""
    print()
    for item in items:
        if not item.ok:
            continue
        report = item.quality
        if report is None:
            print(f"{item.index}. quality not measured")
            continue
        sync = report.get("sync")
        sync_text = f"{sync:.2f}" if isinstance(sync, float) else "not measured"
        line = f"{item.index}. sync {sync_text}, face edited in {report['coverage']:.0%} of frames"
        if report.get("review"):
            line += ", review: " + ", ".join(str(r) for r in report.get("reasons") or [])
        print(line)


def _list_faces(templates: list[Path]) -> int:
    # rendering.faces loads PyAV and OpenCV: kept out of CLI start-up (--help, bad arguments).
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
                f"turned {face.turn:.0f} degrees"
            )
    return 0


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The engine's options from the flags: each engine's record (rendering.engines.ENGINES)
    names its class, which takes its own of them."""
    flags = {
        "model_dir": args.model_dir,
        "bbox_shift": args.bbox_shift,
        "words": args.word_shapes,
        "articulation": not args.loudness_mouth,
    }
    return ENGINES[args.engine].accepted(flags)


def _word_options(args: argparse.Namespace, engine_options: dict[str, Any]) -> dict[str, Any]:
    """render_batch's transcription options from the flags (none unless words are wanted)."""
    wanted = bool(args.subtitles or args.captions or args.script or args.word_shapes)
    # An engine whose mouth follows the words' sounds (articulation) needs the transcript,
    # but renders without one (loudness) when no Whisper model is installed.
    mouth = bool(engine_options.get("articulation"))
    if not (wanted or mouth):
        return {}
    model_dir = args.whisper_model_dir or os.environ.get("WHISPER_MODEL_DIR") or DEFAULT_MODEL_DIR
    transcriber = Transcriber(model_dir, cpu_threads=args.cpu_threads)
    if transcriber.problem is not None:
        if not wanted:
            return {}
        raise TranscriptionError(transcriber.problem, code="transcripts_off")
    script = None
    if args.script is not None:
        try:
            script = args.script.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderingError(
                "The script file cannot be read. Give a UTF-8 text file.", detail=str(exc)
            ) from exc
    return {
        "transcriber": transcriber,
        "language": args.language,
        "script": script,
        "subtitles": args.subtitles,
        "captions": (
            CaptionStyle(position=args.captions, size=args.caption_size) if args.captions else None
        ),
    }


if __name__ == "__main__":
    sys.exit(main())
