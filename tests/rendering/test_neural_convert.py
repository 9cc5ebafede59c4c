"""``python -m rendering.neural convert`` on files named and laid out as MuseTalk 1.5 ships them.

Nothing here reverses the converter's own tables. The source folder is built the way the
release was made:

- ``whisper/``: a randomly initialised ``transformers`` ``WhisperForConditionalGeneration``
  with whisper-tiny's configuration (``WhisperConfig()``'s defaults), saved as
  ``config.json`` + ``pytorch_model.bin``: exactly the names and shapes of
  openai/whisper-tiny. The converted checkpoint must load in openai-whisper *and* give the
  same hidden states, layer by layer, as Hugging Face's encoder (what MuseTalk runs).
- ``musetalkV15/``: MuseTalk's published ``musetalk.json`` with narrower channels (32, 64,
  128, 128 keep the 1 : 2 : 4 : 4 pattern of 320, 640, 1280, 1280, so the state dict has
  the same 686 names as the full model) and ``unet.pth`` as a plain ``torch.save``.
- ``sd-vae/``: a small AutoencoderKL saved as ``diffusion_pytorch_model.bin`` under the
  attention names sd-vae-ft-mse still uses (``query``/``key``/``value``/``proj_attn``, from
  diffusers 0.4), with its ``_diffusers_version``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rendering import audio, media
from rendering.engines import get_engine
from rendering.engines.neural import NeuralEngine
from rendering.neural import build, convert
from rendering.neural.features import frame_windows
from rendering.neural.generator import LatentInpainter
from rendering.neural.layout import NeuralConfig

transformers = pytest.importorskip("transformers")  # a dev dependency (pyproject.toml)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# models/musetalkV15/musetalk.json as MuseTalk 1.5 publishes it.
MUSETALK_JSON: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": "0.6.0.dev0",
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
    "sample_size": 64,
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
}
NARROW = {**MUSETALK_JSON, "block_out_channels": [32, 64, 128, 128]}
# diffusers >= 0.15 names -> the names in sd-vae-ft-mse's diffusion_pytorch_model.bin.
_OLD_VAE_ATTENTION = {
    ".to_q.": ".query.",
    ".to_k.": ".key.",
    ".to_v.": ".value.",
    ".to_out.0.": ".proj_attn.",
}
CROP = 64


def full_unet_names() -> dict[str, tuple[int, ...]]:
    """Every tensor of MuseTalk's full-size UNet (on the meta device: no memory)."""
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(MUSETALK_JSON)
    return {name: tuple(t.shape) for name, t in unet.state_dict().items()}


def randomise_norms(module: Any) -> Any:
    """Give every normalisation layer random scales and shifts.

    Freshly built, they are all ones and zeros, so a converter that swapped two of them
    (Whisper's ``attn_ln`` and ``mlp_ln``, say) would go unnoticed.
    """
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "norm" in name or "_ln" in name:
                noise = torch.randn(parameter.shape, generator=generator) * 0.2
                parameter.add_(noise)
    return module


@dataclass
class Release:
    models: Path  # MuseTalk's models/ folder
    unet: Any
    vae: Any
    whisper: Any  # transformers WhisperForConditionalGeneration


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    from diffusers import AutoencoderKL, UNet2DConditionModel

    models = tmp_path_factory.mktemp("MuseTalk") / "models"
    torch.manual_seed(0)
    unet = randomise_norms(UNet2DConditionModel.from_config(NARROW).eval())
    (models / "musetalkV15").mkdir(parents=True)
    (models / "musetalkV15" / "musetalk.json").write_text(json.dumps(NARROW, indent=2))
    torch.save(unet.state_dict(), models / "musetalkV15" / "unet.pth")

    vae = randomise_norms(AutoencoderKL(**build.tiny_vae_config(CROP)).eval())
    old_names = {}
    for name, tensor in vae.state_dict().items():
        for new, old in _OLD_VAE_ATTENTION.items():
            if "mid_block.attentions." in name:
                name = name.replace(new, old)
        old_names[name] = tensor
    (models / "sd-vae").mkdir()
    vae_config = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.4.2"}
    vae_config |= {k: v for k, v in dict(vae.config).items() if not k.startswith("_")}
    (models / "sd-vae" / "config.json").write_text(json.dumps(vae_config, indent=2))
    torch.save(old_names, models / "sd-vae" / "diffusion_pytorch_model.bin")

    torch.manual_seed(1)
    whisper = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig())
    whisper = randomise_norms(whisper.eval())
    (models / "whisper").mkdir()
    whisper.config.to_json_file(str(models / "whisper" / "config.json"))
    torch.save(whisper.state_dict(), models / "whisper" / "pytorch_model.bin")
    return Release(models=models, unet=unet, vae=vae, whisper=whisper)


