"""Audio analysis: what a batch's one audio file says about the mouth, frame by frame.

:func:`analyse` decodes the audio with PyAV (never ``whisper.load_audio``, which runs an
``ffmpeg`` binary), resamples it to 16 kHz mono and computes, once per file content:

- ``mel``: Whisper's 80-band log-mel spectrogram (100 frames/s; the filters ship inside
  openai-whisper, no weights needed);
- ``energy``: RMS level per 10 ms hop, and ``speech``: where someone is talking (an energy
  threshold relative to the clip, held on for 150 ms so pauses between syllables stay speech);
- optionally, with a local Whisper checkpoint, the encoder's hidden states (50 frames/s):
  the final ones, and those of every layer stacked (``whisper_layers``, what the neural
  engine's cross-attention reads, like MuseTalk), plus a transcript with word timings.

:meth:`AudioFeatures.mouth_controls` turns them into per-video-frame mouth controls at any
frame rate: ``openness`` from the smoothed loudness in the speech band (300-3000 Hz), shut
on silence and on short energy dips (the closures of /p b m/); ``width`` from how much of
the energy sits high (spread lips: the high second formant of /i e/); ``rounding`` from how
much sits low (rounded lips: the low formants of /u o/). All smoothing is centred (zero
phase) so the mouth never trails the sound. These are heuristics, not phoneme recognition.

Results are cached by the file's SHA-256, :data:`ANALYSIS_VERSION` and the Whisper model's
own hash, as ``.npz`` (arrays, plus the small metadata as JSON inside it) without pickle.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rendering import media
from rendering.cache import Cache
from rendering.transcription import transcribe as transcribe_words
from rendering.words import Word

if TYPE_CHECKING:
    from rendering.transcription import Transcriber, Transcript

__all__ = [
    "ANALYSIS_RUNS",
    "ANALYSIS_VERSION",
    "SAMPLE_RATE",
    "AudioFeatures",
    "MouthControls",
    "Word",
    "analyse",
    "analyse_samples",
    "hop_controls",
]

log = logging.getLogger(__name__)

# Bump when anything stored changes meaning: the features, their rates or the thresholds.
ANALYSIS_VERSION = "audio-2"  # 2: whisper_layers
# Real analyses run in this process (cache hits do not count). Tests and bench read it.
ANALYSIS_RUNS = 0

SAMPLE_RATE = 16000
HOP = 160  # 10 ms: Whisper's mel hop, and ours for energy and speech
_HOPS_PER_SECOND = SAMPLE_RATE // HOP
_WINDOW = 400  # 25 ms energy window centred on each hop
_WHISPER_CHUNK = 30 * SAMPLE_RATE  # the encoder sees 30 s at a time
_SAMPLES_PER_ENCODER_FRAME = 2 * HOP  # the encoder halves the mel rate: 50 frames/s

# Speech activity: a hop is loud when it is within 30 dB of the clip's loud level and clearly
# above its noise floor; speech then lasts 150 ms past the last loud hop (hangover), starts
# 20 ms before the first, and loud islands shorter than 30 ms (clicks) are ignored.
_SPEECH_RANGE_DB = 30.0
_FLOOR_MARGIN_DB = 8.0
_ABSOLUTE_FLOOR_DB = -60.0
_HANGOVER_HOPS = 15
_PREROLL_HOPS = 2
_MIN_ISLAND_HOPS = 3
# Openness maps the speech-band level from 28 dB under the clip's loud level (shut) to it.
_OPEN_RANGE_DB = 28.0
_OPEN_SIGMA_HOPS = 1.5  # 15 ms: removes flicker, keeps closures visible
# A dip at least this deep under both neighbours (within 80 ms) closes the lips fully.
_DIP_START_DB = 5.0
_DIP_FULL_DB = 12.0
_DIP_REACH_HOPS = 8


@dataclass(frozen=True, eq=False)
class MouthControls:
    """One value per video frame, each float32 in [0, 1].

    ``openness``: 0 shut, 1 the clip's widest; ``width``: 0.5 at rest, up for spread lips;
    ``rounding``: 0 at rest, up for rounded, pushed-forward lips.
    """

    fps: float
    openness: np.ndarray
    width: np.ndarray
    rounding: np.ndarray

    def __len__(self) -> int:
        return int(self.openness.shape[0])


@dataclass(eq=False)
class AudioFeatures:
    sample_rate: int
    duration: float
    content_hash: str
    mel: np.ndarray  # (80, T) Whisper log-mel, frame j centred at j * 10 ms
    energy: np.ndarray  # (T,) float32 RMS of the 25 ms around hop j's middle, (j + 0.5) * 10 ms
    speech: np.ndarray  # (T,) bool
    whisper_features: np.ndarray | None = None  # (T', D) encoder states, 50 per second
    # (T', L + 1, D) float16: the embedding and every block's output (the last after ln_post,
    # so [:, -1] equals whisper_features), as HF's output_hidden_states gives them.
    whisper_layers: np.ndarray | None = None
    words: list[Word] | None = None
    whisper_model: str | None = None  # SHA-256 of the checkpoint the features came from
    # faster-whisper's transcript (language, timed words) when analyse() had a transcriber;
    # cached in its own entry, not in these arrays. ``words`` then holds its words.
    transcript: Transcript | None = None
    _hop_controls: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    # --- mouth controls ------------------------------------------------------------------

    def mouth_controls(self, fps: float, n_frames: int | None = None) -> MouthControls:
        """Controls for video frame k, which shows [k / fps, (k + 1) / fps) of the audio.

        Each frame averages the 10 ms controls it covers, so any frame rate (12, 25, 29.97,
        60, 120...) sees the same curve. Frames past the end of the audio are at rest.
        """
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if n_frames is None:
            n_frames = max(1, round(self.duration * fps))
        if not self._hop_controls:
            self._hop_controls.update(hop_controls(self.mel, self.energy, self.speech))
        hops = self._hop_controls
        return MouthControls(
            fps=float(fps),
            openness=_per_frame(hops["openness"], fps, n_frames, rest=0.0),
            width=_per_frame(hops["width"], fps, n_frames, rest=0.5),
            rounding=_per_frame(hops["rounding"], fps, n_frames, rest=0.0),
        )

    # --- storage ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "version": ANALYSIS_VERSION,
            "sample_rate": self.sample_rate,
            "duration": self.duration,
            "content_hash": self.content_hash,
            "whisper_model": self.whisper_model,
            "words": None if self.words is None else [w.__dict__ for w in self.words],
        }
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            "mel": self.mel.astype(np.float32),
            "energy": self.energy.astype(np.float32),
            "speech": self.speech.astype(bool),
        }
        if self.whisper_features is not None:
            arrays["whisper_features"] = self.whisper_features.astype(np.float32)
        if self.whisper_layers is not None:
            arrays["whisper_layers"] = self.whisper_layers.astype(np.float16)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AudioFeatures:
        """Inverse of :meth:`to_bytes`. Raises ValueError for anything damaged or foreign."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(bytes(npz["meta"]).decode())
                mel = np.asarray(npz["mel"], dtype=np.float32)
                energy = np.asarray(npz["energy"], dtype=np.float32)
                speech = np.asarray(npz["speech"], dtype=bool)
                whisper = (
                    np.asarray(npz["whisper_features"], dtype=np.float32)
                    if "whisper_features" in npz.files
                    else None
                )
                layers = (
                    np.asarray(npz["whisper_layers"], dtype=np.float16)
                    if "whisper_layers" in npz.files
                    else None
                )
            words = (
                None
                if meta["words"] is None
                else [
                    Word(
                        str(w["text"]), float(w["start"]), float(w["end"]), float(w["probability"])
                    )
                    for w in meta["words"]
                ]
            )
            features = cls(
                sample_rate=int(meta["sample_rate"]),
                duration=float(meta["duration"]),
                content_hash=str(meta["content_hash"]),
                mel=mel,
                energy=energy,
                speech=speech,
                whisper_features=whisper,
                whisper_layers=layers,
                words=words,
                whisper_model=meta["whisper_model"],
            )
            version = meta["version"]
        except Exception as exc:
            # Damaged bytes fail in many ways (zipfile, zlib, numpy, json, a missing key); every
            # one of them means the same thing to the caller: recompute.
            raise ValueError(f"unreadable audio features: {exc!r}") from exc
        if version != ANALYSIS_VERSION:
            raise ValueError(f"audio features of version {version!r}, not {ANALYSIS_VERSION!r}")
        n = mel.shape[-1] if mel.ndim == 2 else -1
        if mel.ndim != 2 or energy.shape != (n,) or speech.shape != (n,):
            raise ValueError("audio features with inconsistent shapes")
        return features

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: str | Path) -> AudioFeatures:
        return cls.from_bytes(Path(path).read_bytes())


