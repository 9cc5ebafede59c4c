"""Real photos of faces turned in 3D by a known angle, for tests and benches.

The face mesh gives each of its 468 points a depth; rotating those points about the
vertical axis through the face and warping the photo triangle by triangle (far triangles
first, so the near cheek hides the far one) turns the head as a camera would see it, not
as a flat picture would tilt. The background outside a ring around the face stays put.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Where the face is in each photo: centre x, centre y and the side of a square framing it.
PHOTO_FACES = {"astronaut": (224.0, 113.0, 210.0), "hopper": (250.0, 230.0, 300.0)}


def photo(name: str) -> np.ndarray:
    """A public-domain photo shipped inside a package we install (RGB uint8):
    scikit-image's astronaut (Eileen Collins, NASA) or matplotlib's Grace Hopper (US Navy)."""
    if name == "astronaut":
        from skimage import data

        return np.asarray(data.astronaut())
    from pathlib import Path

    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


def framed_photo(
    name: str,
    size: tuple[int, int] = (512, 512),
    *,
    face_share: float = 1.0,
    centre: tuple[float, float] = (0.5, 0.5),
    shift: tuple[float, float] = (0.0, 0.0),
    border: int = cv2.BORDER_REFLECT,
) -> np.ndarray:
    """The photo scaled so its face frame is ``face_share`` of the width, centred at
    ``centre`` (fractions) plus ``shift`` pixels."""
    x, y, side = PHOTO_FACES[name]
    width, height = size
    zoom = face_share * width / side
    matrix = np.array(
        [
            [zoom, 0.0, centre[0] * width + shift[0] - zoom * x],
            [0.0, zoom, centre[1] * height + shift[1] - zoom * y],
        ]
    )
    return np.asarray(
        cv2.warpAffine(
            photo(name), matrix, (width, height), flags=cv2.INTER_AREA, borderMode=border
        )
    )


def group_of_six(size: tuple[int, int] = (1280, 720), face_share: float = 0.35) -> np.ndarray:
    """Six people in two rows of three (the two photos, alternating), on a plain wall."""
    width, height = size
    tile_w, tile_h = width // 3, height // 2
    canvas = np.full((height, width, 3), 96, np.uint8)
    for k in range(6):
        row, col = divmod(k, 3)
        canvas[row * tile_h : (row + 1) * tile_h, col * tile_w : (col + 1) * tile_w] = framed_photo(
            ("astronaut", "hopper")[k % 2],
            (tile_w, tile_h),
            face_share=face_share,
            border=cv2.BORDER_REPLICATE,
        )
    return canvas


def mesh_with_depth(image: np.ndarray) -> np.ndarray:
    """(468, 3) pixel coordinates (x, y, depth; smaller depth is nearer) of the largest face."""
    from rendering import faces

    height, width = image.shape[:2]
    with faces._STATIC_LOCK:
        result = faces._static_mesh().process(np.ascontiguousarray(image))
    found = result.multi_face_landmarks or []
    if not found:
        raise ValueError("no face in the photo")
    meshes = [
        np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark], np.float64)
        for face in found
    ]
    return max(meshes, key=lambda m: float(np.ptp(m[:, 0]) * np.ptp(m[:, 1])))


def turn_head(image: np.ndarray, degrees: float, mesh: np.ndarray | None = None) -> np.ndarray:
    """The photo with its face turned ``degrees`` about the vertical axis (> 0: the nose
    goes to the image's right)."""
    mesh = mesh_with_depth(image) if mesh is None else mesh
    mesh = _true_depth(mesh)
    height, width = image.shape[:2]
    angle = math.radians(degrees)
    centre = mesh.mean(axis=0)
    # The head turns about an axis behind the face (the neck), about 0.6 face widths deep.
    axis_depth = centre[2] + 0.6 * float(np.ptp(mesh[:, 0]))
    x, z = mesh[:, 0] - centre[0], mesh[:, 2] - axis_depth
    moved = mesh.copy()
    moved[:, 0] = centre[0] + x * math.cos(angle) - z * math.sin(angle)
    moved[:, 2] = axis_depth + x * math.sin(angle) + z * math.cos(angle)
    # A fixed ring around the face and the frame's border keep the background in place.
    radius = 0.75 * max(float(np.ptp(mesh[:, 0])), float(np.ptp(mesh[:, 1])))
    ring = np.array(
        [
            (centre[0] + 1.3 * radius * math.cos(a), centre[1] + 1.3 * radius * math.sin(a))
            for a in np.linspace(0, 2 * math.pi, 24, endpoint=False)
        ]
    )
    border = np.array(
        [(0, 0), (width - 1, 0), (width - 1, height - 1), (0, height - 1)], dtype=np.float64
    )
    fixed = np.vstack([ring, border])
    src = np.vstack([mesh[:, :2], fixed])
    dst = np.vstack([moved[:, :2], fixed])
    depth = np.concatenate([moved[:, 2], np.full(len(fixed), moved[:, 2].max() + 1.0)])
    triangles = _triangles(src, width, height)
    out = image.copy()
    # Far triangles first: the near side of the face is drawn over the hidden far side.
    order = sorted(triangles, key=lambda t: -float(depth[list(t)].mean()))
    for tri in order:
        _warp_triangle(image, out, src[list(tri)], dst[list(tri)])
    return out


def _true_depth(mesh: np.ndarray) -> np.ndarray:
    """The mesh with its depth scaled to the canonical face's depth-to-width ratio (the
    mesh's own depth is flatter), so a turn by N degrees looks like one to the pose fit."""
    from rendering import face_model
    from rendering.faces import MESH_IDS

    model = face_model.model_points(MESH_IDS)
    ids = list(MESH_IDS)
    wanted = float(np.ptp(model[:, 2]) / np.ptp(model[:, 0]))
    seen = float(np.ptp(mesh[ids, 2]) / np.ptp(mesh[ids, 0]))
    out = mesh.copy()
    out[:, 2] = mesh[:, 2] * (wanted / max(seen, 1e-6))
    return out


def _triangles(points: np.ndarray, width: int, height: int) -> list[tuple[int, int, int]]:
    subdiv = cv2.Subdiv2D((-1, -1, width + 2, height + 2))
    lookup = {}
    for index, (px, py) in enumerate(points):
        px, py = float(np.clip(px, 0, width - 1)), float(np.clip(py, 0, height - 1))
        lookup[(round(px, 3), round(py, 3))] = index
        subdiv.insert((px, py))
    out = []
    for tri in subdiv.getTriangleList():
        corners = [(round(float(tri[k]), 3), round(float(tri[k + 1]), 3)) for k in (0, 2, 4)]
        if all(c in lookup for c in corners):
            out.append(tuple(lookup[c] for c in corners))
    return out  # type: ignore[return-value]


def _warp_triangle(
    src_img: np.ndarray, dst_img: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> None:
    height, width = dst_img.shape[:2]
    x0, y0 = np.floor(dst.min(axis=0)).astype(int)
    x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return
    matrix = cv2.getAffineTransform(
        src.astype(np.float32), (dst - np.array([x0, y0])).astype(np.float32)
    )
    patch = cv2.warpAffine(
        src_img, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(dst - np.array([x0, y0])).astype(np.int32), 1)
    region = dst_img[y0:y1, x0:x1]
    region[mask > 0] = patch[mask > 0]
