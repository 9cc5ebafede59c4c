"""The user's library: uploads (size-limited handler, probe limits) and templates' face
checks."""
