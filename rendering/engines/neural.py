"""The neural engine: Whisper features + single-step latent inpainting of the lower face.

Built once per process (the worker keeps it), it loads the VAE and UNet from a local model
directory (see :mod:`rendering.neural.layout`) and renders templates in batches of frames:

1. Output length follows the audio (ping-pong over the template when it is longer).
2. The audio's Whisper layers (computed once per batch by ``rendering.audio.analyse`` with
   the directory's checkpoint, ``engine.whisper_model``) become per-frame token windows.
3. Per chunk of ``batch_size`` frames: a face-aligned crop of each frame with a face
   (geometry from the cached face track), the generator repaints the lower half, the
   colours are matched and the crop is pasted back through a soft mask; frames without a
   face pass through untouched.
4. Frames are written with the driving audio; progress and cancel are checked per chunk.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rendering.engines.base import (
    CancelCheck,
    Engine,
    ProgressCallback,
    RenderResult,
)
from rendering.errors import RenderCanceled, RenderingError

if TYPE_CHECKING:
    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack
    from rendering.neural.crop import CropGeometry

log = logging.getLogger(__name__)


class NeuralEngine(Engine):
    """Options: ``model_dir`` (required), ``device`` ("auto", "cpu", "cuda", "cuda:1"),
    ``batch_size`` (frames per generator call; default 16 on CUDA, 4 on the CPU),
    ``compile`` (``torch.compile`` on CUDA), ``crf`` and ``preset`` for the encoder."""

    name = "neural"

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        compile: bool = False,
        crf: int = 18,
        preset: str = "veryfast",
    ) -> None:
        from rendering import media
        from rendering.neural.generator import LatentInpainter
        from rendering.neural.layout import model_dir_problem, whisper_checkpoint

        problem = model_dir_problem(model_dir)
        if problem is not None or model_dir is None:
            raise RenderingError(problem or "", detail=str(model_dir), code="neural_not_configured")
        self.model_dir = Path(model_dir)
        self.generator = LatentInpainter.load(self.model_dir, device=device, compile=compile)
        self.config = self.generator.config
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
        from rendering import audio as audio_analysis
        from rendering import media

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

    def geometry(self, track: FaceTrack) -> CropGeometry:
        from rendering.neural.crop import CropGeometry

        return CropGeometry.from_track(
            track,
            size=self.config.crop_size,
            mask_top=self.config.mask_top,
            chin_margin=self.config.chin_margin,
        )

    def render_frames(
        self,
        frames: list[np.ndarray],
        landmarks: list[np.ndarray | None],
        tokens: np.ndarray,
        geometry: CropGeometry,
        reference: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """Repaint the lower face of each frame that has landmarks (one generator call).

        ``tokens`` holds one row of audio tokens per frame; ``reference`` is a crop used as
        every frame's reference, or None for "the frame itself". Frames without landmarks
        come back as they are. New arrays are returned; the inputs are not modified.
        """
        from rendering.neural import crop as crops_mod

        out = list(frames)
        todo = [k for k, points in enumerate(landmarks) if points is not None]
        if not todo:
            return out
        size = self.config.crop_size
        matrices = [geometry.affine(landmarks[k]) for k in todo]  # type: ignore[arg-type]
        cut = np.stack(
            [crops_mod.extract(frames[k], m, size) for k, m in zip(todo, matrices, strict=True)]
        )
        refs = None if reference is None else np.repeat(reference[None], len(todo), axis=0)
        generated = self.generator(
            cut, tokens[todo], refs, pad_to=self.batch_size if self.pad else None
        )
        weight = geometry.mask()
        for n, (k, matrix) in enumerate(zip(todo, matrices, strict=True)):
            matched = crops_mod.colour_match(generated[n], cut[n], weight)
            out[k] = crops_mod.paste(frames[k], matched, matrix, weight)
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
    ) -> RenderResult:
        """Write the lip-synced template to ``out_path`` (see the module docstring)."""
        from rendering.engines.playback import finished, template_output
        from rendering.neural.features import frame_windows

        started = time.perf_counter()
        template, out_path = Path(template), Path(out_path)
        layers = self.audio_layers(audio, Path(audio_path))
        geometry = self.geometry(track)
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
        ) as out:
            reference = self._reference(out.frames, track, geometry)
            for start in range(0, out.n_out, self.batch_size):
                if should_cancel is not None and should_cancel():
                    raise RenderCanceled()
                if progress is not None:
                    progress(start / out.n_out)
                indices = np.arange(start, min(start + self.batch_size, out.n_out))
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
                for frame in self.render_frames(chunk, points, tokens, geometry, reference):
                    out.writer.write(frame)
        return finished(out, out_path, started, progress)

    def _reference(
        self, frames: Any, track: FaceTrack, geometry: CropGeometry
    ) -> np.ndarray | None:
        """The crop of the template frame with the most closed mouth, for "closed"."""
        if self.config.reference != "closed":
            return None
        from rendering.neural.crop import extract

        gaps = track.lip_gaps()
        gaps[~track.present] = np.inf
        index = int(np.argmin(gaps))
        frame, _ = frames.get(min(index, frames.available - 1))
        return extract(frame, geometry.affine(track.landmarks[index]), self.config.crop_size)
