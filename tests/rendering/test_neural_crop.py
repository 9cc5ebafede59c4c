"""The neural engine's crop (MuseTalk 1.5's box) and paste-back (the lower face only).

The crop is measured on MediaPipe's canonical face (``canonical_face.py``): the expected
box is computed here straight from MuseTalk's rule on those vertices, independently of
:mod:`rendering.neural.crop`. The paste-back is checked pixel by pixel against the
lower-face polygon, on synthetic frames and through the engine on the fixture video.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from rendering import faces, media
from rendering.engines import get_engine
from rendering.engines.neural import NeuralEngine
from rendering.errors import RenderingError
from rendering.neural import build, crop
from rendering.neural.features import frame_windows
from rendering.neural.layout import load_config
from tests.rendering.canonical_face import CANONICAL_XY, canonical_landmarks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SIZE = 256
EYES = 100.0  # eye distance of the canonical face in pixels
CENTRE = (256.0, 200.0)


def musetalk_box(bbox_shift: float = 0.0) -> tuple[float, float, float, float]:
    """MuseTalk's (x1, y1, x2, y2) on the upright canonical face, in image pixels.

    Its 68-point stand-ins: the outline's widest points (mesh 234, 454) for x, the chin
    (152) for y2, point 29 two thirds of the way from the nasion (168) to the tip (1); the
    box's middle is point 29, and ``extra_margin`` adds 10 px of a 256-px box under it.
    """
    xy = CANONICAL_XY * np.array([1.0, -1.0])
    scale = EYES / float(np.hypot(*(xy[263] - xy[33])))
    xy = (xy - (xy[33] + xy[263]) / 2.0) * scale + np.array(CENTRE)
    y29 = xy[168, 1] + 2.0 / 3.0 * (xy[1, 1] - xy[168, 1])
    chin = xy[152, 1]
    y29 += bbox_shift / 256.0 * 2.0 * (chin - y29)  # bbox_shift: pixels of a 256-px box
    top = 2.0 * y29 - chin
    bottom = chin + 10.0 / 256.0 * (chin - top)
    return float(xy[234, 0]), float(top), float(xy[454, 0]), float(bottom)


def canonical(**kwargs: float) -> np.ndarray:
    options = {"eye_distance": EYES, "centre": CENTRE, **kwargs}
    return canonical_landmarks(faces.MESH_IDS, **options)  # type: ignore[arg-type]


def crop_rows(box: crop.FaceBox, points: np.ndarray) -> np.ndarray:
    """Crop coordinates of image points, in MuseTalk's convention (row 0 = the top edge)."""
    return box.to_crop(points) + 0.5


# --- the crop ---------------------------------------------------------------------------------


def test_it_cuts_musetalks_box_from_the_canonical_face() -> None:
    landmarks = canonical()
    box = crop.CropGeometry(size=SIZE).box(landmarks)
    x1, y1, x2, y2 = musetalk_box()
    matrix = box.affine()
    corners = np.array([[-0.5, -0.5], [SIZE - 0.5, SIZE - 0.5]]) @ matrix[:, :2].T + matrix[:, 2]
    assert corners[0] == pytest.approx([x1, y1], abs=0.01)
    assert corners[1] == pytest.approx([x2, y2], abs=0.01)
    # x and y are scaled apart: the face's box is taller than wide, the crop is square.
    sx, sy = np.hypot(*matrix[:, 0]), np.hypot(*matrix[:, 1])
    assert sy / sx == pytest.approx((y2 - y1) / (x2 - x1), rel=1e-6) and sy / sx > 1.2

    rows = crop_rows(box, landmarks)
    mouth = crop_rows(box, faces.mouth_centre(landmarks)[None])[0]
    expected_mouth = ((landmarks[faces.K_MOUTH_L, 1] + landmarks[faces.K_MOUTH_R, 1]) / 2 - y1) / (
        y2 - y1
    )
    # The mouth sits where MuseTalk's does: row ~182 of 256 (the square crop had it at ~155).
    assert mouth[1] == pytest.approx(expected_mouth * SIZE, abs=0.01)
    assert 175 < mouth[1] < 190 and mouth[0] == pytest.approx(SIZE / 2, abs=0.5)
    # The jaw outline spans the width; the chin is 10 px of 256 above the bottom edge.
    assert rows[faces.K_JAW, 0].min() == pytest.approx(0, abs=0.01)
    assert rows[faces.K_JAW, 0].max() == pytest.approx(SIZE, abs=0.01)
    assert rows[faces.K_CHIN, 1] == pytest.approx(SIZE / (1 + 10 / 256), abs=0.01)
    # The mask line (row 128) falls on the nose bridge: the nose base is regenerated.
    assert rows[faces.K_NOSE_TIP, 1] > SIZE / 2 and rows[faces.K_NOSE_BASE, 1] > SIZE / 2
    bridge = crop_rows(box, landmarks[[faces.MESH_IDS.index(168)]])[0, 1]
    assert bridge < SIZE / 2 - 40


