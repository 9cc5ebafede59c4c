"""The words of a batch: transcripts (Whisper, once per audio) and what is made from them
(subtitle files through rendering.subtitle_formats, burned-in captions)."""