# --- analysis ------------------------------------------------------------------------------


def analyse(
    path: str | Path,
    *,
    cache_dir: Path | None,
    whisper_model: str | Path | None = None,
    transcribe: bool = True,
    limits: media.Limits = media.DEFAULT_LIMITS,
    transcriber: Transcriber | None = None,
    language: str | None = None,
) -> AudioFeatures:
    """Analyse an audio file (or a video's audio track), using the cache when it can.

    1. Probe the file: a MediaError for anything that is not usable sound.
    2. Key it by the content's SHA-256 (+ the Whisper checkpoint's, and whether words were
       transcribed: the neural engine needs only the encoder) and look in the cache;
       an entry that does not deserialise is discarded and recomputed.
    3. Otherwise decode to 16 kHz mono, analyse, count the run and store the result.
    4. With a ``transcriber`` (faster-whisper), attach the transcript in ``language`` (None:
       detected), itself cached by content hash beside the analysis, and its ``words``.
    """
    global ANALYSIS_RUNS
    media.probe_audio(path, limits=limits)
    content_hash = media.file_sha256(path)
    cache = Cache(Path(cache_dir)) if cache_dir is not None else None
    model_path = _local_checkpoint(whisper_model) if whisper_model is not None else None
    model_hash = media.file_sha256(model_path, cache) if model_path is not None else None
    key = content_hash if model_hash is None else f"{content_hash}-whisper-{model_hash[:16]}"
    if model_hash is not None and not transcribe:
        key += "-encoder"
    features: AudioFeatures | None = None
    samples: np.ndarray | None = None
    if cache is not None:
        data = cache.load("audio", key, ANALYSIS_VERSION)
        if data is not None:
            try:
                features = AudioFeatures.from_bytes(data)
            except ValueError:
                log.warning("discarding unreadable audio cache entry %s", key)
                cache.discard("audio", key, ANALYSIS_VERSION)
    if features is None:
        samples = media.read_audio(path, sample_rate=SAMPLE_RATE, limits=limits)
        features = analyse_samples(
            samples, content_hash=content_hash, whisper_model=model_path, transcribe=transcribe
        )
        features.whisper_model = model_hash
        ANALYSIS_RUNS += 1
        if cache is not None:
            cache.store("audio", key, ANALYSIS_VERSION, features.to_bytes())
    if transcriber is not None:
        features.transcript = transcribe_words(
            path,
            transcriber,
            cache_dir=cache_dir,
            language=language,
            samples=samples,
            content_hash=content_hash,
            limits=limits,
        )
        features.words = features.transcript.words
    return features


