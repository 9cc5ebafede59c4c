"""The neural engine's parts: model directory, audio windows, crops, the generator.

Importing this package does not import torch; the generator and the converters do, when
used. The engine itself is :class:`rendering.engines.neural.NeuralEngine`.
"""

from __future__ import annotations

from rendering.neural.features import frame_windows, positional_encoding, window_starts
from rendering.neural.layout import (
    CONFIG_NAME,
    NeuralConfig,
    load_config,
    model_dir_problem,
    whisper_checkpoint,
)

__all__ = [
    "CONFIG_NAME",
    "NeuralConfig",
    "frame_windows",
    "load_config",
    "model_dir_problem",
    "positional_encoding",
    "whisper_checkpoint",
    "window_starts",
]
