"""The ``lstui`` command's entry point: Ctrl-C while the command line's modules are
still loading (numpy, click: a second on a loaded machine) is "interrupted", as it is
later, not a 15-line traceback of the import."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from lstui.cli import main as command_line
    except KeyboardInterrupt:
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # (a second Ctrl-C: no traceback)
            signal.signal(signum, signal.SIG_IGN)
        sys.stderr.write("lstui: interrupted\n")
        raise SystemExit(130) from None
    command_line()