def analyse_samples(
    samples: np.ndarray,
    *,
    content_hash: str = "",
    whisper_model: str | Path | None = None,
    transcribe: bool = True,
) -> AudioFeatures:
    """Analyse float mono samples at 16 kHz (no cache, no counting).

    ``transcribe=False`` skips the word timings (``words`` stays None): decoding is most of
    Whisper's time, and the neural engine reads only the encoder.
    """
    x = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise ValueError("no samples to analyse")
    mel = _log_mel(x)
    energy = _energy(x, mel.shape[1])
    speech = _speech_activity(energy)
    whisper_features: np.ndarray | None = None
    whisper_layers: np.ndarray | None = None
    words: list[Word] | None = None
    if whisper_model is not None:
        layers, words = _whisper_outputs(_local_checkpoint(whisper_model), x, transcribe=transcribe)
        whisper_features = np.ascontiguousarray(layers[:, -1])
        # Half precision halves the cache (10 min of whisper-tiny: 115 MB, not 230 MB);
        # the UNet runs in fp16 on a GPU anyway.
        whisper_layers = layers.astype(np.float16)
    return AudioFeatures(
        sample_rate=SAMPLE_RATE,
        duration=x.size / SAMPLE_RATE,
        content_hash=content_hash,
        mel=mel,
        energy=energy,
        speech=speech,
        whisper_features=whisper_features,
        whisper_layers=whisper_layers,
        words=words,
    )


