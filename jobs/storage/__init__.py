"""User files and their lifecycle: paths under MEDIA_ROOT, usage and quotas, safe deletion,
retention, cleanup (quota cleanup and the sweeper), and serving files to their owner."""