@pytest.fixture(scope="module")
def converted(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert.convert_musetalk(
        release.models.parent, tmp_path_factory.mktemp("heygem") / "neural", crop_size=CROP
    )


def test_the_random_musetalk_preset_is_musetalks_published_unet() -> None:
    published = {k: v for k, v in MUSETALK_JSON.items() if not k.startswith("_")}
    assert published == {**build.MUSETALK_UNET, "sample_size": 64}
    names = full_unet_names()
    assert len(names) == 686
    assert 849e6 < sum(int(np.prod(shape)) for shape in names.values()) < 851e6


def test_the_source_folder_uses_the_released_names(release: Release) -> None:
    unet_state = torch.load(release.models / "musetalkV15" / "unet.pth", weights_only=True)
    assert set(unet_state) == set(full_unet_names())  # all 686, nothing else
    vae_state = torch.load(release.models / "sd-vae" / "diffusion_pytorch_model.bin")
    assert "decoder.mid_block.attentions.0.proj_attn.weight" in vae_state
    assert not any(".to_q." in name for name in vae_state)
    whisper_state = torch.load(release.models / "whisper" / "pytorch_model.bin")
    assert "model.encoder.layers.3.self_attn.k_proj.weight" in whisper_state
    assert "model.decoder.layers.0.encoder_attn_layer_norm.bias" in whisper_state
    assert whisper_state["model.encoder.embed_positions.weight"].shape == (1500, 384)


def test_the_converted_whisper_gives_hugging_faces_hidden_states(
    release: Release, converted: Path
) -> None:
    """openai-whisper on the converted file = HF's encoder with output_hidden_states=True."""
    import whisper.audio

    checkpoint = torch.load(converted / "whisper" / "tiny.pt", weights_only=True)
    assert checkpoint["dims"]["n_audio_layer"] == 4 and checkpoint["dims"]["n_audio_state"] == 384
    samples = media.read_audio(FIXTURES / "speech.wav")[:16000]
    ours = audio.analyse_samples(
        samples, whisper_model=converted / "whisper" / "tiny.pt", transcribe=False
    ).whisper_layers
    assert ours is not None and ours.shape == (50, 5, 384)

    mel = whisper.audio.log_mel_spectrogram(
        torch.from_numpy(samples), n_mels=80, padding=whisper.audio.N_SAMPLES - samples.size
    )
    mel = whisper.audio.pad_or_trim(mel, whisper.audio.N_FRAMES)
    with torch.inference_mode():
        states = release.whisper.model.encoder(mel[None], output_hidden_states=True).hidden_states
    theirs = torch.stack(states, dim=2)[0, :50].numpy()
    scale = np.abs(theirs).max(axis=(0, 2), keepdims=True)
    # fp16 in the cache: about 3 significant digits per layer.
    assert np.abs(ours.astype(np.float32) - theirs).max(axis=(0, 2)) == pytest.approx(
        np.zeros(5), abs=1e-2 * float(scale.max())
    )
    assert np.abs(ours.astype(np.float32) - theirs).max() / scale.max() < 5e-3


def test_the_converted_unet_and_vae_paint_what_the_released_ones_do(
    release: Release, converted: Path
) -> None:
    engine = get_engine("neural", model_dir=str(converted), device="cpu")
    assert isinstance(engine, NeuralEngine)
    assert engine.config == NeuralConfig(crop_size=CROP)
    names = sorted(str(p.relative_to(converted)) for p in converted.rglob("*") if p.is_file())
    assert names == [
        "heygem.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
        "whisper/tiny.pt",
    ]
    reference = LatentInpainter(release.vae, release.unet, NeuralConfig(crop_size=CROP))
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, (2, CROP, CROP, 3), dtype=np.uint8)
    layers = rng.standard_normal((40, 5, 384)).astype(np.float32)
    tokens = frame_windows(layers, 25.0, np.arange(2), left=2, right=2)
    assert tokens.shape == (2, 50, 384)  # MuseTalk's 10 frames x 5 layers of whisper-tiny
    painted = engine.generator(crops, tokens)
    assert np.array_equal(painted, reference(crops, tokens))
    # The VAE's renamed attention weights were loaded, not left at their initial values.
    attention = engine.generator.vae.decoder.mid_block.attentions[0].to_out[0].weight
    assert torch.equal(attention, release.vae.decoder.mid_block.attentions[0].to_out[0].weight)