def _log_mel(x: np.ndarray) -> np.ndarray:
    # torch and openai-whisper take seconds to load: only an analysis that runs needs them.
    import torch
    import whisper.audio

    with torch.inference_mode():
        mel = whisper.audio.log_mel_spectrogram(torch.from_numpy(x), n_mels=80)
    return np.asarray(mel.numpy(), dtype=np.float32)


def _energy(x: np.ndarray, n_hops: int) -> np.ndarray:
    """RMS of the 25 ms window centred on the middle of each 10 ms hop."""
    pad = (_WINDOW - HOP) // 2
    padded = np.pad(x.astype(np.float64), (pad, pad + _WINDOW))
    power = np.concatenate([[0.0], np.cumsum(padded * padded)])
    starts = np.arange(n_hops) * HOP
    sums = power[starts + _WINDOW] - power[starts]
    return np.sqrt(np.maximum(sums, 0.0) / _WINDOW).astype(np.float32)


def _db(values: np.ndarray, *, power: bool = False) -> np.ndarray:
    floor = 1e-12 if power else 1e-6
    scale = 10.0 if power else 20.0
    return np.asarray(scale * np.log10(np.maximum(values, floor)), dtype=np.float64)


def _speech_activity(energy: np.ndarray) -> np.ndarray:
    level = _db(energy)
    if level.size == 0:
        return np.zeros(0, dtype=bool)
    loud_level = float(np.percentile(level, 95))
    floor = float(np.percentile(level, 10))
    threshold = max(loud_level - _SPEECH_RANGE_DB, floor + _FLOOR_MARGIN_DB, _ABSOLUTE_FLOOR_DB)
    loud = level > threshold
    loud = _drop_short_runs(loud, _MIN_ISLAND_HOPS)
    # Hangover after each loud hop, a little pre-roll before: a sliding maximum.
    speech = loud.copy()
    for shift in range(1, _HANGOVER_HOPS + 1):
        speech[shift:] |= loud[:-shift]
    for shift in range(1, _PREROLL_HOPS + 1):
        speech[:-shift] |= loud[shift:]
    return speech


def _drop_short_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    out = mask.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < min_length:
            out[start:stop] = False
    return out


# --- mouth controls --------------------------------------------------------------------------


def _mel_centres() -> np.ndarray:
    """Centre frequency (Hz) of each of Whisper's 80 mel filters.

    Read from the file openai-whisper ships, without importing the package: ``import
    whisper`` loads torch, which costs a render more time than the mouth planning itself.
    """
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("openai-whisper is not installed: its mel filters are needed")
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets" / "mel_filters.npz"
    with np.load(assets, allow_pickle=False) as bundle:
        filters = np.asarray(bundle["mel_80"], dtype=np.float64)
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, filters.shape[1])
    return np.asarray((filters @ freqs) / np.maximum(filters.sum(axis=1), 1e-12))


def _band_power(power: np.ndarray, centres: np.ndarray, low: float, high: float) -> np.ndarray:
    rows = (centres >= low) & (centres < high)
    return np.asarray(power[rows].sum(axis=0))


