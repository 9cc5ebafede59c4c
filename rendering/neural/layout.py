"""The neural engine's model directory: what it holds and what ``heygem.json`` says.

::

    <model dir>/
      heygem.json               crop size, mask, audio window, where the Whisper checkpoint is
      vae/config.json           diffusers AutoencoderKL (e.g. stabilityai/sd-vae-ft-mse as is)
      vae/diffusion_pytorch_model.safetensors (or .bin)
      unet/config.json          diffusers UNet2DConditionModel, 8 latent channels in, 4 out
      unet/diffusion_pytorch_model.safetensors (or .bin)
      whisper/tiny.pt           openai-whisper checkpoint {"dims": ..., "model_state_dict": ...}

Reading the layout needs no torch: the web process asks :func:`model_dir_problem` whether
to offer the engine without loading anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rendering.errors import RenderingError

CONFIG_NAME = "heygem.json"
FORMAT = "heygem-neural-1"
# Keys older converters wrote that no longer mean anything: read and dropped.
_RETIRED_KEYS = ("chin_margin",)
_WEIGHT_NAMES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


@dataclass(frozen=True)
class NeuralConfig:
    """What ``heygem.json`` holds (defaults: MuseTalk 1.5's inference settings).

    - ``crop_size``: side of the crop the VAE sees (MuseTalk's box resized to a square; a
      multiple of 8).
    - ``mask_top``: the crop is repainted from this fraction of its height down (0.5: the
      lower half, as MuseTalk was trained).
    - ``window_left`` / ``window_right``: video frames of audio context either side of the
      frame; the UNet sees ``2 * (left + right + 1)`` Whisper frames (50/s) x every layer.
    - ``whisper``: the Whisper checkpoint, relative to the directory.
    - ``positional_encoding``: add a sinusoidal position code to the audio tokens (MuseTalk).
    - ``reference``: ``"current"`` encodes the frame itself as the reference (MuseTalk's
      inference), ``"closed"`` uses the template frame with the most closed mouth.
    - ``bottom_margin``: how far under the chin the crop reaches, as a share of the
      landmark box's height (MuseTalk's 10 px of a 256-px box).

    The crop itself is MuseTalk's box (see :mod:`rendering.neural.crop`); ``chin_margin``,
    the square crop's setting before it, is still accepted in old files and ignored.
    """

    crop_size: int = 256
    mask_top: float = 0.5
    window_left: int = 2
    window_right: int = 2
    whisper: str = "whisper/tiny.pt"
    positional_encoding: bool = True
    reference: str = "current"
    bottom_margin: float = 10 / 256  # 0.0390625

    @property
    def window_frames(self) -> int:
        """Whisper frames (50/s) per video frame's audio context."""
        return 2 * (self.window_left + self.window_right + 1)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=2) + "\n"


def _problem(message: str, where: Path | str | None = None) -> RenderingError:
    # Users may see the message (a failed job shows it): the path goes to the log only.
    return RenderingError(message, detail=None if where is None else str(where))


def load_config(model_dir: str | Path) -> NeuralConfig:
    """Read and check ``heygem.json``; a RenderingError says what is wrong and what to do."""
    root = Path(model_dir)
    if not str(model_dir).strip():
        raise _problem(
            "The neural engine is not configured: set NEURAL_MODEL_DIR to a model directory "
            "(see docs/rendering-neural.md)."
        )
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise _problem(
            "The neural model directory does not exist. Set NEURAL_MODEL_DIR to a "
            "directory laid out as docs/rendering-neural.md describes.",
            root,
        )
    if not path.is_file():
        raise _problem(
            f"The neural model directory has no {CONFIG_NAME}. Create it with "
            "`python -m rendering.neural convert` or write one as docs/rendering-neural.md shows.",
            root,
        )
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        if raw.pop("format", FORMAT) != FORMAT:
            raise ValueError(f"format is not {FORMAT!r}")
        for key in _RETIRED_KEYS:
            raw.pop(key, None)
        known = set(NeuralConfig.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        config = NeuralConfig(**raw)
    except (ValueError, TypeError) as exc:
        raise _problem(
            f"The neural model's {CONFIG_NAME} is not valid ({exc}). "
            "Fix it as docs/rendering-neural.md shows.",
            path,
        ) from exc
    if config.crop_size < 32 or config.crop_size % 8:
        raise _problem(f"{CONFIG_NAME}: crop_size must be a multiple of 8, at least 32.", path)
    if not 0.0 < config.mask_top < 1.0:
        raise _problem(f"{CONFIG_NAME}: mask_top must lie between 0 and 1.", path)
    if config.reference not in ("current", "closed"):
        raise _problem(f'{CONFIG_NAME}: reference must be "current" or "closed".', path)
    if not 0.0 <= config.bottom_margin <= 0.5:
        raise _problem(f"{CONFIG_NAME}: bottom_margin must lie between 0 and 0.5.", path)
    if config.window_left < 0 or config.window_right < 0:
        raise _problem(f"{CONFIG_NAME}: window_left and window_right must not be negative.", path)
    return config


def whisper_checkpoint(model_dir: str | Path) -> Path:
    """The Whisper checkpoint file the directory names (checked to exist)."""
    config = load_config(model_dir)
    path = Path(model_dir) / config.whisper
    if not path.is_file():
        raise _problem(
            f"The neural model directory has no Whisper checkpoint at {config.whisper}. "
            "Convert one with `python -m rendering.neural convert`.",
            path,
        )
    return path


def model_dir_problem(model_dir: str | Path | None) -> str | None:
    """None when the directory looks complete, else a sentence saying what is missing.

    Cheap (file checks only), so pages can call it to decide whether to offer the engine.
    """
    if model_dir is None or not str(model_dir).strip():
        return (
            "The neural engine is not configured: set NEURAL_MODEL_DIR to a model directory "
            "(see docs/rendering-neural.md)."
        )
    try:
        whisper_checkpoint(model_dir)
    except RenderingError as exc:
        return exc.message
    root = Path(model_dir)
    for part in ("vae", "unet"):
        if not (root / part / "config.json").is_file() or not any(
            (root / part / name).is_file() for name in _WEIGHT_NAMES
        ):
            return (
                f"The neural model directory has no complete {part}/ folder "
                "(config.json plus diffusion_pytorch_model.safetensors or .bin). "
                "See docs/rendering-neural.md."
            )
    return None
