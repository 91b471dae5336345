"""The TUI's screens, one per private module."""

from lstui.tui.screens._dialogs import ConfirmScreen, HelpScreen
from lstui.tui.screens._job import JobScreen, job_facts
from lstui.tui.screens._main import MainScreen
from lstui.tui.screens._new_job import NewJobScreen

__all__ = ["ConfirmScreen", "HelpScreen", "JobScreen", "MainScreen", "NewJobScreen", "job_facts"]
