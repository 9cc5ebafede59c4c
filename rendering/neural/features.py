"""Whisper features per video frame: the audio context the UNet's cross-attention reads.

Whisper's encoder gives 50 states per second, each a stack of every layer's output
(``AudioFeatures.whisper_layers``, T x (L + 1) x D). Video frame ``k`` at ``fps`` covers
``[k / fps, (k + 1) / fps)``; it gets ``W = 2 * (left + right + 1)`` consecutive states
centred on the middle of that interval, every layer of each, flattened into ``W * (L + 1)``
tokens of size D. At 25 fps with left = right = 2 this is exactly MuseTalk's window
(states ``2k - 4 .. 2k + 5``); at other rates the window stays centred on the frame, so
audio and picture stay in sync at 24, 29.97 or 60 fps. States before the start or past
the end of the audio are zeros, as MuseTalk pads them.
"""

from __future__ import annotations

import math

import numpy as np

WHISPER_RATE = 50.0  # encoder states per second


def window_starts(frame_indices: np.ndarray, fps: float, window: int) -> np.ndarray:
    """Index of the first Whisper state in each frame's window (may be negative)."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    centres = (np.asarray(frame_indices, dtype=np.float64) + 0.5) * (WHISPER_RATE / fps)
    # floor(x + 0.5) rather than np.round: banker's rounding would shift every other frame.
    return np.floor(centres - window / 2 + 0.5).astype(np.int64)


def frame_windows(
    layers: np.ndarray, fps: float, frame_indices: np.ndarray, *, left: int, right: int
) -> np.ndarray:
    """Audio tokens for the given video frames: (len(frame_indices), W * (L + 1), D) float32.

    Only the requested frames are gathered, so a long render never holds every frame's
    window at once (10 min at 25 fps would be over a gigabyte for whisper-tiny).
    """
    if layers.ndim != 3:
        raise ValueError(f"expected whisper layers of shape (T, L, D), got {layers.shape}")
    window = 2 * (left + right + 1)
    n_states, n_layers, dim = layers.shape
    starts = window_starts(np.asarray(frame_indices), fps, window)
    index = starts[:, None] + np.arange(window)[None, :]
    valid = (index >= 0) & (index < n_states)
    gathered = layers[np.clip(index, 0, max(n_states - 1, 0))].astype(np.float32)
    gathered[~valid] = 0.0
    return gathered.reshape(len(starts), window * n_layers, dim)


def positional_encoding(length: int, dim: int) -> np.ndarray:
    """The sinusoidal code MuseTalk adds to its audio tokens (sin on even, cos on odd)."""
    position = np.arange(length, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, dim, 2, dtype=np.float64) * (-math.log(10000.0) / dim))
    code = np.zeros((length, dim), dtype=np.float64)
    code[:, 0::2] = np.sin(position * div)
    code[:, 1::2] = np.cos(position * div)[:, : dim // 2]
    return code.astype(np.float32)
