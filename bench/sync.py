"""Sync quality of the classic engine on the fixtures, and a contact sheet.

Renders the fixture speech onto the fixture face through the CLI, then measures:
- against the driving audio: corr@0 (target >= 0.8), best offset (target |.| <= 1 frame),
  confidence, PSNR outside the lower face (target >= 40 dB);
- against the same audio delayed by 0.5 s: must score clearly worse.
With ``--contact-sheet PATH`` it also writes a grid of output frames labelled with time
and the audio's openness (docs/contact_sheet.png is made this way).

    .venv/bin/python bench/sync.py [--contact-sheet docs/contact_sheet.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import FACE, ROOT, SPEECH, table, write_wav


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contact-sheet", type=Path, default=None)
    args = parser.parse_args()

    from rendering import media
    from rendering.audio import analyse
    from rendering.quality import measure_sync

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cache = tmp / "cache"
        command = [sys.executable, "-m", "rendering", "--audio", str(SPEECH)]
        command += ["--out", str(tmp / "out"), "--cache-dir", str(cache), str(FACE)]
        subprocess.run(command, check=True, cwd=ROOT)
        video = tmp / "out" / "output_001.mp4"

        samples = media.read_audio(SPEECH)
        shifted = tmp / "shifted.wav"
        delay = np.zeros(8000, dtype=np.float32)
        write_wav(shifted, np.concatenate([delay, samples])[: len(samples)])

        synced = measure_sync(video, SPEECH, template=FACE, cache_dir=cache)
        late = measure_sync(video, shifted, cache_dir=cache)
        rows = [
            ["driving audio", synced.corr_at_0, synced.best_offset, synced.confidence,
             f"{synced.psnr_outside:.1f}"],
            ["audio shifted 0.5 s", late.corr_at_0, late.best_offset, late.confidence, "-"],
        ]  # fmt: skip
        print("\nsync of the classic engine on the fixtures (offsets in frames at 25 fps)\n")
        print(
            table(["measured against", "corr@0", "best offset", "confidence", "PSNR out dB"], rows)
        )
        print("\ntargets: corr@0 >= 0.8, |best offset| <= 1, PSNR outside >= 40 dB;")
        print("         the shifted audio scores clearly worse")
        if args.contact_sheet is not None:
            features = analyse(SPEECH, cache_dir=cache)
            contact_sheet(video, features, args.contact_sheet)
            print(f"\ncontact sheet written to {args.contact_sheet}")


def contact_sheet(video: Path, features: object, out: Path, *, count: int = 12) -> None:
    """A 4-column grid of frames around the mouth, labelled with time and openness."""
    from rendering import faces, media

    frames, fps = media.read_frames(video)
    controls = features.mouth_controls(fps, len(frames))  # type: ignore[attr-defined]
    track = faces.track_arrays(frames, fps=fps)
    # Pick frames across the speech, alternating closed and open moments when possible.
    picks = np.linspace(len(frames) * 0.08, len(frames) * 0.92, count).round().astype(int)
    tiles = []
    for i in picks:
        frame = frames[i]
        box = track.boxes[i] if track.present[i] else np.array([0, 0, *frame.shape[1::-1]])
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * 1.05
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.12 * side
        crop = _crop(frame, cx, cy, side)
        tile = cv2.resize(crop, (240, 240), interpolation=cv2.INTER_CUBIC)
        label = f"t={i / fps:4.2f}s  open={float(controls.openness[i]):.2f}"
        cv2.rectangle(tile, (0, 0), (240, 22), (0, 0, 0), -1)
        cv2.putText(tile, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (255, 255, 255), 1,
                    cv2.LINE_AA)  # fmt: skip
        tiles.append(tile)
    rows = [np.hstack(tiles[r : r + 4]) for r in range(0, len(tiles), 4)]
    sheet = np.vstack(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def _crop(frame: np.ndarray, cx: float, cy: float, side: float) -> np.ndarray:
    h, w = frame.shape[:2]
    half = side / 2
    x0, y0 = int(max(cx - half, 0)), int(max(cy - half, 0))
    x1, y1 = int(min(cx + half, w)), int(min(cy + half, h))
    return frame[y0:y1, x0:x1]


if __name__ == "__main__":
    main()
