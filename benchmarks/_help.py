"""The benchmarks' ``--help``: each option's help ends with its default, in one style.

``parser = argparse.ArgumentParser(..., formatter_class=DefaultsHelp)`` appends
``(default: X)`` to every option's help that does not state its default itself. It
appends nothing to a flag (it takes no value), nor for a default of ``None``, which
stands for something the help must say in words (``(default: torch's)``). Floats that
are whole numbers show as such (``600``, not ``600.0``). An option shows in ``--help``
only with a help text, so each option has one.
"""

from __future__ import annotations

import argparse
import re

# the help already names the default ("(default: its own)", "%(default)s")
_STATED = re.compile(r"\bdefault\b|%\(default\)", re.IGNORECASE)


def shown(value: object) -> str:
    """A default as ``--help`` shows it: 600.0 as ``600``, 0.1 as ``0.1``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class DefaultsHelp(argparse.HelpFormatter):
    """``(default: X)`` after each option's help that does not name its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            action.option_strings
            and action.nargs != 0  # a flag: store_true, store_const, --help
            and action.default is not None
            and action.default is not argparse.SUPPRESS
            and not _STATED.search(text)
        ):
            text += " (default: " + shown(action.default).replace("%", "%%") + ")"
        return text