def hop_controls(mel: np.ndarray, energy: np.ndarray, speech: np.ndarray) -> dict[str, np.ndarray]:
    """Openness, width and rounding per 10 ms hop (hop j covers [j, j + 1) x 10 ms).

    1. Undo Whisper's log scaling to get mel power, and move it half a hop so it describes
       the same 10 ms as ``energy`` (mel frame j is centred on j x 10 ms).
    2. Openness: speech-band level relative to the clip's loud level, shut where a short
       dip falls well under both neighbours (lips closing for /p b m/), gated by speech.
    3. Width and rounding: where the energy sits (high band vs low band), relative to the
       clip's own median, so every voice is judged against itself.
    4. Smooth each curve with a centred Gaussian: no delay is introduced.
    """
    n = energy.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.float32)
        return {"openness": empty, "width": empty, "rounding": empty}
    power = np.power(10.0, 4.0 * mel.astype(np.float64) - 4.0)
    power = 0.5 * (power + np.concatenate([power[:, 1:], power[:, -1:]], axis=1))
    centres = _mel_centres()
    band = _db(_band_power(power, centres, 300, 3000), power=True)
    low = _band_power(power, centres, 250, 950)
    mid = _band_power(power, centres, 950, 1800)
    high = _band_power(power, centres, 1800, 3800)
    gate = _smooth(speech.astype(np.float64), 2.0)
    if not speech.any():
        zeros = np.zeros(n, dtype=np.float32)
        return {"openness": zeros, "width": np.full(n, 0.5, np.float32), "rounding": zeros}

    loud_level = float(np.percentile(band[speech], 95))
    raw_open = np.clip((band - (loud_level - _OPEN_RANGE_DB)) / _OPEN_RANGE_DB, 0.0, 1.0)
    raw_open = raw_open**1.3  # consonants stay visibly less open than vowels
    # The first formant rises as the jaw drops (/a/ ~700 Hz, /i u/ ~300 Hz): open vowels
    # open wider than close ones at the same loudness.
    jaw = _db(_band_power(power, centres, 550, 1200), power=True) - _db(
        _band_power(power, centres, 150, 550), power=True
    )
    jaw_term = _sigmoid(1.2 * _standardise(jaw, speech))
    closure = np.clip((_dip_depth(band) - _DIP_START_DB) / (_DIP_FULL_DB - _DIP_START_DB), 0, 1)
    closure = _running_max(closure, 1)  # a closure holds for the whole dip, edges included
    shaped = raw_open * (0.6 + 0.4 * jaw_term) * (1.0 - closure) * gate
    widest = float(np.percentile(shaped[speech], 98))
    openness = _smooth(shaped / max(widest, 1e-6), _OPEN_SIGMA_HOPS)

    spread = _db(high, power=True) - _db(low + mid, power=True)
    rounded = _db(low, power=True) - _db(mid + high, power=True)
    # Spectral shape means little in weak or silent hops: weigh it by how open the mouth is.
    weight = gate * np.clip(2.0 * raw_open, 0.0, 1.0)
    width = 0.5 + (_sigmoid(1.2 * _standardise(spread, speech)) - 0.5) * weight
    rounding = _sigmoid(1.2 * _standardise(rounded, speech) - 1.0) * weight
    return {
        "openness": np.clip(openness, 0, 1).astype(np.float32),
        "width": np.clip(_smooth(width, 3.0), 0, 1).astype(np.float32),
        "rounding": np.clip(_smooth(rounding, 3.0), 0, 1).astype(np.float32),
    }


def _dip_depth(level: np.ndarray) -> np.ndarray:
    """How far each hop sits under the louder of its surroundings on *both* sides (dB)."""
    n = level.size
    reach = _DIP_REACH_HOPS
    padded = np.pad(level, reach, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, reach + 1)
    left = windows[:n].max(axis=1)  # hops j - reach .. j
    right = windows[reach : reach + n].max(axis=1)  # hops j .. j + reach
    return np.asarray(np.minimum(left, right) - level)


def _running_max(values: np.ndarray, reach: int) -> np.ndarray:
    padded = np.pad(values, reach, mode="edge")
    return np.asarray(np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1))


def _standardise(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    reference = values[where]
    median = float(np.median(reference))
    spread = 1.4826 * float(np.median(np.abs(reference - median))) + 1.0  # +1 dB: never /0
    return (values - median) / spread


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _smooth(values: np.ndarray, sigma_hops: float) -> np.ndarray:
    """Centred (zero-phase) Gaussian smoothing; edges are extended, not zero-padded."""
    radius = max(1, int(3 * sigma_hops))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_hops) ** 2)
    taps /= taps.sum()
    padded = np.pad(values.astype(np.float64), radius, mode="edge")
    return np.convolve(padded, taps, mode="valid")


