"""Burned-in captions: a second pass over the finished video against drawing them in the
engine's one encode (``overlay``). Fixture face and speech, classic engine, best of 2.

    .venv/bin/python bench/captions.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import FACE, SPEECH, full_hd, make_variant, table, upscale


def main() -> None:
    from rendering import faces
    from rendering.audio import analyse
    from rendering.captions import CaptionPainter, burn_captions
    from rendering.engines import get_engine
    from rendering.subtitles import Cue

    cues = [Cue(0.2, 2.4, ("大家好，今天我们介绍",)), Cue(2.4, 4.6, ("a new camera",))]
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cache = tmp / "cache"
        features = analyse(SPEECH, cache_dir=cache)
        engine = get_engine("classic", cache_dir=cache)
        sizes = {"256x256": FACE, "512x512": make_variant(FACE, tmp / "512.mp4", upscale(512)),
                 "1920x1080": make_variant(FACE, tmp / "hd.mp4", full_hd)}  # fmt: skip
        for size, template in sizes.items():
            track = faces.track(template, cache_dir=cache)
            painter = CaptionPainter(cues, track.width, track.height)
            two, one = [], []
            for _ in range(2):
                started = time.perf_counter()
                out = tmp / "two.mp4"
                engine.render(template=template, track=track, audio=features,
                              audio_path=SPEECH, out_path=out)  # fmt: skip
                burn_captions(out, out, cues, audio_path=SPEECH)
                two.append(time.perf_counter() - started)
                started = time.perf_counter()
                engine.render(template=template, track=track, audio=features, audio_path=SPEECH,
                              out_path=tmp / "one.mp4", overlay=painter.frame_function(track.fps))  # fmt: skip
                one.append(time.perf_counter() - started)
            rows.append([size, f"{min(two):.2f}", f"{min(one):.2f}", f"{min(two) - min(one):.2f}",
                         f"{min(one) / min(two):.2f}"])  # fmt: skip
    print("\nrender + captions, 4.8 s of speech (seconds, best of 2)\n")
    print(table(["size", "second pass", "same encode", "saved", "ratio"], rows))


if __name__ == "__main__":
    main()
