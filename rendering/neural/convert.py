"""Turn MuseTalk 1.5's released files into a HeyGem model directory.

MuseTalk's ``download_weights.sh`` leaves (under ``models/``)::

    musetalkV15/musetalk.json   UNet2DConditionModel config
    musetalkV15/unet.pth        its state dict (plain torch.save)
    sd-vae/config.json + diffusion_pytorch_model.bin      (stabilityai/sd-vae-ft-mse)
    whisper/config.json + pytorch_model.bin               (openai/whisper-tiny, Hugging Face format)

The VAE is already a diffusers folder and is re-saved as is. The UNet becomes a diffusers
folder (config + safetensors). Whisper's Hugging Face weights are renamed to
openai-whisper's layout (``{"dims", "model_state_dict"}``), which ``whisper.load_model``
reads. Nothing is downloaded.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from rendering.errors import RenderingError
from rendering.neural.layout import CONFIG_NAME, NeuralConfig

_LAYER_PARTS = [
    ("self_attn.q_proj", "attn.query"),
    ("self_attn.k_proj", "attn.key"),
    ("self_attn.v_proj", "attn.value"),
    ("self_attn.out_proj", "attn.out"),
    ("self_attn_layer_norm", "attn_ln"),
    ("encoder_attn.q_proj", "cross_attn.query"),
    ("encoder_attn.k_proj", "cross_attn.key"),
    ("encoder_attn.v_proj", "cross_attn.value"),
    ("encoder_attn.out_proj", "cross_attn.out"),
    ("encoder_attn_layer_norm", "cross_attn_ln"),
    ("fc1", "mlp.0"),
    ("fc2", "mlp.2"),
    ("final_layer_norm", "mlp_ln"),
]
_TOP_PARTS = {
    "encoder.conv1": "encoder.conv1",
    "encoder.conv2": "encoder.conv2",
    "encoder.embed_positions.weight": "encoder.positional_embedding",
    "encoder.layer_norm": "encoder.ln_post",
    "decoder.embed_tokens": "decoder.token_embedding",
    "decoder.embed_positions.weight": "decoder.positional_embedding",
    "decoder.layer_norm": "decoder.ln",
}


def openai_whisper_key(hf_key: str) -> str | None:
    """openai-whisper's name for a Hugging Face Whisper weight (None: not needed)."""
    key = hf_key.removeprefix("model.")
    if key.startswith("proj_out."):
        return None  # tied to the token embedding
    layer = re.match(r"(encoder|decoder)\.layers\.(\d+)\.(.+)$", key)
    if layer:
        side, index, rest = layer.groups()
        for hf, ours in _LAYER_PARTS:
            if rest.startswith(hf + "."):
                return f"{side}.blocks.{index}.{ours}{rest[len(hf) :]}"
        raise ValueError(f"unexpected Whisper weight {hf_key!r}")
    for hf, ours in _TOP_PARTS.items():
        if key == hf or key.startswith(hf + "."):
            return ours + key[len(hf) :]
    raise ValueError(f"unexpected Whisper weight {hf_key!r}")


