"""The neural engine: Whisper features + single-step latent inpainting of the lower face.

Built once per process (the worker keeps it), it loads the VAE and UNet from a local model
directory (see :mod:`rendering.neural.layout`) and renders templates in batches of frames:

1. Output length follows the audio (ping-pong over the template when it is longer).
2. The audio's Whisper layers (computed once per batch by ``rendering.audio.analyse`` with
   the directory's checkpoint, ``engine.whisper_model``) become per-frame token windows.
3. Per chunk of ``batch_size`` frames: MuseTalk's crop box of each frame with a face
   (from the cached face track's landmarks, see :mod:`rendering.neural.crop`), the
   generator repaints its lower half, and the result is pasted back inside the lower-face
   polygon only, feathered inwards with matched colours; frames without a face pass
   through untouched.
4. Frames are written with the driving audio; progress and cancel are checked per chunk.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rendering import audio as audio_analysis
from rendering import media
from rendering.engines.base import (
    CancelCheck,
    Engine,
    FrameOverlay,
    ProgressCallback,
    RenderResult,
)
from rendering.engines.playback import finished, template_output
from rendering.errors import RenderCanceled, RenderingError
from rendering.neural import crop as crops
from rendering.neural.crop import BBOX_SHIFT_LIMIT, CropGeometry
from rendering.neural.features import frame_windows
from rendering.neural.generator import LatentInpainter
from rendering.neural.layout import model_dir_problem, whisper_checkpoint

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack

log = logging.getLogger(__name__)


class NeuralEngine(Engine):
    """Options: ``model_dir`` (required), ``device`` ("auto", "cpu", "cuda", "cuda:1"),
    ``batch_size`` (frames per generator call; default 16 on CUDA, 4 on the CPU),
    ``compile`` (``torch.compile`` on CUDA), ``bbox_shift`` (MuseTalk's crop adjustment,
    pixels of a 256-px box, -64..64: positive moves the crop's top down and opens the
    mouth more), ``crf`` and ``preset`` for the encoder."""

    name = "neural"

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        compile: bool = False,
        bbox_shift: int = 0,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        problem = model_dir_problem(model_dir)
        if problem is not None or model_dir is None:
            raise RenderingError(problem or "", detail=str(model_dir), code="neural_not_configured")
        if not -BBOX_SHIFT_LIMIT <= bbox_shift <= BBOX_SHIFT_LIMIT:
            raise RenderingError(
                f"The neural engine's bbox_shift must lie between -{BBOX_SHIFT_LIMIT} and "
                f"{BBOX_SHIFT_LIMIT} (pixels of a 256-pixel face box). Set NEURAL_BBOX_SHIFT "
                "to a value in that range; 0 is MuseTalk's default.",
                detail=f"bbox_shift={bbox_shift}",
                code="neural_bbox_shift",
                params={"limit": BBOX_SHIFT_LIMIT},
            )
        self.model_dir = Path(model_dir)
        self.generator = LatentInpainter.load(self.model_dir, device=device, compile=compile)
        self.config = self.generator.config
        self.geometry = CropGeometry(
            size=self.config.crop_size,
            mask_top=self.config.mask_top,
            bottom_margin=self.config.bottom_margin,
            bbox_shift=float(bbox_shift),
        )
        self.whisper_model: Path = whisper_checkpoint(self.model_dir)
        self.whisper_hash = media.file_sha256(self.whisper_model)
        on_gpu = self.generator.device.type == "cuda"
        self.batch_size = int(batch_size or (16 if on_gpu else 4))
        # A compiled graph wants one batch shape; on the CPU padding would only cost time.
        self.pad = on_gpu and compile
        self.crf = crf
        self.preset = preset

    # --- audio -----------------------------------------------------------------------------

    def audio_layers(self, audio: AudioFeatures, audio_path: Path) -> np.ndarray:
        """The Whisper layers of this model's checkpoint for the audio (T x L x D).

        Normally they come with ``audio`` (analysed once per batch with
        ``whisper_model=engine.whisper_model``); features made without them, or with another
        checkpoint, are recomputed here, once per render, with a warning in the log.
        """
        if audio.whisper_layers is not None and audio.whisper_model == self.whisper_hash:
            return audio.whisper_layers
        log.warning("audio features lack this model's Whisper layers; computing them per render")
        samples = media.read_audio(Path(audio_path), sample_rate=audio_analysis.SAMPLE_RATE)
        fresh = audio_analysis.analyse_samples(
            samples, whisper_model=self.whisper_model, transcribe=False
        )
        assert fresh.whisper_layers is not None
        return fresh.whisper_layers

    # --- frames ----------------------------------------------------------------------------

    def render_frames(
        self,
        frames: list[np.ndarray],
        landmarks: list[np.ndarray | None],
        tokens: np.ndarray,
        reference: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """Repaint the lower face of each frame that has landmarks (one generator call).

        ``tokens`` holds one row of audio tokens per frame; ``reference`` is a crop used as
        every frame's reference, or None for "the frame itself". Frames without landmarks
        (or whose landmarks give no crop box) come back as they are. New arrays are
        returned; the inputs are not modified.
        """
        out = list(frames)
        boxes: dict[int, crops.FaceBox] = {}
        for k, points in enumerate(landmarks):
            if points is None:
                continue
            try:
                boxes[k] = self.geometry.box(points)
            except ValueError:
                log.debug("frame %d: landmarks give no crop box; left as it is", k)
        if not boxes:
            return out
        todo = list(boxes)
        size = self.config.crop_size
        matrices = [boxes[k].affine() for k in todo]
        cut = np.stack(
            [crops.extract(frames[k], m, size) for k, m in zip(todo, matrices, strict=True)]
        )
        refs = None if reference is None else np.repeat(reference[None], len(todo), axis=0)
        generated = self.generator(
            cut, tokens[todo], refs, pad_to=self.batch_size if self.pad else None
        )
        for n, (k, matrix) in enumerate(zip(todo, matrices, strict=True)):
            points = landmarks[k]
            assert points is not None
            try:
                region = crops.lower_face_region(points, boxes[k])
            except ValueError:
                continue
            out[k] = crops.paste(
                frames[k], generated[n], matrix, region, feather=crops.feather_px(boxes[k])
            )
        return out

    def render(
        self,
        *,
        template: Path,
        track: FaceTrack,
        audio: AudioFeatures,
        audio_path: Path,
        out_path: Path,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        overlay: FrameOverlay | None = None,
        frame_range: tuple[int, int] | None = None,
    ) -> RenderResult:
        """Write the lip-synced template to ``out_path`` (see the module docstring); with
        ``frame_range``, only those output frames (each frame depends on its own audio
        window only, so a segment equals the same frames of the whole)."""
        started = time.perf_counter()
        template, out_path = Path(template), Path(out_path)
        layers = self.audio_layers(audio, Path(audio_path))
        with template_output(
            template=template,
            track=track,
            audio=audio,
            audio_path=audio_path,
            out_path=out_path,
            crf=self.crf,
            preset=self.preset,
            # The "closed" reference picks a template frame by index: keep them all.
            keep=self.config.reference == "closed",
            overlay=overlay,
            frame_range=frame_range,
        ) as out:
            reference = self._reference(out.frames, track)
            span = out.indices
            for start in range(span.start, span.stop, self.batch_size):
                if should_cancel is not None and should_cancel():
                    raise RenderCanceled()
                if progress is not None:
                    progress(out.fraction(start))
                indices = np.arange(start, min(start + self.batch_size, span.stop))
                chunk: list[np.ndarray] = []
                points: list[np.ndarray | None] = []
                for j in indices:
                    i = out.template_index(int(j))
                    frame, _ = out.frames.get(i)
                    chunk.append(frame)
                    ti = min(i, track.n_frames - 1)
                    points.append(track.landmarks[ti] if track.present[ti] else None)
                tokens = frame_windows(
                    layers,
                    out.fps,
                    indices,
                    left=self.config.window_left,
                    right=self.config.window_right,
                )
                for frame in self.render_frames(chunk, points, tokens, reference):
                    out.writer.write(frame)
        return finished(out, out_path, started, progress)

    def _reference(self, frames: Any, track: FaceTrack) -> np.ndarray | None:
        """The crop of the template frame with the most closed mouth, for "closed"."""
        if self.config.reference != "closed":
            return None
        gaps = track.lip_gaps()
        gaps[~track.present] = np.inf
        index = int(np.argmin(gaps))
        frame, _ = frames.get(min(index, frames.available - 1))
        matrix = self.geometry.affine(track.landmarks[index])
        return crops.extract(frame, matrix, self.config.crop_size)
