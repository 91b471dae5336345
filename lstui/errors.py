"""The small family of errors a person can cause.

The CLI and the TUI turn each of these into one readable line (and exit code 2 for
bad input); anything else is a bug and stays a traceback.
"""

from __future__ import annotations


class LstuiError(Exception):
    """An error caused by input or circumstances, shown to a person as one line."""

    exit_code = 1


class BadInput(LstuiError):
    """Something a person typed or a file holds is wrong; says what would be right."""

    exit_code = 2


class GridError(BadInput):
    """A malformed grid spec such as ``--x 1:-1:5``."""


class ModelError(BadInput):
    """An unknown model name or a model factory that cannot be built."""


class CheckpointError(BadInput):
    """A missing, unreadable, untrusted or mismatched checkpoint."""


class DataError(BadInput):
    """An unknown data spec, a missing or malformed data folder."""


class SpecError(BadInput):
    """A job specification (flags, TOML file, form) that does not validate."""


class StoreError(LstuiError):
    """The job store cannot do what was asked (locked, missing job, bad transition)."""


class DatabaseLocked(StoreError):
    """Another process holds the database's write lock for longer than the store waits."""


class JobNotFound(StoreError):
    """No job has the given id."""

    exit_code = 2


class InvalidTransition(StoreError):
    """A job state change that the state table does not allow."""

    exit_code = 2


class DaemonError(LstuiError):
    """The scheduler daemon cannot start, stop or be reached."""