def whisper_from_hf(config: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """An openai-whisper checkpoint from a Hugging Face ``config.json`` and state dict."""
    dims = {
        "n_mels": config["num_mel_bins"],
        "n_audio_ctx": config["max_source_positions"],
        "n_audio_state": config["d_model"],
        "n_audio_head": config["encoder_attention_heads"],
        "n_audio_layer": config["encoder_layers"],
        "n_vocab": config["vocab_size"],
        "n_text_ctx": config["max_target_positions"],
        "n_text_state": config["d_model"],
        "n_text_head": config["decoder_attention_heads"],
        "n_text_layer": config["decoder_layers"],
    }
    renamed = {}
    for key, value in state.items():
        ours = openai_whisper_key(key)
        if ours is not None:
            renamed[ours] = value
    return {"dims": dims, "model_state_dict": renamed}


def _load_state(path: Path) -> dict[str, Any]:
    # torch: only converting a model needs it.
    import torch

    if path.suffix == ".safetensors":
        # safetensors: only a .safetensors checkpoint needs it.
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    # weights_only: a checkpoint from the internet must not run code when loaded.
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    return dict(state)


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def _musetalk_root(src: Path) -> Path:
    for candidate in (src, src / "models"):
        if (candidate / "musetalkV15").is_dir() or (candidate / "musetalk").is_dir():
            return candidate
    raise RenderingError(
        "This does not look like MuseTalk's model folder: expected musetalkV15/ (or "
        "musetalk/), sd-vae/ and whisper/ inside it (or inside its models/).",
        detail=str(src),
    )


def convert_musetalk(src: str | Path, dst: str | Path, *, crop_size: int = 256) -> Path:
    """Write a HeyGem model directory at ``dst`` from MuseTalk's ``models/`` folder.

    1. UNet: build ``UNet2DConditionModel`` from ``musetalk.json``, load ``unet.pth`` (or
       ``pytorch_model.bin``) strictly, ``save_pretrained`` to ``unet/``.
    2. VAE: ``from_pretrained`` of ``sd-vae/`` (or ``sd-vae-ft-mse/``), re-saved to ``vae/``.
    3. Whisper: rename the Hugging Face weights to ``whisper/tiny.pt``; an openai-whisper
       ``.pt`` found there is copied instead.
    4. ``heygem.json`` with MuseTalk's settings (256 px crop, lower half, 2 + 2 frames).
    """
    # torch and diffusers: only converting a model needs them.
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    root = _musetalk_root(Path(src))
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)

    unet_dir = root / "musetalkV15" if (root / "musetalkV15").is_dir() else root / "musetalk"
    unet_config = _first(unet_dir, ("musetalk.json", "config.json"))
    unet_weights = _first(unet_dir, ("unet.pth", "pytorch_model.bin", "unet.safetensors"))
    if unet_config is None or unet_weights is None:
        raise RenderingError(
            "MuseTalk's UNet folder needs musetalk.json and unet.pth (or pytorch_model.bin).",
            detail=str(unet_dir),
        )
    config = json.loads(unet_config.read_text())
    unet = UNet2DConditionModel.from_config(config)
    state = _load_state(unet_weights)
    state = {k.removeprefix("unet.").removeprefix("model."): v for k, v in state.items()}
    unet.load_state_dict(state, strict=True)
    unet.save_pretrained(out / "unet")

    vae_dir = next((root / n for n in ("sd-vae", "sd-vae-ft-mse") if (root / n).is_dir()), None)
    if vae_dir is None:
        raise RenderingError(
            "MuseTalk's VAE folder (sd-vae/ with config.json) is missing.", detail=str(root)
        )
    AutoencoderKL.from_pretrained(vae_dir, local_files_only=True).save_pretrained(out / "vae")

    whisper_dir = root / "whisper"
    target = out / "whisper" / "tiny.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    existing = sorted(whisper_dir.glob("*.pt")) if whisper_dir.is_dir() else []
    hf_weights = _first(whisper_dir, ("model.safetensors", "pytorch_model.bin"))
    if existing:
        shutil.copyfile(existing[0], target)
    elif hf_weights is not None and (whisper_dir / "config.json").is_file():
        hf_config = json.loads((whisper_dir / "config.json").read_text())
        torch.save(whisper_from_hf(hf_config, _load_state(hf_weights)), target)
    else:
        raise RenderingError(
            "MuseTalk's whisper/ folder needs config.json and pytorch_model.bin "
            "(openai/whisper-tiny), or an openai-whisper .pt checkpoint.",
            detail=str(whisper_dir),
        )
    (out / CONFIG_NAME).write_text(
        NeuralConfig(crop_size=crop_size, whisper="whisper/tiny.pt").to_json()
    )
    return out
