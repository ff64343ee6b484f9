"""Where export files live (the ``exports`` storage, outside MEDIA_ROOT), and removing files
that may already be gone."""

from __future__ import annotations

import logging

from django.core.files.storage import Storage, default_storage, storages

logger = logging.getLogger(__name__)


def export_storage() -> Storage:
    return storages["exports"]


def export_file_delete(name: str) -> None:
    """Delete an export's file; a blank name or a storage error only logs (the row is what counts)."""
    if not name:
        return
    try:
        export_storage().delete(name)
    except OSError:
        logger.warning("could not delete export file %s", name)


def member_files_delete(avatar: str, export_files: list[str]) -> None:
    """Delete a deleted member's avatar and export files (after the deletion committed)."""
    if avatar:
        try:
            default_storage.delete(avatar)
        except OSError:
            logger.warning("could not delete avatar %s", avatar)
    for name in export_files:
        export_file_delete(name)
