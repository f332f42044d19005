"""The job handlers. quiv calls them on its worker threads, never on the app's event loop."""

from .downloads import download
from .maintenance import sweep_scratch
from .reports import build_report

__all__ = ["build_report", "download", "sweep_scratch"]
