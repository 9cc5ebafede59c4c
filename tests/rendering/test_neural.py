"""The neural engine on a tiny random model directory in the real format, on the CPU.

The model directory is written by ``rendering.neural.build`` (diffusers ``save_pretrained``
for the VAE and UNet, ``torch.save`` of ``{"dims", "model_state_dict"}`` for Whisper) and
loaded through the same ``get_engine("neural", model_dir=...)`` path the worker uses.
Random weights paint noise into the lower face, which is what lets these tests see exactly
where the engine painted and where it did not.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from rendering import audio, faces, media
from rendering.engines import available_engines, engine_problem, get_engine
from rendering.engines.neural import NeuralEngine
from rendering.errors import RenderingError
from rendering.neural import build
from rendering.neural.features import frame_windows, window_starts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECONDS = 1.2  # 30 frames at 25 fps: enough to loop nothing and stay fast


def short_speech(path: Path, seconds: float = SECONDS) -> Path:
    """The first ``seconds`` of the fixture speech (it starts speaking at 0.3 s)."""
    samples = media.read_audio(FIXTURES / "speech.wav")[: int(seconds * 16000)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build.build_random_model(tmp_path_factory.mktemp("neural") / "model", seed=0)


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> NeuralEngine:
    built = get_engine("neural", model_dir=str(model_dir), device="cpu")
    assert isinstance(built, NeuralEngine)
    return built


@pytest.fixture(scope="module")
def track() -> faces.FaceTrack:
    return faces.track(FIXTURES / "face.mp4", cache_dir=None)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_speech(tmp_path_factory.mktemp("speech") / "short.wav")


@pytest.fixture(scope="module")
def features(speech: Path, engine: NeuralEngine) -> audio.AudioFeatures:
    return audio.analyse(
        speech, cache_dir=None, whisper_model=engine.whisper_model, transcribe=False
    )


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def mask_line_rows(engine: NeuralEngine, track: faces.FaceTrack, index: int) -> int:
    """Image rows strictly above this are above the crop's mask line in frame ``index``."""
    geometry = engine.geometry
    matrix = geometry.affine(track.landmarks[index])
    line = geometry.mask_top * geometry.size
    ends = np.array([[0, line], [geometry.size, line]]) @ matrix[:, :2].T + matrix[:, 2]
    return int(np.floor(ends[:, 1].min())) - 1


# --- the model directory --------------------------------------------------------------------


def test_it_offers_the_engine_only_with_a_complete_model_dir(
    model_dir: Path, tmp_path: Path
) -> None:
    assert available_engines() == ["classic"]
    assert available_engines(lambda name: {"model_dir": str(model_dir)}) == ["classic", "neural"]
    problem = engine_problem("neural", {})
    assert problem is not None and "NEURAL_MODEL_DIR" in problem and problem.endswith(".")
    with pytest.raises(RenderingError, match="NEURAL_MODEL_DIR"):
        get_engine("neural")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "heygem.json").write_text(json.dumps({"crop_size": 64}))
    problem = engine_problem("neural", {"model_dir": str(empty)})
    assert problem is not None and "Whisper" in problem and str(empty) not in problem
    (empty / "heygem.json").write_text(json.dumps({"crop_size": 60}))
    with pytest.raises(RenderingError, match="multiple of 8"):
        get_engine("neural", model_dir=str(empty))


def test_it_loads_the_layout_it_documents(model_dir: Path, engine: NeuralEngine) -> None:
    names = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())
    assert names == [
        "heygem.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "whisper/tiny.pt",
    ]
    assert engine.whisper_model == model_dir / "whisper" / "tiny.pt"
    assert engine.generator.dtype == torch.float32 and engine.generator.device.type == "cpu"
    assert int(engine.generator.unet.config.in_channels) == 8


# --- audio features -------------------------------------------------------------------------


def test_it_computes_whisper_layers_once_with_the_features(
    speech: Path, engine: NeuralEngine, features: audio.AudioFeatures, tmp_path: Path
) -> None:
    layers = features.whisper_layers
    assert layers is not None and features.whisper_features is not None
    assert layers.shape == (60, 2, 32)  # 1.2 s at 50/s, embedding + 1 block, D = 32
    assert features.words is None  # transcribe=False: the engine needs only the encoder
    assert np.allclose(layers[:, -1].astype(np.float32), features.whisper_features, atol=1e-2)
    runs = audio.ANALYSIS_RUNS
    first = audio.analyse(
        speech, cache_dir=tmp_path, whisper_model=engine.whisper_model, transcribe=False
    )
    again = audio.analyse(
        speech, cache_dir=tmp_path, whisper_model=engine.whisper_model, transcribe=False
    )
    assert runs + 1 == audio.ANALYSIS_RUNS
    assert again.whisper_layers is not None and first.whisper_layers is not None
    assert np.array_equal(again.whisper_layers, first.whisper_layers)


