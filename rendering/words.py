"""A timed word: what transcripts, subtitles and the audio analysis share.

Kept apart from ``rendering.audio`` (which loads PyAV) so the web process can build and
read subtitles without loading the media stack.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Word"]


@dataclass(frozen=True)
class Word:
    """One word (or one character of Chinese) and when it is said, in seconds."""

    text: str
    start: float
    end: float
    probability: float
