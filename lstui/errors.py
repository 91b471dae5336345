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


class DatabaseDamaged(StoreError):
    """A page of the database file is damaged (``database disk image is malformed``):
    not something waiting or retrying mends."""


class JobNotFound(StoreError):
    """No job has the given id."""

    exit_code = 2


class InvalidTransition(StoreError):
    """A job state change that the state table does not allow."""

    exit_code = 2


class DaemonError(LstuiError):
    """The scheduler daemon cannot start, stop or be reached."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message ("" when it has none): what one line of a
    log, a job's error or a message may quote of an error from PyTorch, Ray or a
    person's code, whose messages run to many lines."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else ""


def described(exc: BaseException) -> str:
    """``exc`` in one line: ``Type: first line of its message``, or ``Type``."""
    line = first_line(exc)
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def module_file(module: object) -> str:
    """`` (/its/file.py)``: which file an import found, for a message saying it lacks a
    factory (a person's code.py beside the job lost to the standard library's code)."""
    file = getattr(module, "__file__", None)
    return f" ({file})" if file else ""
