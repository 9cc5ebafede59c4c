"""HeyGem Studio's media pipeline: a plain Python library (no Django import).

Audio is analysed once (`rendering.audio`), faces are tracked once per template
(`rendering.faces`), and an engine (`rendering.engines`) re-renders each template's
lower face to speak the audio. See `rendering.pipeline` for the batch entry point.
"""

# The module-by-module API contract lives in rendering/API.md.
