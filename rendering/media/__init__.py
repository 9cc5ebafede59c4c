"""Reading and writing audio and video with PyAV (FFmpeg's libraries; no ffmpeg binary).

Everything that opens a user's file goes through :func:`probe` first, which

- opens only regular local files through FFmpeg's ``file`` protocol, and only with the
  demuxers of the formats we accept, so an HLS playlist or a concat script renamed ``.mp4``
  cannot make FFmpeg open other files or URLs;
- checks size, duration and frame rate from the header *before* anything is decoded;
- turns every failure into a :class:`MediaError` whose message a user can act on.

Decoding is bounded too (:func:`iter_frames`, :func:`read_audio` stop at the limits whatever
the header claimed). Frames come out as RGB ``uint8`` arrays (H x W x 3) with the phone's
rotation applied and resampled to a constant frame rate. :class:`VideoWriter` writes H.264
yuv420p + AAC MP4 with the index at the front (faststart) and the AAC priming hidden by an
edit list, so the audio starts with the first frame.
"""

# probe, decode and encode were one module (rendering/media.py); every name it offered is
# still importable from here, so `from rendering.media import X` keeps working.
from rendering.media.decode import (
    apply_rotation,
    iter_frames,
    read_audio,
    read_audio_as_uploaded,
    read_frames,
)
from rendering.media.encode import VideoWriter, transcode, write_thumbnail
from rendering.media.join import JoinResult, join_segments
from rendering.media.probe import (
    DEFAULT_LIMITS,
    AudioInfo,
    Limits,
    MediaInfo,
    VideoInfo,
    default_fps,
    file_sha256,
    probe,
    probe_audio,
    probe_video,
)

__all__ = [
    "DEFAULT_LIMITS",
    "AudioInfo",
    "JoinResult",
    "Limits",
    "MediaInfo",
    "VideoInfo",
    "VideoWriter",
    "apply_rotation",
    "default_fps",
    "file_sha256",
    "iter_frames",
    "join_segments",
    "probe",
    "probe_audio",
    "probe_video",
    "read_audio",
    "read_audio_as_uploaded",
    "read_frames",
    "transcode",
    "write_thumbnail",
]
