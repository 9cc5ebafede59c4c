"""Single-step latent inpainting of the lower face (MuseTalk's generator), batched.

For a batch of face crops (B x S x S x 3 uint8) and their audio tokens (B x N x D):

1. scale the crops to [-1, 1]; paint everything under ``mask_top`` with -1 (the masked
   frame); the reference is the crop itself or another frame of the same person;
2. encode masked and reference crops in one VAE call (the latent distribution's mode, so
   the result is deterministic) and multiply by the VAE's scaling factor;
3. concatenate both latents on channels (4 + 4 = 8) and run the UNet once at timestep 0
   with the audio tokens (plus MuseTalk's sinusoidal position code) as cross-attention
   context: it predicts the whole crop's latent, mouth included;
4. decode and return uint8 crops.

On CUDA the models run in fp16, channels-last, optionally under ``torch.compile``; the
last batch is padded to the full batch size so the compiled graph never sees a new shape.
On the CPU everything is plain fp32.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from rendering.errors import RenderingError
from rendering.neural.features import positional_encoding
from rendering.neural.layout import NeuralConfig, load_config, model_dir_problem

log = logging.getLogger(__name__)


def _offline() -> None:
    # Never reach a hub: a path that is not a model directory must fail, not download.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_OFFLINE", "1")


def pick_device(device: str = "auto") -> str:
    # torch: only the neural engine loads it.
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RenderingError(
            "The neural engine is set to run on a GPU, but this worker has no CUDA device. "
            "Set NEURAL_DEVICE=cpu or run the worker on a GPU host.",
            code="neural_no_gpu",
        )
    return device


class LatentInpainter:
    """The VAE + UNet pair and how to run them; build with :meth:`load` or from models."""

    def __init__(
        self,
        vae: Any,
        unet: Any,
        config: NeuralConfig,
        *,
        device: str = "cpu",
        compile: bool = False,
    ) -> None:
        # torch: only the neural engine loads it.
        import torch

        self.config = config
        self.device = torch.device(device)
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.vae = vae.to(self.device, dtype=self.dtype).eval()
        self.unet = unet.to(self.device, dtype=self.dtype).eval()
        if self.device.type == "cuda":
            self.vae = self.vae.to(memory_format=torch.channels_last)
            self.unet = self.unet.to(memory_format=torch.channels_last)
        self.scaling = float(getattr(vae.config, "scaling_factor", 0.18215) or 0.18215)
        self.shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)
        self.context_dim = int(unet.config.cross_attention_dim)
        if int(unet.config.in_channels) != 2 * int(vae.config.latent_channels):
            raise RenderingError(
                "The neural model's UNet does not take two VAE latents (masked frame + "
                "reference). Use a MuseTalk-style UNet with 8 input channels.",
                detail=f"in_channels={unet.config.in_channels}, latent={vae.config.latent_channels}",
                code="neural_model_invalid",
            )
        self._unet_call: Any = self._run_unet
        self._vae_encode: Any = self._encode
        self._vae_decode: Any = self._decode
        if compile and self.device.type == "cuda":
            self._unet_call = torch.compile(self._run_unet, fullgraph=False)
            self._vae_encode = torch.compile(self._encode, fullgraph=False)
            self._vae_decode = torch.compile(self._decode, fullgraph=False)
        self._code: Any = None

    @classmethod
    def load(
        cls, model_dir: str | Path, *, device: str = "auto", compile: bool = False
    ) -> LatentInpainter:
        """Load ``vae/`` and ``unet/`` with ``from_pretrained`` from a local directory only."""
        problem = model_dir_problem(model_dir)
        if problem is not None:
            raise RenderingError(problem, detail=str(model_dir), code="neural_not_configured")
        _offline()
        # torch and diffusers: only the neural engine loads them.
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel

        root = Path(model_dir)
        config = load_config(root)
        device = pick_device(device)
        # Load straight in the dtype we run in (fp16 on a GPU), not fp32 then cast.
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        local = {"local_files_only": True, "torch_dtype": dtype, "low_cpu_mem_usage": False}
        try:
            vae = AutoencoderKL.from_pretrained(root / "vae", **local)
            unet = UNet2DConditionModel.from_pretrained(root / "unet", **local)
        except (OSError, ValueError, RuntimeError) as exc:
            raise RenderingError(
                "The neural model's weights could not be loaded. Check the vae/ and unet/ "
                "folders against docs/rendering-neural.md.",
                detail=f"{root}: {exc}",
                code="neural_model_invalid",
            ) from exc
        return cls(vae, unet, config, device=device, compile=compile)

    # --- the three stages, separately compilable -------------------------------------------

    def _encode(self, images: Any) -> Any:
        latents = self.vae.encode(images).latent_dist.mode()
        return (latents - self.shift) * self.scaling

    def _run_unet(self, latents: Any, context: Any) -> Any:
        # torch: only the neural engine loads it.
        import torch

        timestep = torch.zeros((), device=latents.device, dtype=torch.long)
        return self.unet(latents, timestep, encoder_hidden_states=context, return_dict=False)[0]

    def _decode(self, latents: Any) -> Any:
        return self.vae.decode(latents / self.scaling + self.shift, return_dict=False)[0]

    def _position_code(self, tokens: int, dim: int) -> Any:
        # torch: only the neural engine loads it.
        import torch

        if self._code is None or self._code.shape != (tokens, dim):
            self._code = torch.from_numpy(positional_encoding(tokens, dim)).to(
                self.device, self.dtype
            )
        return self._code

    # --- the public call -------------------------------------------------------------------

    def __call__(
        self,
        crops: np.ndarray,
        context: np.ndarray,
        references: np.ndarray | None = None,
        *,
        pad_to: int | None = None,
    ) -> np.ndarray:
        """Repaint the lower part of each crop; see the module docstring.

        ``crops``: B x S x S x 3 uint8; ``context``: B x N x D audio tokens; ``references``:
        B x S x S x 3 uint8 or None for "the crop itself". ``pad_to`` pads the batch (with
        copies of its last item) to a fixed size for compiled graphs.
        """
        # torch: only the neural engine loads it.
        import torch

        n = crops.shape[0]
        size = self.config.crop_size
        if crops.shape[1:] != (size, size, 3):
            raise ValueError(f"crops must be (B, {size}, {size}, 3), got {crops.shape}")
        if context.ndim != 3 or context.shape[0] != n or context.shape[2] != self.context_dim:
            raise RenderingError(
                "The audio features do not fit the neural model's UNet (their width differs "
                "from its cross_attention_dim). Use the Whisper checkpoint that came with "
                "the model.",
                detail=f"context {context.shape}, cross_attention_dim {self.context_dim}",
                code="neural_model_invalid",
            )
        if pad_to is not None and n < pad_to:
            extra = pad_to - n
            crops = np.concatenate([crops, np.repeat(crops[-1:], extra, axis=0)])
            context = np.concatenate([context, np.repeat(context[-1:], extra, axis=0)])
            if references is not None:
                references = np.concatenate([references, np.repeat(references[-1:], extra, 0)])
        with torch.inference_mode():
            images = self._to_tensor(crops)
            masked = images.clone()
            masked[:, :, round(self.config.mask_top * size) :, :] = -1.0
            reference = images if references is None else self._to_tensor(references)
            latents = self._vae_encode(torch.cat([masked, reference]))
            masked_latents, reference_latents = latents.chunk(2)
            tokens = torch.from_numpy(np.ascontiguousarray(context)).to(self.device, self.dtype)
            if self.config.positional_encoding:
                tokens = tokens + self._position_code(tokens.shape[1], tokens.shape[2])
            predicted = self._unet_call(
                torch.cat([masked_latents, reference_latents], dim=1), tokens
            )
            decoded = self._vae_decode(predicted)
            out = ((decoded.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
            result = out.permute(0, 2, 3, 1).cpu().numpy()
        return np.ascontiguousarray(result[:n])

    def _to_tensor(self, crops: np.ndarray) -> Any:
        # torch: only the neural engine loads it.
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        tensor = tensor.permute(0, 3, 1, 2).to(self.dtype) / 127.5 - 1.0
        if self.device.type == "cuda":
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor
