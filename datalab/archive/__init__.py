"""Access to the observatory archive: the frames API client and the local frame cache."""
from datalab.archive.client import ArchiveClient, fetch_frame, find_frame, frame_headers
from datalab.archive.frame_cache import FrameCache

__all__ = ["ArchiveClient", "FrameCache", "fetch_frame", "find_frame", "frame_headers"]
