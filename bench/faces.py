"""Templates the classic engine was NOT tuned on, made from photos the project may ship.

    .venv/bin/python bench/faces.py [out_dir]       # writes the templates (default var/bench-faces)

Sources, both public domain and shipped inside packages we install:
- scikit-image's astronaut photo (Eileen Collins, NASA): smiling, teeth showing;
- matplotlib's sample photo of Grace Hopper (US Navy): closed mouth, uniform, older face.

The templates (H.264, 25 fps):
- ``hopper``: 512x512, Hopper with gentle head motion (another face);
- ``turned``: the astronaut turning her head (a perspective yaw sweep out to ~50 degrees
  and back), so the engine must fade its edit out and in;
- ``phone``: 720x1280 portrait, Hopper small and tilted 14 degrees (a phone clip);
- ``two_faces``: 1280x720, both people side by side, Hopper larger;
- ``leaves``: the astronaut leaving the picture and coming back;
- ``talking``: the astronaut with a mouth that moves (made by the old warp-and-paint
  engine from the fixture speech), for a template whose own mouth is not at rest;
- ``turnedNN_astronaut`` / ``turnedNN_hopper``: both faces turned in 3D by 15, 25, 35 and
  45 degrees (warped along the face mesh; the pose fit reads about 0.7-0.8 of the angle
  applied, the warp's depth being an estimate);
- ``phone_handheld``: 720x1280, the astronaut small and shaking in the hand, crf 28;
- ``group_of_six``: 1280x720, six people in two rows (eye distances 42-65 px).

    .venv/bin/python bench/faces.py --real CLIP DEGREES [out_dir]   # default var/turned-real

turns a real clip's speaker in 3D (4 s, frame by frame along each frame's mesh), for
looking at a real, speaking face turned further than the shared clips are; not committed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from _common import ROOT, SPEECH  # type: ignore[import-not-found]

FPS = 25
ASTRONAUT_FACE = (224.0, 113.0, 210.0)  # centre x, y and the side that frames the face
HOPPER_FACE = (250.0, 230.0, 300.0)


def astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())


def hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.imread(str(path))
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def _motion(t: float) -> tuple[float, float, float, float]:
    return (
        3.0 * math.sin(2 * math.pi * t / 2.3),
        1.0 + 0.04 * math.sin(2 * math.pi * t / 1.7 + 0.5),
        5.0 * math.sin(2 * math.pi * t / 2.9),
        3.0 * math.sin(2 * math.pi * t / 1.9 + 1.0),
    )


def framed(
    photo: np.ndarray,
    face: tuple[float, float, float],
    t: float,
    size: tuple[int, int],
    *,
    roll: float = 0.0,
    face_share: float = 1.0,
    centre: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """The photo moved gently, the face ``face_share`` of the frame's width."""
    angle, scale, dx, dy = _motion(t)
    w, h = size
    zoom = scale * face_share * w / face[2]
    matrix = cv2.getRotationMatrix2D(face[:2], angle + roll, zoom)
    matrix[0, 2] += centre[0] * w + dx - face[0]
    matrix[1, 2] += centre[1] * h + dy - face[1]
    return np.asarray(
        cv2.warpAffine(photo, matrix, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    )


def yawed(image: np.ndarray, amount: float) -> np.ndarray:
    """A perspective turn of the picture about its vertical axis (0 = none, 1 ~ 60 degrees)."""
    h, w = image.shape[:2]
    squeeze = 0.5 * amount
    near, far = 0.08 * amount * h, -0.08 * amount * h
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32(
        [
            [w * squeeze * 0.5, -far],
            [w * (1 - squeeze * 0.5), -near],
            [w * (1 - squeeze * 0.5), h + near],
            [w * squeeze * 0.5, h + far],
        ]
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    return np.asarray(cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT))


def encode(path: Path, frames: Callable[[int], np.ndarray], n: int, *, crf: int = 20) -> Path:
    first = frames(0)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for index in range(n):
            frame = av.VideoFrame.from_ndarray(first if index == 0 else frames(index), "rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_all(out: Path, seconds: float = 6.0) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    a, g = astronaut(), hopper()
    n = round(seconds * FPS)
    made: dict[str, Path] = {}

    made["hopper"] = encode(
        out / "hopper.mp4", lambda i: framed(g, HOPPER_FACE, i / FPS, (512, 512), face_share=0.8), n
    )

    def turned(i: int) -> np.ndarray:
        amount = max(0.0, math.sin(math.pi * i / (n - 1))) * 1.1
        return yawed(framed(a, ASTRONAUT_FACE, i / FPS, (512, 512)), amount)

    made["turned"] = encode(out / "turned.mp4", turned, n)
    made["phone"] = encode(
        out / "phone.mp4",
        lambda i: framed(
            g, HOPPER_FACE, i / FPS, (720, 1280), roll=14.0, face_share=0.55, centre=(0.5, 0.38)
        ),
        n,
        crf=26,
    )

    def two(i: int) -> np.ndarray:
        left = framed(g, HOPPER_FACE, i / FPS, (640, 720), face_share=0.85)
        right = framed(a, ASTRONAUT_FACE, i / FPS + 0.7, (640, 720), face_share=0.6)
        return np.hstack([left, right])

    made["two_faces"] = encode(out / "two_faces.mp4", two, n)

    def leaves(i: int) -> np.ndarray:
        t = i / (n - 1)
        away = max(0.0, math.sin(math.pi * (t - 0.3) / 0.4)) if 0.3 < t < 0.7 else 0.0
        return framed(a, ASTRONAUT_FACE, i / FPS, (512, 512), centre=(0.5 + 1.2 * away, 0.5))

    made["leaves"] = encode(out / "leaves.mp4", leaves, n)
    made["talking"] = _talking(out, a, n)
    made.update(make_more(out, seconds))
    return made


def make_more(out: Path, seconds: float = 6.0) -> dict[str, Path]:
    """Heads turned in 3D by 15, 25, 35 and 45 degrees (the photo warped along its face
    mesh: tests/rendering/turned_faces.py), a hand-held phone recording and a group of six."""
    from tests.rendering.turned_faces import group_of_six, mesh_with_depth, turn_head

    out.mkdir(parents=True, exist_ok=True)
    a, g = astronaut(), hopper()
    n = round(seconds * FPS)
    made: dict[str, Path] = {}
    for degrees in (15, 25, 35, 45):
        for name, photo, face in (("astronaut", a, ASTRONAUT_FACE), ("hopper", g, HOPPER_FACE)):
            base = [framed(photo, face, i / FPS, (512, 512)) for i in range(n)]
            mesh = mesh_with_depth(base[0])
            made[f"turned{degrees}_{name}"] = encode(
                out / f"turned{degrees}_{name}.mp4",
                lambda i, base=base, mesh=mesh, degrees=degrees: turn_head(base[i], degrees, mesh),
                n,
            )

    def handheld(i: int) -> np.ndarray:
        # A phone held in the hand: the picture shakes a few pixels a frame, small face.
        shake = (
            6.0 * math.sin(2 * math.pi * i / 7.3) + 3.0 * math.sin(2 * math.pi * i / 2.9),
            5.0 * math.sin(2 * math.pi * i / 5.1 + 1.0),
        )
        frame = framed(a, ASTRONAUT_FACE, i / FPS, (720, 1280), face_share=0.45, centre=(0.5, 0.33))
        matrix = np.float32([[1, 0, shake[0]], [0, 1, shake[1]]])
        return np.asarray(cv2.warpAffine(frame, matrix, (720, 1280), borderMode=cv2.BORDER_REFLECT))

    made["phone_handheld"] = encode(out / "phone_handheld.mp4", handheld, n, crf=28)
    group = group_of_six()
    made["group_of_six"] = encode(
        out / "group_of_six.mp4", lambda i: np.roll(group, round(3 * math.sin(i / 5)), axis=1), n
    )
    return made


def make_turned_real(out: Path, clip: Path, degrees: float, seconds: float = 4.0) -> Path:
    """A real clip's speaker turned ``degrees`` in 3D, frame by frame along that frame's
    own face mesh: a real face, moving and speaking, turned further than any clip of the
    shared folder is (they stay within about 20 degrees). Not for committing: made from
    third-party footage, under ``out``."""
    from rendering import media
    from tests.rendering.turned_faces import turn_head

    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for index, frame in enumerate(media.iter_frames(clip, fps=FPS)):
        if index >= round(seconds * FPS):
            break
        try:
            frames.append(turn_head(frame, degrees))
        except ValueError:  # no face in this frame: as it is
            frames.append(frame)
    name = f"turned{degrees:g}_{clip.stem}"
    return encode(out / f"{name}.mp4", lambda i: frames[i], len(frames))


def _talking(out: Path, photo: np.ndarray, n: int) -> Path:
    """The astronaut speaking the fixture speech, by the old warp-and-paint engine."""
    from rendering import audio as audio_mod
    from rendering import faces
    from rendering.engines.classic import ClassicEngine

    still = encode(
        out / ".still.mp4", lambda i: framed(photo, ASTRONAUT_FACE, i / FPS, (512, 512)), n
    )
    track = faces.track(still, cache_dir=None)
    features = audio_mod.analyse(SPEECH, cache_dir=None)
    target = out / "talking.mp4"
    ClassicEngine(library=False, crf=16).render(
        template=still, track=track, audio=features, audio_path=SPEECH, out_path=target
    )
    still.unlink()
    return target


if __name__ == "__main__":
    if sys.argv[1:2] == ["--real"]:  # --real CLIP DEGREES [out_dir]
        where = Path(sys.argv[4]) if len(sys.argv) > 4 else ROOT / "var" / "turned-real"
        print(make_turned_real(where, Path(sys.argv[2]), float(sys.argv[3])))
        sys.exit()
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var" / "bench-faces"
    for name, path in make_all(where).items():
        print(f"{name:10s} {path}")
