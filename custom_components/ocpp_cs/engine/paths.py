"""A charger's URL path: the charge point id is its last segment."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def charge_point_id_from_path(path: str) -> str | None:
    """Return the charge point id: the last non-empty path segment, URL-decoded."""
    segments = [segment for segment in urlsplit(path).path.split("/") if segment]
    if not segments:
        return None
    charge_point_id = unquote(segments[-1]).strip()
    return charge_point_id or None


def last_path_segment(path: str) -> str | None:
    """Return the last non-empty path segment as the charger sent it (not decoded)."""
    segments = [segment for segment in urlsplit(path).path.split("/") if segment]
    return segments[-1] if segments else None
