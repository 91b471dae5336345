"""Signals that end a command (Ctrl-C, SIGTERM, a hang-up) held back for a short piece
of work that must not be cut in two."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_depth = 0  # holds open in the main thread: an inner hold (prune's, inside ``lstui rm``'s) adds nothing


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold :data:`ENDING_SIGNALS` until the block is done, then deliver the first that
    came to the handler it had (the command's: "interrupted"). Only in the main thread,
    where Python runs handlers; elsewhere (the TUI's actions) nothing changes. A signal
    ignored (``nohup``) stays ignored. A hold inside a hold is the outer one: the signal
    waits for the outer block."""
    global _depth
    if threading.current_thread() is not threading.main_thread() or _depth:
        yield
        return
    came: list[int] = []
    before = {}
    for signum in ENDING_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is signal.SIG_IGN or handler is None:
            continue
        before[signum] = handler
        signal.signal(signum, lambda got, _frame: came.append(got))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for signum, handler in before.items():
            signal.signal(signum, handler)
        if came:
            signal.raise_signal(came[0])
