"""Classic engine speed against the floor: a plain transcode at the same encoder settings.

For each template size (the 256x256 fixture, 512x512 and 1920x1080 made from it), in one
run: track the face (once; cached for real renders), transcode the template, render it with
the fixture speech cut to the template's length (same frame count), then render the full
speech (the template ping-pongs). Prints wall times, render/transcode ratio, fps and the
real-time factor (wall time / audio duration; below 1 is faster than real time).
Targets: render / transcode <= 1.5 at 512x512 and <= 1.3 at 1920x1080 (the new engine, mouth libraries cached).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import FACE, SPEECH, full_hd, make_variant, table, upscale, write_wav

REPEATS = 3


def main() -> None:
    from rendering import faces, media, mouths
    from rendering.audio import analyse
    from rendering.engines import get_engine

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # The worker analyses a template's mouths once (with its face track) and keeps them
        # in the cache; the timed renders below reuse them as every later batch would.
        engine = get_engine("classic", cache_dir=tmp / "cache")
        templates = {
            "256x256": FACE,
            "512x512": make_variant(FACE, tmp / "t512.mp4", upscale(512)),
            "1920x1080": make_variant(FACE, tmp / "t1080.mp4", full_hd),
        }
        samples = media.read_audio(SPEECH)
        for label, template in templates.items():
            info = media.probe_video(template)
            assert info.video is not None
            same_length = tmp / f"speech-{label}.wav"
            write_wav(same_length, samples[: round(info.video.duration * 16000)])
            started = time.perf_counter()
            track = faces.track(template, cache_dir=tmp / "cache")
            mouths.analyse(template, track, cache_dir=tmp / "cache")
            track_s = time.perf_counter() - started

            # The machine is shared: take the best of REPEATS for both, interleaved.
            transcode_s = render_s = float("inf")
            features = analyse(same_length, cache_dir=tmp / "cache")
            for _ in range(REPEATS):
                started = time.perf_counter()
                media.transcode(template, tmp / "plain.mp4", crf=engine.crf, preset=engine.preset)
                transcode_s = min(transcode_s, time.perf_counter() - started)
                short = engine.render(
                    template=template,
                    track=track,
                    audio=features,
                    audio_path=same_length,
                    out_path=tmp / "same-length.mp4",
                )
                render_s = min(render_s, short.seconds)

            full = engine.render(
                template=template,
                track=track,
                audio=analyse(SPEECH, cache_dir=tmp / "cache"),
                audio_path=SPEECH,
                out_path=tmp / "full.mp4",
            )
            rows.append(
                [
                    label,
                    info.video.frame_count,
                    track_s,
                    transcode_s,
                    render_s,
                    render_s / transcode_s,
                    full.frames,
                    full.frames / full.seconds,
                    full.seconds / full.duration,
                ]
            )
    print(
        f"classic engine vs plain transcode (crf {engine.crf}, {engine.preset}; same frames;"
        f" best of {REPEATS})\n"
    )
    header = [
        "template",
        "frames",
        "track s",
        "transcode s",
        "render s",
        "render/transcode",
        "full frames",
        "render fps",
        "RTF",
    ]
    print(table(header, rows))
    print(
        "\ntargets: render/transcode <= 1.5 at 512x512, <= 1.3 at 1920x1080 (the encoder is the floor)"
    )


if __name__ == "__main__":
    main()
