"""The Textual app: ``lstui`` with no arguments opens it (see :func:`run_app`)."""

from lstui.tui.app import LstuiApp, SnapshotReady, run_app

__all__ = ["LstuiApp", "SnapshotReady", "run_app"]
