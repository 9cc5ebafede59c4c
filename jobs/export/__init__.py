"""One-click ZIP export: the archive (`archive`: what goes in, streamed with an exact size)
and the short-lived links that download it (`links`). Callers import from the package."""

from jobs.export.archive import (
    CHUNK,
    MANIFEST_FIELDS,
    MAX_BATCHES_PER_EXPORT,
    SHA256_HEX,
    ExportArchive,
    ExportFolder,
    ExportItem,
    export_archive,
    export_archive_for_admin,
    export_size,
)
from jobs.export.links import (
    ExportLink,
    ExportLinkGone,
    ExportNotFound,
    export_link_create,
    export_link_open,
    export_link_revoke,
    export_links_valid,
)

__all__ = [
    "CHUNK",
    "MANIFEST_FIELDS",
    "MAX_BATCHES_PER_EXPORT",
    "SHA256_HEX",
    "ExportArchive",
    "ExportFolder",
    "ExportItem",
    "ExportLink",
    "ExportLinkGone",
    "ExportNotFound",
    "export_archive",
    "export_archive_for_admin",
    "export_link_create",
    "export_link_open",
    "export_link_revoke",
    "export_links_valid",
    "export_size",
]
