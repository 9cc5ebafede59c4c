"""What every engine is: a name and a ``render`` that turns a template into a talking one.

Engines are stateless between renders apart from what their options configure (and, for
the neural engine, loaded weights), so one instance can serve a whole batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from rendering.audio import AudioFeatures
    from rendering.faces import FaceTrack

# How far under the chin (in face units, 1.0 = outer eye-corner distance) an engine may
# repaint: the classic engine paints inside it, rendering.quality measures outside it.
CHIN_MARGIN = 0.24

ProgressCallback = Callable[[float], None]
# Drawn onto output frame ``index`` before it is encoded (captions); returns a new array
# when it draws. Engines hand it to ``playback.template_output``.
FrameOverlay = Callable[[int, "np.ndarray"], "np.ndarray"]
CancelCheck = Callable[[], bool]


@dataclass
class RenderResult:
    """One finished render: the file, how many frames and seconds it holds, how long it took."""

    path: Path
    frames: int
    duration: float
    seconds: float
    # Share of output frames whose face the engine edited (at half strength or more).
    coverage: float = 1.0


class Engine(ABC):
    """A lip-sync engine.

    ``render`` writes ``out_path`` (H.264 + AAC MP4) whose length follows the audio: the
    template loops forward then backward when the audio is longer and is trimmed when it is
    shorter. It calls ``progress`` with a fraction in 0..1 (the caller throttles), checks
    ``should_cancel`` every few frames and raises ``RenderCanceled`` (leaving no file) when
    it answers True. ``overlay(index, frame)``, when given, is drawn on every output frame
    before it is encoded (burned-in captions, in the same encode).

    ``frame_range=(start, stop)`` writes only those frames of the output timeline, with no
    sound: one segment of a long video, rendered exactly as the same frames of the whole
    would be (see ``rendering.media.join_segments``).
    """

    name: str = ""
    # The Whisper checkpoint whose encoder layers this engine reads from AudioFeatures
    # (callers pass it to ``rendering.audio.analyse``); None for engines that need none.
    whisper_model: Path | None = None

    @abstractmethod
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
    ) -> RenderResult: ...


def ping_pong_index(output_index: int, n_template: int) -> int:
    """The template frame shown at ``output_index``: 0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...

    Playing back and forth instead of jumping from the last frame to the first avoids a
    visible cut when the audio outlasts the template.
    """
    if n_template <= 1:
        return 0
    period = 2 * n_template - 2
    k = output_index % period
    return k if k < n_template else period - k


def output_frame_count(duration: float, fps: float) -> int:
    """How many frames an output following ``duration`` seconds of audio has at ``fps``."""
    return max(1, round(duration * fps))