def test_it_windows_the_features_per_video_frame() -> None:
    layers = np.arange(40 * 2 * 3, dtype=np.float32).reshape(40, 2, 3) + 1.0
    tokens = frame_windows(layers, 25.0, np.arange(20), left=2, right=2)
    assert tokens.shape == (20, 10 * 2, 3)
    # MuseTalk at 25 fps: frame k reads states 2k - 4 .. 2k + 5 (zeros before the start).
    assert np.array_equal(tokens[5].reshape(10, 2, 3), layers[6:16])
    assert np.array_equal(tokens[0].reshape(10, 2, 3)[:4], np.zeros((4, 2, 3)))
    assert np.array_equal(tokens[0].reshape(10, 2, 3)[4:], layers[0:6])
    assert np.array_equal(tokens[19].reshape(10, 2, 3)[:6], layers[34:40])
    assert not tokens[19].reshape(10, 2, 3)[6:].any()  # past the end: zeros
    # At any frame rate the window stays centred on the frame's middle.
    for fps in (24.0, 30.0, 60.0):
        starts = window_starts(np.arange(50), fps, 10)
        centres = starts + 5
        expected = (np.arange(50) + 0.5) * 50 / fps
        assert np.abs(centres - expected).max() <= 0.5


# --- rendering ------------------------------------------------------------------------------


def test_it_renders_the_fixture_video_end_to_end(
    engine: NeuralEngine,
    track: faces.FaceTrack,
    features: audio.AudioFeatures,
    speech: Path,
    tmp_path: Path,
) -> None:
    template = FIXTURES / "face.mp4"
    out = tmp_path / "render" / "out.mp4"
    fractions: list[float] = []
    result = engine.render(
        template=template,
        track=track,
        audio=features,
        audio_path=speech,
        out_path=out,
        progress=fractions.append,
    )
    expected_frames = round(SECONDS * 25)
    assert result.frames == expected_frames and result.path == out
    info = media.probe(out)
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height) == (track.width, track.height)
    assert info.video.frame_count == expected_frames
    assert info.audio.duration == pytest.approx(SECONDS, abs=0.05)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert [p.name for p in out.parent.iterdir()] == ["out.mp4"]  # no partial files

    rendered, _ = media.read_frames(out, fps=25)
    original, _ = media.read_frames(template, fps=25)
    assert rendered[0].shape == (track.height, track.width, 3)
    above, below = [], []
    for k in range(expected_frames):
        rows = mask_line_rows(engine, track, k)
        above.append(psnr(rendered[k][:rows], original[k][:rows]))
        lower = slice(rows + 20, rows + 60)
        below.append(psnr(rendered[k][lower], original[k][lower]))
    # Above the mask: only the encoder's generation loss; below: random weights' noise.
    assert min(above) > 38.0
    assert max(below) < 30.0


def test_it_leaves_the_upper_face_exactly_untouched_and_is_deterministic(
    engine: NeuralEngine,
    track: faces.FaceTrack,
    features: audio.AudioFeatures,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    frames, _ = media.read_frames(FIXTURES / "face.mp4", fps=25)
    frames = frames[:4]
    before = [f.copy() for f in frames]
    points = [track.landmarks[k] for k in range(4)]
    assert features.whisper_layers is not None
    tokens = frame_windows(features.whisper_layers, 25.0, np.arange(4), left=2, right=2)

    painted = engine.render_frames(frames, list(points), tokens)
    for k in range(4):
        assert np.array_equal(frames[k], before[k])  # inputs are not modified
        rows = mask_line_rows(engine, track, k)
        assert np.array_equal(painted[k][:rows], frames[k][:rows])
        assert not np.array_equal(painted[k], frames[k])
    # A frame without a face passes through as it is.
    untouched = engine.render_frames(frames[:1], [None], tokens[:1])
    assert untouched[0] is frames[0]

    # Same seed: the same weights, byte for byte, and the same frames.
    again_dir = build.build_random_model(tmp_path / "again", seed=0)
    for part in ("unet", "vae"):
        name = f"{part}/diffusion_pytorch_model.safetensors"
        assert (again_dir / name).read_bytes() == (model_dir / name).read_bytes()
    again = get_engine("neural", model_dir=str(again_dir), device="cpu")
    assert isinstance(again, NeuralEngine)
    repeat = again.render_frames(frames, list(points), tokens)
    assert all(np.array_equal(a, b) for a, b in zip(painted, repeat, strict=True))
    # Another seed paints something else.
    other = get_engine(
        "neural", model_dir=str(build.build_random_model(tmp_path / "other", seed=1))
    )
    assert isinstance(other, NeuralEngine)
    different = other.render_frames(frames, list(points), tokens)
    assert not np.array_equal(different[0], painted[0])
