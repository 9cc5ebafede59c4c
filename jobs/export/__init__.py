"""One-click ZIP export: the archive (`archive`: what goes in, streamed with an exact size)
and the short-lived links that download it (`links`). Callers import from the package."""

from jobs.export.archive import (
    MAX_BATCHES_PER_EXPORT,
    CHUNK,
    SHA256_HEX,
    MANIFEST_FIELDS,
    ExportItem,
    ExportFolder,
    ExportArchive,
    export_archive,
    ExportLink,
    ExportLinkGone,
    export_link_create,
    export_link_open,
    export_link_revoke,
    export_links_valid,
    export_archive_for_admin,
    export_size,
)

__all__ = [
    "MAX_BATCHES_PER_EXPORT",
    "CHUNK",
    "SHA256_HEX",
    "MANIFEST_FIELDS",
    "ExportItem",
    "ExportFolder",
    "ExportArchive",
    "export_archive",
    "ExportLink",
    "ExportLinkGone",
    "export_link_create",
    "export_link_open",
    "export_link_revoke",
    "export_links_valid",
    "export_archive_for_admin",
    "export_size",
]
