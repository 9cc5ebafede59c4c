"""Model directories with random weights, in the real format: for tests and benchmarks.

``build_random_model(out, preset="tiny")`` writes a directory the engine loads exactly as it
loads real weights (``from_pretrained`` / ``whisper.load_model``). ``"tiny"`` is small
enough for CI on a CPU; ``"musetalk"`` has MuseTalk 1.5's UNet, the sd-vae-ft-mse VAE and
whisper-tiny's sizes (for speed measurements; it renders noise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rendering.neural.layout import CONFIG_NAME, NeuralConfig

# MuseTalk 1.5's musetalk.json (a Stable Diffusion v1 UNet with 8 input channels and
# whisper-tiny's 384-wide states as cross-attention context).
MUSETALK_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 32,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}
# stabilityai/sd-vae-ft-mse's config.json.
SD_VAE: dict[str, Any] = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
WHISPER_TINY: dict[str, int] = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 384,
    "n_audio_head": 6,
    "n_audio_layer": 4,
    "n_vocab": 51865,
    "n_text_ctx": 448,
    "n_text_state": 384,
    "n_text_head": 6,
    "n_text_layer": 4,
}


def tiny_unet_config(context_dim: int, crop_size: int) -> dict[str, Any]:
    return {
        "attention_head_dim": 4,
        "block_out_channels": [16, 32],
        "cross_attention_dim": context_dim,
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "in_channels": 8,
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "out_channels": 4,
        "sample_size": crop_size // 8,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    }


def tiny_vae_config(crop_size: int) -> dict[str, Any]:
    return {
        "block_out_channels": [8, 8, 16, 16],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "latent_channels": 4,
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "sample_size": crop_size,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    }


TINY_WHISPER: dict[str, int] = {
    **WHISPER_TINY,
    "n_audio_state": 32,
    "n_audio_head": 2,
    "n_audio_layer": 1,
    "n_text_state": 32,
    "n_text_head": 2,
    "n_text_layer": 1,
}


def build_random_model(
    out_dir: str | Path,
    *,
    preset: str = "tiny",
    seed: int = 0,
    config: NeuralConfig | None = None,
) -> Path:
    """Write a complete model directory with random weights (same seed, same bytes)."""
    # torch, openai-whisper and diffusers take seconds to load: only building a model needs them.
    import torch
    import whisper.model
    from diffusers import AutoencoderKL, UNet2DConditionModel

    out = Path(out_dir)
    if preset == "tiny":
        config = config or NeuralConfig(crop_size=64)
        whisper_dims = TINY_WHISPER
        unet_config = tiny_unet_config(whisper_dims["n_audio_state"], config.crop_size)
        vae_config = tiny_vae_config(config.crop_size)
    elif preset == "musetalk":
        config = config or NeuralConfig(crop_size=256)
        whisper_dims = WHISPER_TINY
        unet_config = {**MUSETALK_UNET, "sample_size": config.crop_size // 8}
        vae_config = SD_VAE
    else:
        raise ValueError(f"unknown preset {preset!r}: use 'tiny' or 'musetalk'")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    vae: Any = AutoencoderKL(**vae_config)
    vae.save_pretrained(out / "vae")
    torch.manual_seed(seed + 1)
    unet: Any = UNet2DConditionModel(**unet_config)
    unet.save_pretrained(out / "unet")
    torch.manual_seed(seed + 2)
    dims = whisper.model.ModelDimensions(**whisper_dims)
    checkpoint = out / config.whisper
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    state = whisper.model.Whisper(dims).state_dict()
    torch.save({"dims": dims.__dict__, "model_state_dict": state}, checkpoint)
    (out / CONFIG_NAME).write_text(config.to_json())
    return out