def test_it_gives_the_same_crop_for_a_rolled_moved_and_scaled_head() -> None:
    geometry = crop.CropGeometry(size=SIZE)
    upright = canonical()
    expected = geometry.box(upright).to_crop(upright)
    for roll, eyes, centre in [(15.0, 60.0, (300.0, 220.0)), (-25.0, 180.0, (640.0, 360.0))]:
        moved = canonical_landmarks(
            faces.MESH_IDS, eye_distance=eyes, centre=centre, roll_degrees=roll
        )
        assert np.abs(geometry.box(moved).to_crop(moved) - expected).max() < 1e-3


def test_bbox_shift_moves_the_nose_bridge_point_as_musetalks_does() -> None:
    landmarks = canonical()
    plain = crop.CropGeometry(size=SIZE).box(landmarks)
    for shift in (-12.0, 12.0):
        box = crop.CropGeometry(size=SIZE, bbox_shift=shift).box(landmarks)
        x1, y1, x2, y2 = musetalk_box(shift)
        matrix = box.affine()
        corners = np.array([[-0.5, -0.5], [SIZE - 0.5, SIZE - 0.5]])
        image = corners @ matrix[:, :2].T + matrix[:, 2]
        assert image[0] == pytest.approx([x1, y1], abs=0.01)
        assert image[1] == pytest.approx([x2, y2], abs=0.01)
        # Positive: the top comes down by twice the shift, the chin stays put.
        moved = (box.top - plain.top) * box.frame.scale
        landmark_height = (plain.bottom - plain.top) / (1 + 10 / 256) * plain.frame.scale
        assert moved == pytest.approx(2 * shift / 256 * landmark_height, rel=1e-6)


def test_it_refuses_landmarks_that_are_not_a_face() -> None:
    landmarks = canonical()
    flipped = landmarks.copy()
    flipped[:, 1] = 2 * CENTRE[1] - flipped[:, 1]  # mirrored: the chin above the nose
    with pytest.raises(ValueError):
        crop.CropGeometry(size=SIZE).box(flipped)


# --- the paste-back -----------------------------------------------------------------------------


