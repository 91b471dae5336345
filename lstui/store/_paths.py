"""Where lstui keeps its state, and names that are safe as folder names."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

DB_NAME = "lstui.db"
SAFE_NAME_MAX = 60
NAME_MAX = 200

_UNSAFE_RUN = re.compile(r"(?:[^A-Za-z0-9._-]|\.\.+)+")


def default_home() -> Path:
    """``$LSTUI_HOME`` if set, else ``~/.local/share/lstui``."""
    env = os.environ.get("LSTUI_HOME")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".local" / "share" / "lstui"


def safe_name(name: str) -> str:
    """A job name reduced to ``[A-Za-z0-9._-]``, fit to be part of a folder name.

    Runs of other characters (slashes, spaces, control characters) and of dots become
    one ``-``;
    leading and trailing ``.``, ``-`` and ``_`` go, so ``"../x"`` cannot climb; the
    result has at most 60 characters and is never empty (``"job"``).
    """
    cleaned = _UNSAFE_RUN.sub("-", name).strip("._-")
    return cleaned[:SAFE_NAME_MAX].rstrip("._-") or "job"


def display_name(name: str) -> str:
    """A job name without control characters (no terminal escapes), at most 200 characters."""
    shown = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in name)
    return " ".join(shown.split())[:NAME_MAX] or "job"