def _per_frame(hop_values: np.ndarray, fps: float, n_frames: int, *, rest: float) -> np.ndarray:
    """Average hop values over each frame's interval [k / fps, (k + 1) / fps).

    The running integral of the piecewise-constant hop curve is interpolated at the frame
    edges, so frames shorter than a hop (fps > 100) and fractional overlaps come out exact.
    """
    edges = np.arange(n_frames + 1, dtype=np.float64) * (_HOPS_PER_SECOND / fps)
    extra = max(0, math.ceil(edges[-1]) - hop_values.size + 1)
    values = np.concatenate([hop_values.astype(np.float64), np.full(extra, rest)])
    integral = np.concatenate([[0.0], np.cumsum(values)])
    at_edges = np.interp(edges, np.arange(integral.size), integral)
    frames = np.diff(at_edges) / np.diff(edges)
    return np.clip(frames, 0.0, 1.0).astype(np.float32)


# --- Whisper ---------------------------------------------------------------------------------


def _local_checkpoint(model: str | Path) -> Path:
    # whisper.load_model("tiny") would download weights: only an existing file is accepted.
    path = Path(model)
    if not path.is_file():
        raise ValueError(f"whisper_model must be a local checkpoint file, got {str(model)!r}")
    return path


def _whisper_outputs(
    checkpoint: Path, x: np.ndarray, *, transcribe: bool = True
) -> tuple[np.ndarray, list[Word] | None]:
    """Encoder hidden states of every layer over 30 s windows (50 per second), and a timed
    transcript.

    1. Load the checkpoint on the CPU.
    2. Per 30 s window: log-mel of the zero-padded window, encoder (every layer's output
       kept, see :func:`_encoder_layers`), keep the frames that cover real audio (one per
       20 ms).
    3. Transcribe the array (not a path: no ffmpeg) with word timings, greedy, so a model
       that knows nothing still finishes quickly.
    """
    # torch and openai-whisper: only an analysis with a Whisper checkpoint needs them.
    import torch
    import whisper
    import whisper.audio

    model = whisper.load_model(str(checkpoint), device="cpu")
    model.eval()
    n_mels = model.dims.n_mels
    states: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, x.size, _WHISPER_CHUNK):
            chunk = torch.from_numpy(x[start : start + _WHISPER_CHUNK])
            mel = whisper.audio.log_mel_spectrogram(
                chunk, n_mels=n_mels, padding=_WHISPER_CHUNK - chunk.shape[0]
            )
            mel = whisper.audio.pad_or_trim(mel, whisper.audio.N_FRAMES)
            encoded = _encoder_layers(model.encoder, mel.unsqueeze(0))[0]
            keep = math.ceil(chunk.shape[0] / _SAMPLES_PER_ENCODER_FRAME)
            states.append(encoded[:keep].float().numpy())
    layers = np.concatenate(states, axis=0).astype(np.float32)
    if not transcribe:
        return layers, None
    result: dict[str, Any] = model.transcribe(
        x,
        word_timestamps=True,
        fp16=False,
        temperature=0.0,
        condition_on_previous_text=False,
        verbose=None,
    )
    words = [
        Word(
            text=str(word["word"]).strip(),
            start=float(word["start"]),
            end=float(word["end"]),
            probability=float(word.get("probability", 0.0)),
        )
        for segment in result.get("segments", [])
        for word in segment.get("words", [])
    ]
    return layers, words


def _encoder_layers(encoder: Any, mel: Any) -> Any:
    """Whisper's encoder forward pass, keeping every layer: (B, T, L + 1, D).

    The same steps as ``AudioEncoder.forward``; the stack is what Hugging Face's
    ``output_hidden_states=True`` returns (the embedding, then each block's output, the last
    one after the final layer norm), which is what MuseTalk's UNet was trained on.
    """
    # torch: only an analysis with a Whisper checkpoint needs it.
    import torch
    import torch.nn.functional as F

    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x))
    x = x.permute(0, 2, 1)
    x = (x + encoder.positional_embedding).to(x.dtype)
    states = [x]
    for block in encoder.blocks:
        x = block(x)
        states.append(x)
    states[-1] = encoder.ln_post(x)
    return torch.stack(states, dim=2)