def inside_polygon(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centres lie strictly inside the polygon (cv2.pointPolygonTest)."""
    contour = polygon.astype(np.float32).reshape(-1, 1, 2)
    height, width = shape
    inside = np.zeros(shape, dtype=bool)
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int)
    for y in range(max(y0, 0), min(y1 + 1, height)):
        for x in range(max(x0, 0), min(x1 + 1, width)):
            inside[y, x] = cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0
    return inside


def test_the_paste_back_changes_only_the_lower_face() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (400, 512, 3), dtype=np.uint8)
    landmarks = canonical()
    box = crop.CropGeometry(size=SIZE).box(landmarks)
    # A generated crop whose pixels say where they came from: red = column, green = row.
    u, v = np.meshgrid(np.arange(SIZE), np.arange(SIZE))
    generated = np.stack([u, v, np.full_like(u, 128)], axis=2).astype(np.uint8)
    region = crop.lower_face_region(landmarks, box)
    feather = crop.feather_px(box)

    pasted = crop.paste(frame, generated, box.affine(), region, feather=feather)

    changed = np.any(pasted != frame, axis=2)
    inside = inside_polygon(region, frame.shape[:2])
    assert not (changed & ~inside).any()  # nothing outside the polygon, byte for byte
    assert changed[inside].mean() > 0.95  # and nearly everything inside it
    # The region is the lower face: from under the nose, inside the jaw, to the crop's bottom.
    rows = crop_rows(box, region)
    nose = crop_rows(box, landmarks[[faces.K_NOSE_BASE]])[0, 1]
    assert nose < rows[:, 1].min() < nose + 6
    assert rows[:, 1].max() == pytest.approx(SIZE, abs=0.01)
    assert 5 < rows[:, 0].min() < 16 and SIZE - 16 < rows[:, 0].max() < SIZE - 5
    # Deeper inside than the fade, the generated crop comes through whole, in its place
    # (up to one colour shift for the whole frame, the seam's colour match).
    contour = region.reshape(-1, 1, 2)
    deep = [
        (x, y)
        for y, x in np.argwhere(inside)
        if cv2.pointPolygonTest(contour, (float(x), float(y)), True) > feather + 2
    ]
    assert len(deep) > 0.5 * inside.sum()
    where = np.array(deep, dtype=np.float64)
    expected = np.column_stack([box.to_crop(where), np.full(len(where), 128.0)])
    got = pasted[where[:, 1].astype(int), where[:, 0].astype(int)].astype(np.float64)
    offset = got - expected
    assert np.abs(offset - np.median(offset, axis=0)).max() <= 1.0
    assert np.abs(np.median(offset, axis=0)).max() <= 40  # the colour match's limit


def test_the_paste_back_matches_colours_in_the_fade_band() -> None:
    frame = np.full((400, 512, 3), 120, dtype=np.uint8)
    landmarks = canonical()
    box = crop.CropGeometry(size=SIZE).box(landmarks)
    region = crop.lower_face_region(landmarks, box)
    brighter = np.full((SIZE, SIZE, 3), 150, dtype=np.uint8)  # a uniform 30-level cast
    pasted = crop.paste(frame, brighter, box.affine(), region, feather=crop.feather_px(box))
    assert np.array_equal(pasted, frame)  # the cast is taken out, so nothing shows


# --- through the engine -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> NeuralEngine:
    model = build.build_random_model(tmp_path_factory.mktemp("neural") / "model", seed=0)
    built = get_engine("neural", model_dir=str(model), device="cpu", bbox_shift=0)
    assert isinstance(built, NeuralEngine)
    return built


def test_the_engine_paints_only_inside_each_frames_lower_face(engine: NeuralEngine) -> None:
    track = faces.track(FIXTURES / "face.mp4", cache_dir=None)
    frames, _ = media.read_frames(FIXTURES / "face.mp4", fps=25)
    frames = frames[:3]
    points = [track.landmarks[k] for k in range(3)]
    layers = np.random.default_rng(0).standard_normal((40, 2, 32)).astype(np.float32)
    tokens = frame_windows(layers, 25.0, np.arange(3), left=2, right=2)

    painted = engine.render_frames(list(frames), list(points), tokens)

    for k in range(3):
        box = engine.geometry.box(points[k])
        region = crop.lower_face_region(points[k], box)
        inside = inside_polygon(region, frames[k].shape[:2])
        changed = np.any(painted[k] != frames[k], axis=2)
        assert changed.any() and not (changed & ~inside).any()
        # The crop reaches beyond the polygon (neck under the chin, cheeks beside the jaw):
        # those pixels went through the VAE too, and are not pasted.
        covered = np.zeros(frames[k].shape[:2], dtype=np.uint8)
        side = engine.config.crop_size  # the tiny model's crops are 64 px
        quad = np.array([[0, side / 2], [side, side / 2], [side, side], [0, side]]) - 0.5
        matrix = box.affine()
        image_quad = quad @ matrix[:, :2].T + matrix[:, 2]
        cv2.fillPoly(covered, [np.round(image_quad).astype(np.int32)], (1,))
        assert (covered.astype(bool) & ~inside).sum() > 0.15 * covered.sum()


def test_the_bbox_shift_option_is_checked_and_used(engine: NeuralEngine, tmp_path: Path) -> None:
    assert engine.geometry.bbox_shift == 0.0
    assert engine.geometry.bottom_margin == 10 / 256
    with pytest.raises(RenderingError, match="bbox_shift must lie between -64 and 64"):
        get_engine("neural", model_dir=str(engine.model_dir), device="cpu", bbox_shift=65)
    shifted = get_engine("neural", model_dir=str(engine.model_dir), device="cpu", bbox_shift=-8)
    assert isinstance(shifted, NeuralEngine) and shifted.geometry.bbox_shift == -8.0


def test_an_old_heygem_json_with_chin_margin_still_loads(tmp_path: Path) -> None:
    (tmp_path / "heygem.json").write_text(json.dumps({"crop_size": 64, "chin_margin": 0.25}))
    config = load_config(tmp_path)
    assert config.crop_size == 64 and config.bottom_margin == 10 / 256
    (tmp_path / "heygem.json").write_text(json.dumps({"bottom_margin": 0.9}))
    with pytest.raises(RenderingError, match="bottom_margin"):
        load_config(tmp_path)
